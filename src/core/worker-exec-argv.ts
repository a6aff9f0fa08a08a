/**
 * The Node options ironlog's own worker threads start with: the parent's `process.execArgv`
 * (what `new Worker` inherits by default: `--inspect`, `--max-old-space-size`, loaders, ...)
 * without the options that only make sense for the parent's entry point. A worker's entry is
 * always one of ironlog's compiled `.js` files, and Node refuses to start a worker whose inherited
 * options say how to read a string entry (`--input-type`, as in `node --input-type=module -e
 * "..."`: `ERR_INPUT_TYPE_NOT_ALLOWED`).
 */

/** `process.execArgv` (or `parent`) minus `--input-type=X` and `--input-type X`. */
export function workerExecArgv(parent: readonly string[] = process.execArgv): string[] {
  const out: string[] = [];
  for (let i = 0; i < parent.length; i++) {
    const arg = parent[i] as string;
    if (arg === '--input-type') {
      i++; // its value
      continue;
    }
    if (arg.startsWith('--input-type=')) continue;
    out.push(arg);
  }
  return out;
}
