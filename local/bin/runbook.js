#!/usr/bin/env node
// The `runbook` command. Runs the TypeScript sources through tsx, so a fresh clone needs no build step;
// `runbook serve`, which runs for days, builds them with esbuild at its start instead (serve-bundle.js).

// The AWS SDK warns on Node 20 that releases from 2027 need Node 22; the lockfile pins today's
// versions and Lambda runs nodejs22.x, so for the CLI the warning is only noise (the SDK's own switch).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// `runbook graph … | head`: a reader that closes the pipe early ends the command quietly, as with any
// Unix tool, instead of an EPIPE stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

const built =
  process.argv[2] === 'serve' ? await (await import('./serve-bundle.js')).buildServe() : undefined;
if (built) {
  try {
    const { main } = await import(built.url);
    process.exitCode = await main(process.argv);
  } finally {
    built.remove();
  }
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../../functions/adapters/local/polyfills.ts');
  const { main } = await import('../cli.ts');
  process.exitCode = await main(process.argv);
}
