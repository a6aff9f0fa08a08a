/**
 * A local or NFS directory as a backend. Objects are files under `dir/<key>`; their metadata sits
 * next to them in `<key>.meta.json`. Writes are crash-safe and create-only: write a temp file,
 * fsync it, `link()` it to the final name (fails with EEXIST instead of overwriting, unlike
 * rename), unlink the temp, fsync the directory.
 */
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { errnoCode } from '../core/errors.js';
import { fsyncDir } from '../wal/fs.js';
import { backendError, backendName, sha256Hex, verifyError } from './common.js';
import {
  type Backend,
  type FsBackendConfig,
  kMetaKeys,
  type ObjectInfo,
  type PutOptions,
  type PutResult,
} from './types.js';

const kMetaSuffix = '.meta.json';
const kTmpMarker = '.ironlog-tmp-';

async function writeFileSynced(file: string, data: Uint8Array): Promise<void> {
  const fh = await fsp.open(file, 'wx');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** {@link Backend} over a directory. */
export class FsBackend implements Backend {
  readonly name: string;
  readonly type = 'fs' as const;
  readonly #root: string;

  constructor(config: FsBackendConfig) {
    this.name = backendName(config);
    this.#root = path.resolve(config.dir);
  }

  #path(key: string): string {
    const p = path.resolve(this.#root, key);
    if (!p.startsWith(this.#root + path.sep)) throw backendError(this.name, 'resolve', key, 'key escapes the root');
    return p;
  }

  async put(key: string, body: Buffer, opts: PutOptions): Promise<PutResult> {
    const file = this.#path(key);
    const dir = path.dirname(file);
    const tag = `${kTmpMarker}${process.pid}-${randomBytes(6).toString('hex')}`;
    const tmp = path.join(dir, `.${path.basename(file)}${tag}`);
    const metaTmp = path.join(dir, `.${path.basename(file)}${kMetaSuffix}${tag}`);
    try {
      await fsp.mkdir(dir, { recursive: true });
      if (opts.overwrite) {
        // A mutable object: data first, then its metadata, each replaced atomically by rename.
        // A reader between the two renames sees new bytes with the old SHA-256 (readers of the
        // mutable tlog objects check their signatures and tiles instead of this metadata).
        await writeFileSynced(tmp, body);
        await fsp.rename(tmp, file);
        const meta = { ...opts.metadata, [kMetaKeys.SHA256]: opts.sha256 };
        await writeFileSynced(metaTmp, Buffer.from(JSON.stringify(meta)));
        await fsp.rename(metaTmp, `${file}${kMetaSuffix}`);
      } else {
        // Never touch the metadata of an object that exists: it is someone's evidence. With the data
        // file absent, a metadata file can only be a leftover of our own crashed attempt.
        if (
          await fsp.stat(file).then(
            () => true,
            () => false,
          )
        ) {
          throw Object.assign(new Error(`${file} exists`), { code: 'EEXIST' });
        }
        const meta = { ...opts.metadata, [kMetaKeys.SHA256]: opts.sha256 };
        await writeFileSynced(metaTmp, Buffer.from(JSON.stringify(meta)));
        await fsp.rename(metaTmp, `${file}${kMetaSuffix}`);
        await writeFileSynced(tmp, body);
        // link() is create-only: an existing object is never replaced.
        await fsp.link(tmp, file);
        await fsp.unlink(tmp);
      }
      fsyncDir(dir);
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      await fsp.rm(metaTmp, { force: true });
      throw backendError(this.name, 'put', key, err);
    }
    const back = await this.get(key);
    if (back.length !== body.length || sha256Hex(back) !== opts.sha256) {
      throw verifyError(this.name, key, 'read-back SHA-256 differs');
    }
    return { verifiedBy: 'read-back' };
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const file = this.#path(key);
    try {
      const st = await fsp.stat(file);
      let metadata: Record<string, string> = {};
      try {
        metadata = JSON.parse(await fsp.readFile(`${file}${kMetaSuffix}`, 'utf8')) as Record<string, string>;
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err;
      }
      return { key, bytes: st.size, sha256: metadata[kMetaKeys.SHA256], md5: undefined, metadata };
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw backendError(this.name, 'head', key, err);
    }
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await fsp.readFile(this.#path(key));
    } catch (err) {
      throw backendError(this.name, 'get', key, err);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string, rel: string): Promise<void> => {
      let entries: import('node:fs').Dirent[];
      try {
        entries = await fsp.readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') return;
        throw err;
      }
      for (const e of entries) {
        const key = rel === '' ? e.name : `${rel}/${e.name}`;
        if (e.isDirectory()) await walk(path.join(dir, e.name), key);
        else if (!e.name.endsWith(kMetaSuffix) && !e.name.includes(kTmpMarker) && key.startsWith(prefix)) out.push(key);
      }
    };
    try {
      await walk(this.#root, '');
    } catch (err) {
      throw backendError(this.name, 'list', prefix, err);
    }
    return out.sort();
  }

  async delete(key: string): Promise<void> {
    const file = this.#path(key);
    try {
      await fsp.rm(file, { force: true });
      await fsp.rm(`${file}${kMetaSuffix}`, { force: true });
      fsyncDir(path.dirname(file));
    } catch (err) {
      throw backendError(this.name, 'delete', key, err);
    }
  }

  async close(): Promise<void> {}
}
