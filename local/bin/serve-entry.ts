// What `runbook serve` runs once esbuild has built it (local/bin/serve-bundle.js): the same CLI.
import '../../functions/adapters/local/polyfills.ts';

export { main } from '../cli.ts';
