import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { BuildOptions, Metafile } from 'esbuild';

/**
 * How every Lambda is bundled, in a module without aws-cdk-lib: infra calls it from the asset's local
 * bundling, and the bundle benchmark (test/bench/bundles.bench.ts) builds exactly what `cdk synth` builds.
 */

/**
 * ESM bundles: some dependencies are CommonJS and `require` Node built-ins, which an ESM bundle only
 * has through createRequire.
 */
export const ESM_REQUIRE_SHIM =
  "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);";

/** The entry file Lambda loads (handler `index.handler`); the chunks it imports on demand sit in chunks/. */
export const BUNDLE_ENTRY_FILE = 'index.mjs';
export const BUNDLE_CHUNK_DIR = 'chunks';

/** A function's entry only imports its wiring chunk (a top-level await during init): it stays this small. */
export const BUNDLE_ENTRY_BUDGET_BYTES = 2 * 1024;

/**
 * The packages left to the Lambda runtime unless `bundleAwsSdk` is set: nodejs22.x ships the AWS SDK v3
 * with its Smithy packages (AWS patches them), as CDK's NodejsFunction assumes for Node 18+ runtimes.
 * Everything else only the SDK imports is then never reached by esbuild, so it is left out too.
 */
export const AWS_SDK_EXTERNALS = ['@aws-sdk/*', '@smithy/*'] as const;

/** The CDK context flag (`cdk deploy -c bundleAwsSdk=true`) that bundles the lockfile's SDK instead. */
export const BUNDLE_AWS_SDK_CONTEXT = 'bundleAwsSdk';

/**
 * The flag's value from CDK context: a boolean in cdk.json, a string from `-c bundleAwsSdk=true`.
 * Anything else is refused, so a typo cannot silently deploy the other way.
 */
export function bundleAwsSdkFrom(value: unknown): boolean {
  if (value === undefined || value === false || value === 'false') return false;
  if (value === true || value === 'true') return true;
  throw new Error(
    `CDK context ${BUNDLE_AWS_SDK_CONTEXT}: ${JSON.stringify(value)} is neither true nor false; use -c ${BUNDLE_AWS_SDK_CONTEXT}=true to bundle the lockfile's AWS SDK, or leave it false (cdk.json) to use the runtime's`,
  );
}

/**
 * The issue-14 goal for each function's code (bytes); BENCHMARKS.md records how far each is from it.
 */
export const BUNDLE_GOAL_BYTES = 250 * 1024;

/**
 * What each function's JavaScript (entry and every chunk, the AWS SDK left to the runtime) may weigh, in
 * bytes: the measured size when the budgets were set plus ~5 %, so the bundling test fails when a change drags in a dependency
 * (zod's locales, the YAML parser, another function's wiring). Lower them as bundles shrink.
 */
export const BUNDLE_CODE_BUDGET_BYTES = {
  ingest: 199_000,
  classifier: 456_000,
  stepRunnerReadOnly: 2_934_000,
  approvalRequest: 460_000,
  approvalWeb: 488_000,
  control: 622_000,
  learningRecorder: 497_000,
} as const;

/**
 * What the step runner's init may load (its entry, wiring and their static imports; not the tool
 * families): measured plus ~5 %. Every other function loads all its code at init (the budgets above).
 */
export const STEP_RUNNER_INIT_BUDGET_BYTES = 541_000;

export interface BundleOptions {
  metafile?: boolean;
  /** Bundle the lockfile's AWS SDK (pinned, tested with the code) instead of importing the runtime's. */
  bundleAwsSdk?: boolean;
}

/**
 * How the runtime's SDK is loaded: by `require` (the banner's), through a one-line CommonJS module per
 * package. The SDK's packages are CommonJS; importing them as ES modules makes Node detect each file's
 * format and scan it for named exports, which made their import ~2x slower than requiring them. The
 * SDK declares its packages side-effect free (`"sideEffects": false`, all but @aws-sdk/lib-dynamodb,
 * whose one module only defines the document client and its commands), and so are these modules:
 * esbuild drops a package nothing uses. (Left as external imports, every function loaded every SDK
 * client the shared wiring module names: the ingest seven, using two.) The pattern is AWS_SDK_EXTERNALS'.
 */
const RUNTIME_SDK = /^@(aws-sdk|smithy)\//;

/**
 * Runs in a worker: esbuild's plugins need its asynchronous API, and CDK's local bundling is synchronous,
 * so the caller blocks on a shared flag until the worker has posted the result.
 */
const BUILD_WORKER = `
const { workerData } = require('node:worker_threads');
const { esbuildUrl, options, external, signal, port } = workerData;
(async () => {
  let message;
  try {
    const { build } = await import(esbuildUrl);
    const filter = new RegExp(${JSON.stringify(RUNTIME_SDK.source)});
    const namespace = 'runtime-sdk';
    const plugins = external
      ? [{ name: namespace, setup(b) {
          b.onResolve({ filter }, (args) =>
            args.namespace === namespace
              ? { path: args.path, external: true }
              : { path: args.path, namespace, sideEffects: false });
          b.onLoad({ filter: /.*/, namespace }, (args) => ({
            contents: 'module.exports = require(' + JSON.stringify(args.path) + ');',
            loader: 'js',
          }));
        } }]
      : [];
    const result = await build({ ...options, plugins });
    message = { metafile: result.metafile };
  } catch (error) {
    message = { error: String((error && error.message) || error) };
  }
  port.postMessage(message);
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
})();
`;

/** esbuild's build with plugins, run to completion before returning (see BUILD_WORKER). */
function buildBlocking(options: BuildOptions, external: boolean): Metafile | undefined {
  const signal = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  const esbuildUrl = pathToFileURL(createRequire(import.meta.url).resolve('esbuild')).href;
  const worker = new Worker(BUILD_WORKER, {
    eval: true,
    workerData: { esbuildUrl, options, external, signal, port: port2 },
    transferList: [port2],
  });
  try {
    Atomics.wait(signal, 0, 0);
    const message = receiveMessageOnPort(port1)?.message as
      | { metafile?: Metafile; error?: string }
      | undefined;
    if (!message) throw new Error(`esbuild (${String(options.entryPoints)}) ended without a result`);
    if (message.error !== undefined) throw new Error(message.error);
    return message.metafile;
  } finally {
    port1.close();
    void worker.terminate();
  }
}

/**
 * One function's bundle: minified ESM for nodejs22.x with source maps (no sources inside), the AWS SDK
 * imported from the runtime (or bundled from the lockfile with `bundleAwsSdk`), split into chunks: the
 * entry loads its wiring chunk during init, and the step runner's tool families are chunks of their
 * own, loaded by a family's first call.
 */
export function bundleLambda(
  entry: string,
  outdir: string,
  options: BundleOptions = {},
): Metafile | undefined {
  const external = options.bundleAwsSdk !== true;
  return buildBlocking(
    {
      entryPoints: { index: entry },
      outdir,
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node22',
      mainFields: ['module', 'main'],
      outExtension: { '.js': '.mjs' },
      chunkNames: `${BUNDLE_CHUNK_DIR}/[name]-[hash]`,
      minify: true,
      sourcemap: true,
      sourcesContent: false,
      // The bundled packages' license notices (~10 KB per function) in a file beside each chunk, not
      // in the code every cold start parses
      legalComments: 'external',
      banner: { js: ESM_REQUIRE_SHIM },
      logLevel: 'error',
      metafile: options.metafile === true,
      // AWS_SDK_EXTERNALS: required from the runtime by the plugin (an `external` option would bypass it).
    },
    external,
  );
}
