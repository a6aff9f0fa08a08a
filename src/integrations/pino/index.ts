/**
 * `ironlog/pino`: pino's log lines into a durable WAL.
 *
 * ```ts
 * // In a transport thread (pino's worker):
 * const transport = pino.transport({ target: 'ironlog/pino', options: { dir: './audit' } });
 * const logger = pino(transport);
 * logger.info({ audit: true, user: 'u1' }, 'login');
 * logger.flush((err) => { ... });   // called back once every line logged before is fdatasync'd
 *
 * // In this thread:
 * const logger = pino(ironlogDestination({ dir: './audit' }));
 * ```
 * What is durable when, and what a SIGKILL can lose: `docs/integrations/pino.md`.
 * @packageDocumentation
 */
export type { LogFilter, LogFilterSpec } from '../common/log-filter.js';
export type { EventFilter, SharedSinkOptions, SinkSource } from '../common/sink-source.js';
export {
  IronlogDestination,
  type IronlogDestinationAdapterOptions,
  type IronlogDestinationEvents,
  type IronlogDestinationOptions,
  ironlogDestination,
} from './destination.js';
export { default, type IronlogPinoTransportOptions } from './transport.js';
