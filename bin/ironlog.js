#!/usr/bin/env node
// The `ironlog` command. The implementation is compiled TypeScript in dist/cli.
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv);
