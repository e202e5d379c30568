import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildSync, type Metafile } from 'esbuild';
import { afterAll, bench, describe } from 'vitest';
import {
  BUNDLE_ENTRY_FILE,
  BUNDLE_GOAL_BYTES,
  bundleLambda,
  ESM_REQUIRE_SHIM,
} from '../../infra/constructs/bundling-options.ts';
import { HandlerEntry, PROJECT_ROOT } from '../../infra/constructs/handler-function.ts';

/**
 * Issue 14's bundle figures, built in this run exactly as `cdk synth` builds them (bundleLambda):
 *   - code per function: the entry (what a cold start loads), the code the first event loads (entry,
 *     handler chunk and its static imports), and every chunk (the SDK's credential sources and other
 *     parts loaded only when used), against the 250 KB goal; the reference is the same function as one
 *     unsplit file (everything loaded at cold start), also built in this run;
 *   - module init: the median time to `import()` each entry in a fresh Node process (11 processes), over
 *     the same for an empty bundle built with the same options (goal ≤ 3×), beside the unsplit file's.
 */

const root = mkdtempSync(join(tmpdir(), 'runbook-autopilot-bundles-'));
const ENTRIES = Object.values(HandlerEntry);
const PROCESSES = 11;

interface Built {
  entry: string;
  directory: string;
  unsplit: string;
  sizes: { entry: number; firstEvent: number; all: number; unsplit: number };
}

/** Bytes of the outputs reachable from `starts` through static imports (what loading them loads). */
function closureBytes(metafile: Metafile, starts: string[]): number {
  const seen = new Set<string>();
  const stack = [...starts];
  while (stack.length > 0) {
    const output = stack.pop()!;
    if (seen.has(output)) continue;
    seen.add(output);
    for (const imported of metafile.outputs[output]!.imports)
      if (imported.kind === 'import-statement' && metafile.outputs[imported.path]) stack.push(imported.path);
  }
  return [...seen].reduce((sum, output) => sum + metafile.outputs[output]!.bytes, 0);
}

function build(entry: string): Built {
  const directory = join(root, entry);
  const metafile = bundleLambda(join(PROJECT_ROOT, 'functions', 'lambda', `${entry}.ts`), directory, {
    metafile: true,
  })!;
  const outputs = Object.keys(metafile.outputs).filter((output) => output.endsWith('.mjs'));
  const entryOutput = outputs.find((output) => output.endsWith(`/${BUNDLE_ENTRY_FILE}`))!;
  const handlerChunks = metafile.outputs[entryOutput]!.imports.filter(
    (imported) => imported.kind === 'dynamic-import',
  );
  // The reference: the same handler and wiring as one file, every module loaded at import.
  const unsplit = join(root, `${entry}-unsplit`, BUNDLE_ENTRY_FILE);
  buildSync({
    entryPoints: [join(PROJECT_ROOT, 'functions', 'composition', 'lambda', `${entry}.ts`)],
    outfile: unsplit,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    mainFields: ['module', 'main'],
    minify: true,
    banner: { js: ESM_REQUIRE_SHIM },
    logLevel: 'error',
  });
  return {
    entry,
    directory,
    unsplit,
    sizes: {
      entry: metafile.outputs[entryOutput]!.bytes,
      firstEvent: closureBytes(metafile, [entryOutput, ...handlerChunks.map((chunk) => chunk.path)]),
      all: outputs.reduce((sum, output) => sum + metafile.outputs[output]!.bytes, 0),
      unsplit: statSync(unsplit).size,
    },
  };
}

/** Milliseconds one fresh Node process takes to import `file` (measured inside the process). */
function importMs(file: string): number {
  const script = `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); process.stdout.write(String(performance.now() - t));`;
  return Number(
    execFileSync(process.execPath, ['--input-type=module', '--eval', script], {
      env: { PATH: process.env.PATH ?? '', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    }).toString(),
  );
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

const empty = join(root, 'empty');
mkdirSync(empty, { recursive: true });
writeFileSync(join(empty, 'entry.mjs'), 'export const handler = async () => ({});\n');
bundleLambda(join(empty, 'entry.mjs'), join(empty, 'out'));
const emptyEntry = join(empty, 'out', BUNDLE_ENTRY_FILE);
const built = ENTRIES.map(build);
const times = new Map<string, number[]>();
const keep = (name: string, ms: number): void => {
  times.set(name, [...(times.get(name) ?? []), ms]);
};

const options = { iterations: PROCESSES, warmupIterations: 0, time: 0, warmupTime: 0, throws: true };

/**
 * Each iteration imports the empty bundle and then the function's file, each in its own fresh process,
 * so every ratio compares two imports made moments apart (a shared machine's load changes by the second).
 */
const paired = (name: string, file: string) => () => {
  const empty = importMs(emptyEntry);
  keep(name, importMs(file) / empty);
  keep('empty', empty);
};

describe('Lambda bundles: the empty bundle, then the function, each imported in a fresh Node process', () => {
  for (const bundle of built) {
    bench(`${bundle.entry}: entry`, paired(bundle.entry, join(bundle.directory, BUNDLE_ENTRY_FILE)), options);
    bench(`${bundle.entry}: unsplit (reference)`, paired(`${bundle.entry}-unsplit`, bundle.unsplit), options);
  }
});

afterAll(() => {
  const emptyMs = median(times.get('empty') ?? [Number.NaN]);
  const rows = built.map((bundle) => {
    const ratio = median(times.get(bundle.entry) ?? [Number.NaN]);
    const unsplitRatio = median(times.get(`${bundle.entry}-unsplit`) ?? [Number.NaN]);
    return {
      function: bundle.entry,
      entry: kb(bundle.sizes.entry),
      'first event': kb(bundle.sizes.firstEvent),
      'all chunks': kb(bundle.sizes.all),
      'goal (first event)': `${kb(BUNDLE_GOAL_BYTES)} ${bundle.sizes.firstEvent <= BUNDLE_GOAL_BYTES ? 'met' : 'not met'}`,
      'unsplit (ref)': kb(bundle.sizes.unsplit),
      // The stub's import defers loading to the first event: not the goal's figure, shown for what it is.
      'stub import / empty': `${ratio.toFixed(2)}×`,
      // What a cold start pays in all: everything loaded (goal ≤ 3×).
      'init / empty, all loaded (goal ≤ 3×)': `${unsplitRatio.toFixed(1)}× ${unsplitRatio <= 3 ? 'met' : 'not met'}`,
    };
  });
  console.log(
    `
Lambda bundles (built as infra builds them); empty bundle import: ${emptyMs.toFixed(2)} ms (median of all its imports); ratios: median over ${PROCESSES} pairs; load average ${loadavg()
      .map((load) => load.toFixed(1))
      .join(' ')} on ${availableParallelism()} cores`,
  );
  console.table(rows);
  rmSync(root, { recursive: true, force: true });
});
