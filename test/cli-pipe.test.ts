// `ironlog … | head`: when the reader of stdout goes away, the command ends quietly (exit 0),
// like a C tool killed by SIGPIPE, instead of crashing with an unhandled EPIPE.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const kBin = fileURLToPath(new URL('../bin/ironlog.js', import.meta.url));

it('a closed stdout pipe ends the command with exit 0 and no EPIPE crash', async () => {
  for (const args of [['--help'], ['torture', '--help'], ['serve', '--help']]) {
    const child = spawn(process.execPath, [kBin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    // The reader is gone before the command writes anything (as after `head` exited): every
    // write to stdout fails with EPIPE.
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(stderr, args.join(' ')).not.toMatch(/EPIPE|Unhandled/);
    expect(code, args.join(' ')).toBe(0);
  }
});
