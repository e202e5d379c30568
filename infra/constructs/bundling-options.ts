import { buildSync, type Metafile } from 'esbuild';

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
  stepRunnerReadOnly: 2_940_000,
  approvalRequest: 469_000,
  approvalWeb: 498_000,
  control: 622_000,
  learningRecorder: 494_000,
} as const;

export interface BundleOptions {
  metafile?: boolean;
  /** Bundle the lockfile's AWS SDK (pinned, tested with the code) instead of importing the runtime's. */
  bundleAwsSdk?: boolean;
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
  const result = buildSync({
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
    banner: { js: ESM_REQUIRE_SHIM },
    logLevel: 'error',
    metafile: options.metafile === true,
    external: options.bundleAwsSdk === true ? [] : [...AWS_SDK_EXTERNALS],
  });
  return result.metafile;
}
