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

/** A function's entry is a stub that imports its handler on the first event: it stays this small. */
export const BUNDLE_ENTRY_BUDGET_BYTES = 2 * 1024;

/**
 * The issue-14 goal for each function's code (bytes); BENCHMARKS.md records how far each is from it.
 */
export const BUNDLE_GOAL_BYTES = 250 * 1024;

/**
 * What each function's JavaScript (entry and every chunk) may weigh, in bytes: the measured size when
 * the budgets were set plus ~5 %, so the bundling test fails when a change drags in a dependency
 * (zod's locales, the YAML parser, another function's wiring). Lower them as bundles shrink.
 */
export const BUNDLE_CODE_BUDGET_BYTES = {
  ingest: 610_000,
  classifier: 900_000,
  stepRunnerReadOnly: 4_620_000,
  approvalRequest: 1_000_000,
  approvalWeb: 1_030_000,
  control: 1_225_000,
  learningRecorder: 950_000,
} as const;

/**
 * One function's bundle: minified ESM for nodejs22.x with source maps (no sources inside), the AWS SDK
 * from the lockfile bundled (pinned and tested with the code, not the runtime's copy), split into
 * chunks so that the entry loads nothing until the first event imports the handler and its wiring.
 */
export function bundleLambda(
  entry: string,
  outdir: string,
  options: { metafile?: boolean } = {},
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
  });
  return result.metafile;
}
