import * as fs from 'node:fs';
import type { Command } from 'commander';

/** The version in package.json. */
export function packageVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

export function registerVersion(program: Command): void {
  program
    .command('version')
    .description('print the ironlog version and the Node version')
    .addHelpText('after', '\nExample:\n  $ ironlog version\n  ironlog 0.1.0 (node v20.19.0)')
    .action(() => {
      process.stdout.write(`ironlog ${packageVersion()} (node ${process.version})\n`);
    });
}
