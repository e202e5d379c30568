#!/usr/bin/env node
// The `runbook` command. Runs the TypeScript sources through tsx, so a fresh clone needs no build step.
import { register } from 'tsx/esm/api';

register();
await import('../../functions/adapters/local/polyfills.ts');
const { main } = await import('../cli.ts');
process.exitCode = await main(process.argv);
