/**
 * `ironlog export --format parquet`, read back with an independent Parquet implementation
 * (DuckDB, through @duckdb/node-api) and compared cell by cell with what was emitted.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openSink, readWal } from '../dist/main/index.js';
import { runCli } from './helpers/cli.js';
import { TempDir } from './helpers/tmp.js';

let tmp: TempDir;
let duck: DuckDBInstance;
let db: DuckDBConnection;
beforeAll(async () => {
  duck = await DuckDBInstance.create(':memory:', { threads: '1' });
  db = await duck.connect();
});
afterAll(() => {
  db.closeSync();
  duck.closeSync();
});
beforeEach(() => {
  tmp = new TempDir('ironlog-parquet-');
});
afterEach(() => {
  tmp.dispose();
});

const kStart = Date.UTC(2026, 4, 1, 12, 0, 0);
const kCount = 300;

/** The i-th event: fields of every kind, some absent, one that changes kind (`mixed`). */
function eventOf(i: number): Record<string, unknown> {
  const e: Record<string, unknown> = {
    i,
    user: { id: `u${i % 7}`, name: `Zoë "${i}"` },
    amount: i % 3 === 0 ? i : i + 0.25,
    ok: i % 2 === 0,
    at: new Date(kStart + i * 1500).toISOString(),
    tags: i % 5 === 0 ? [] : ['a', i],
    mixed: i % 4 === 0 ? 'text' : i,
    pad: 'p'.repeat(300 + (i % 50)),
  };
  if (i % 10 === 3) delete e.user;
  return e;
}

/**
 * 300 events from two writers: `alpha` writes the first 120 into small segments, then `beta`
 * reopens the directory (continuing alpha's open segment until it rolls), so rows carry both nodeIds.
 */
async function makeWal(dir: string): Promise<void> {
  let now = kStart + 0.123;
  for (const [nodeId, from, to] of [
    ['alpha', 0, 120],
    ['beta', 120, kCount],
  ] as const) {
    const sink = await openSink({ dir, nodeId, clock: () => now, ringBytes: 64 * 1024, segmentBytes: 64 * 1024 });
    for (let i = from; i < to; i += 10) {
      await sink.emitBatch(Array.from({ length: Math.min(10, to - i) }, (_, k) => eventOf(i + k)));
      now += 999.001;
    }
    await sink.close();
  }
}

/** nodeId of each seq, read straight from the segment headers (bytes 32-56, zero padded). */
function writerIds(dir: string): Array<{ firstSeq: number; writerId: string }> {
  return fs
    .readdirSync(dir)
    .filter((n) => /^\d{20}\.wal$/.test(n))
    .sort()
    .map((n) => {
      const header = Buffer.alloc(56);
      const fd = fs.openSync(path.join(dir, n), 'r');
      fs.readSync(fd, header, 0, 56, 0);
      fs.closeSync(fd);
      return {
        firstSeq: Number(n.slice(0, 20)),
        writerId: header.subarray(32, 56).toString('utf8').replace(/\0+$/, ''),
      };
    });
}

function nodeIdOf(ids: Array<{ firstSeq: number; writerId: string }>, seq: number): string {
  let w = '';
  for (const s of ids) if (s.firstSeq <= seq) w = s.writerId;
  return w;
}

async function rows(sql: string): Promise<Array<Record<string, unknown>>> {
  return (await db.runAndReadAll(sql)).getRowObjectsJS() as Array<Record<string, unknown>>;
}

function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

describe('ironlog export --format parquet', () => {
  it('writes typed columns that DuckDB reads back exactly as emitted, in row groups', async () => {
    const dir = tmp.join('wal');
    await makeWal(dir);
    const ids = writerIds(dir);
    expect(new Set(ids.map((s) => s.writerId))).toEqual(new Set(['alpha', 'beta']));
    const out = tmp.join('audit.parquet');
    fs.writeFileSync(out, 'an older export, replaced atomically');
    const columns = [
      'user.id',
      'amount',
      'ok',
      'tags',
      'mixed',
      'when=at:timestamp',
      'n=i:int64',
      'label=user.name:string',
      'missing.field',
    ].join(',');
    const r = await runCli([
      'export',
      '--dir',
      dir,
      '--format',
      'parquet',
      '--columns',
      columns,
      '--row-group-rows',
      '37',
      '--output',
      out,
    ]);
    expect(r.stderr).toBe(`exported ${kCount} records to ${out}\n`);
    expect(r.code).toBe(0);
    expect(fs.readdirSync(tmp.path).sort()).toEqual(['audit.parquet', 'wal']);

    const file = sqlString(out);
    const schema = await rows(
      `select name, type, converted_type, logical_type, repetition_type from parquet_schema(${file}) where name <> 'root'`,
    );
    const byName = new Map(schema.map((s) => [s.name, s]));
    expect([...byName.keys()]).toEqual([
      'seq',
      'time',
      'nodeId',
      'event',
      'user.id',
      'amount',
      'ok',
      'tags',
      'mixed',
      'when',
      'n',
      'label',
      'missing.field',
    ]);
    expect(byName.get('seq')).toMatchObject({ type: 'INT64', repetition_type: 'REQUIRED' });
    expect(byName.get('time')).toMatchObject({ type: 'INT64', converted_type: 'TIMESTAMP_MICROS' });
    expect(String(byName.get('time')?.logical_type)).toMatch(/isAdjustedToUTC=1.*MICROS=MicroSeconds/);
    expect(byName.get('nodeId')).toMatchObject({ type: 'BYTE_ARRAY', converted_type: 'UTF8' });
    expect(byName.get('event')).toMatchObject({ type: 'BYTE_ARRAY', converted_type: 'JSON' });
    // Inferred: strings, numbers with and without fractions, booleans, arrays, a mix of kinds.
    expect(byName.get('user.id')).toMatchObject({ converted_type: 'UTF8', repetition_type: 'OPTIONAL' });
    expect(byName.get('amount')).toMatchObject({ type: 'DOUBLE' });
    expect(byName.get('ok')).toMatchObject({ type: 'BOOLEAN' });
    expect(byName.get('tags')).toMatchObject({ converted_type: 'JSON' });
    expect(byName.get('mixed')).toMatchObject({ converted_type: 'JSON' });
    expect(byName.get('when')).toMatchObject({ type: 'INT64', converted_type: 'TIMESTAMP_MICROS' });
    expect(byName.get('n')).toMatchObject({ type: 'INT64' });
    expect(byName.get('label')).toMatchObject({ converted_type: 'UTF8' });
    expect(byName.get('missing.field')).toMatchObject({ converted_type: 'UTF8' });

    const groups = await rows(`select distinct row_group_id, row_group_num_rows from parquet_metadata(${file})`);
    expect(groups.length).toBe(Math.ceil(kCount / 37));
    expect(groups.every((g) => Number(g.row_group_num_rows) <= 37)).toBe(true);

    const got = await rows(
      `select seq, epoch_us(time) as time_us, nodeId, event, "user.id" as uid, amount, ok, tags, mixed,
              epoch_us("when") as when_us, n, label, "missing.field" as missing
       from read_parquet(${file}) order by seq`,
    );
    const stored = [];
    for await (const rec of readWal(dir)) stored.push(rec);
    expect(got.length).toBe(kCount);
    expect(stored.length).toBe(kCount);
    for (const [k, row] of got.entries()) {
      const e = eventOf(k);
      const rec = stored[k];
      const user = e.user as { id: string; name: string } | undefined;
      expect(row).toEqual({
        seq: BigInt(k + 1),
        time_us: BigInt(rec?.timeUs ?? -1),
        nodeId: nodeIdOf(ids, k + 1),
        event: JSON.stringify(e),
        uid: user?.id ?? null,
        amount: e.amount,
        ok: e.ok,
        tags: JSON.stringify(e.tags),
        mixed: JSON.stringify(e.mixed),
        when_us: BigInt(Date.parse(e.at as string)) * 1000n,
        n: BigInt(k),
        label: user?.name ?? null,
        missing: null,
      });
    }
    // The producer's clock had a fraction of a millisecond: the microseconds survive.
    expect(got[0]?.time_us).toBe(BigInt(Math.round((kStart + 0.123) * 1000)));
  });

  it('exports the filtered records of a seq range, and an empty range as a valid file with no rows', async () => {
    const dir = tmp.join('wal');
    await makeWal(dir);
    const part = tmp.join('part.parquet');
    const r = await runCli([
      'export',
      '--dir',
      dir,
      '--format',
      'parquet',
      '--from-seq',
      '50',
      '--to-seq',
      '149',
      '--filter',
      'ok == true',
      '--columns',
      'amount',
      '--output',
      part,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const got = await rows(`select seq, amount from read_parquet(${sqlString(part)}) order by seq`);
    const want = [];
    for (let seq = 50; seq <= 149; seq++)
      if (eventOf(seq - 1).ok) want.push({ seq: BigInt(seq), amount: eventOf(seq - 1).amount });
    expect(got).toEqual(want);

    for (const [name, args] of [
      ['beyond.parquet', ['--from-seq', '100000']],
      ['none.parquet', ['--filter', 'i < 0', '--columns', 'amount,user.id:string']],
    ] as const) {
      const out = tmp.join(name);
      const e = await runCli(['export', '--dir', dir, '--format', 'parquet', ...args, '--output', out]);
      expect(e.code, e.stderr).toBe(0);
      expect(e.stderr).toBe(`exported 0 records to ${out}\n`);
      expect(await rows(`select count(*) as n from read_parquet(${sqlString(out)})`)).toEqual([{ n: 0n }]);
      const names = (await rows(`select name from parquet_schema(${sqlString(out)}) where name <> 'root'`)).map(
        (s) => s.name,
      );
      expect(names.slice(0, 4)).toEqual(['seq', 'time', 'nodeId', 'event']);
    }
    // An empty WAL directory is an empty range too.
    fs.mkdirSync(tmp.join('empty'));
    const out = tmp.join('empty.parquet');
    const e = await runCli(['export', '--dir', tmp.join('empty'), '--format', 'parquet', '--output', out]);
    expect(e.code, e.stderr).toBe(0);
    expect(await rows(`select count(*) as n from read_parquet(${sqlString(out)})`)).toEqual([{ n: 0n }]);
  });

  it('refuses a bad --columns with a typed error (exit 2) and leaves no file behind', async () => {
    const dir = tmp.join('wal');
    await makeWal(dir);
    const out = tmp.join('bad.parquet');
    // Every rule is covered by src/cli/parquet-columns.test.ts; these check the CLI's handling.
    for (const [columns, message] of [
      ['amount:decimal', /unknown type "decimal"/],
      ['amount,,ok', /entry 2 is empty/],
      ['Event=user.id', /already the fixed column event/],
      // A declared type the data does not fit names the record instead of writing a null.
      ['user.id:int64', /the record with seq 1 has the string "u0" there, not a int64/],
      ['mixed:double', /the record with seq 1 has the string "text" there/],
    ] as const) {
      const r = await runCli(['export', '--dir', dir, '--format', 'parquet', '--columns', columns, '--output', out]);
      expect(r.code, columns).toBe(2);
      expect(r.stderr).toMatch(/^ironlog: ERR_IRONLOG_INVALID_ARGUMENT: --columns: /);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(fs.readdirSync(tmp.path)).toEqual(['wal']);
    }
    const csv = await runCli(['export', '--dir', dir, '--format', 'csv', '--row-group-rows', '10', '--output', out]);
    expect(csv.code).toBe(2);
    expect(csv.stderr).toBe(
      'ironlog: ERR_IRONLOG_INVALID_ARGUMENT: --row-group-rows applies to --format parquet only\n',
    );
    // The output is checked before anything is read, as for the other formats.
    const onDir = await runCli(['export', '--dir', dir, '--format', 'parquet', '--output', tmp.path]);
    expect(onDir.code).toBe(2);
    expect(onDir.stderr).toBe(
      `ironlog: ERR_IRONLOG_INVALID_ARGUMENT: --output ${tmp.path} is a directory: give a file name\n`,
    );
  });

  it('streams a WAL larger than one row group to stdout as the same Parquet bytes as the file', async () => {
    const dir = tmp.join('wal');
    await makeWal(dir);
    const file = tmp.join('f.parquet');
    const a = await runCli(['export', '--dir', dir, '--format', 'parquet', '--row-group-rows', '64', '--output', file]);
    expect(a.code, a.stderr).toBe(0);
    const piped = tmp.join('piped.parquet');
    const { spawnSync } = await import('node:child_process');
    const b = spawnSync(
      process.execPath,
      ['bin/ironlog.js', 'export', '--dir', dir, '--format', 'parquet', '--row-group-rows', '64', '--output', '-'],
      { maxBuffer: 64 * 1024 * 1024 },
    );
    expect(b.status, b.stderr.toString()).toBe(0);
    fs.writeFileSync(piped, b.stdout);
    expect(b.stdout.equals(fs.readFileSync(file))).toBe(true);
    expect(
      await rows(`select count(*) as n, min(seq) as lo, max(seq) as hi from read_parquet(${sqlString(piped)})`),
    ).toEqual([{ n: BigInt(kCount), lo: 1n, hi: BigInt(kCount) }]);
  });
  it('decrypts encrypted records with the keys (as the other formats do), marks them with --no-decrypt, and refuses without keys', async () => {
    const dir = tmp.join('wal');
    const keyFile = tmp.join('master-keys.json');
    fs.writeFileSync(keyFile, JSON.stringify({ keys: { m1: randomBytes(32).toString('base64') } }));
    const keyProvider = { type: 'file' as const, path: keyFile };
    const subjectEncryption = { subjectPath: 'user.id', fields: ['user.name'] };
    const sink = await openSink({ dir, keyProvider, encryption: {}, subjectEncryption });
    const sent = Array.from({ length: 20 }, (_, i) => ({ i, user: { id: `u${i % 3}`, name: `Name ${i}` } }));
    await sink.emitBatch(sent);
    await sink.close();

    const out = tmp.join('clear.parquet');
    const args = ['export', '--dir', dir, '--format', 'parquet', '--columns', 'name=user.name:string', '--output'];
    const clear = await runCli([...args, out, '--key-file', keyFile]);
    expect(clear.stderr).toBe(`exported 20 records to ${out}\n`);
    const got = await rows(`select seq, event, name from read_parquet(${sqlString(out)}) order by seq`);
    expect(got.map((r) => JSON.parse(r.event as string))).toEqual(sent);
    expect(got.map((r) => r.name)).toEqual(sent.map((e) => e.user.name));

    const marked = tmp.join('marked.parquet');
    expect((await runCli([...args, marked, '--no-decrypt'])).code).toBe(0);
    const m = await rows(`select event from read_parquet(${sqlString(marked)}) order by seq`);
    expect(m).toHaveLength(20);
    for (const r of m) expect(r.event).not.toContain('Name ');

    const refused = tmp.join('refused.parquet');
    const noKeys = await runCli([...args, refused], { IRONLOG_KEYS: '' });
    expect(noKeys.code).toBe(2);
    expect(noKeys.stderr).toMatch(/^ironlog: ERR_IRONLOG_KEY_UNAVAILABLE: /);
    expect(fs.existsSync(refused)).toBe(false);
    expect(fs.existsSync(`${refused}.partial`)).toBe(false);
  });
});
