/**
 * Temporary directories for tests: the one helper every test uses (co-located tests import it
 * from here, the tests under test/ through test/helpers/tmp.ts). Each is one `mkdtemp` under the
 * OS temp directory, removed with everything in it by `dispose()`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** One temporary directory, removed by {@link TempDir.dispose} (call it in `afterEach`/`afterAll`). */
export class TempDir {
  /** Absolute path of the directory. */
  readonly path: string;

  constructor(prefix = 'ironlog-test-') {
    this.path = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  }

  /** A path inside the directory. */
  join(...parts: string[]): string {
    return path.join(this.path, ...parts);
  }

  /** Removes the directory and everything in it (idempotent). */
  dispose(): void {
    fs.rmSync(this.path, { recursive: true, force: true });
  }
}

/** Hands out temporary directories and removes all of them at once (`afterEach(() => dirs.disposeAll())`). */
export class TempDirs {
  readonly #dirs: TempDir[] = [];

  /** A fresh directory; returns its path. */
  make(prefix = 'ironlog-test-'): string {
    const d = new TempDir(prefix);
    this.#dirs.push(d);
    return d.path;
  }

  /** Removes every directory handed out so far. */
  disposeAll(): void {
    for (const d of this.#dirs.splice(0)) d.dispose();
  }
}
