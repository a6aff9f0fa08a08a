/**
 * When the writer fsyncs, shared by the options (main), the writer's `workerData` (workers) and
 * the commit loop (groupcommit): `batch` (default, one fdatasync per drained batch), `always`
 * (one per record), `interval` (every `syncIntervalMs`, acks still wait for it), `none` (acks
 * after the write, never durable: benchmarks only). See `docs/durability.md`.
 */
export type SyncMode = 'batch' | 'always' | 'interval' | 'none';
