// A `walFsModule` that returns node:fs unchanged: selects the writer's inline zero fill
// (bench/zero-fill-ab.mjs).
export function createWalFs(base) {
  return base;
}
