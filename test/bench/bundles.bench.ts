import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Metafile } from 'esbuild';
import { afterAll, bench, describe } from 'vitest';
import {
  BUNDLE_ENTRY_FILE,
  BUNDLE_GOAL_BYTES,
  bundleLambda,
} from '../../infra/constructs/bundling-options.ts';
import { HandlerEntry, PROJECT_ROOT } from '../../infra/constructs/handler-function.ts';

/**
 * Issue 14's bundle figures, built in this run exactly as `cdk synth` builds them (bundleLambda), both
 * as cdk.json deploys them (the AWS SDK left to the runtime) and with `-c bundleAwsSdk=true`:
 *   - code per function: the entry, the code loaded at init (the entry, the wiring chunk its top-level
 *     `await import` loads and their static imports: everything the first event needs), every chunk,
 *     against the 250 KB goal; for the step runner, each tool family's chunks (loaded on first call);
 *   - module init: the median time to `import()` each entry in a fresh Node process over the same for
 *     an empty bundle built with the same options (goal ≤ 3×), each pair imported moments apart; and
 *     the same ratio of the CPU time each import used (less disturbed by a shared machine's load). The
 *     bundles sit under the repository, so the runtime's SDK resolves from node_modules, as on Lambda.
 */

const root = join(PROJECT_ROOT, '.bundles-test');
mkdirSync(root, { recursive: true });
const work = mkdtempSync(join(root, 'bench-'));
const ENTRIES = Object.values(HandlerEntry);
/** Pairs of fresh processes per function: the default build, and the bundled-SDK build for reference. */
const PAIRS = { external: 5, bundled: 3 } as const;
type Variant = keyof typeof PAIRS;

interface Built {
  entry: string;
  variant: Variant;
  file: string;
  sizes: { entry: number; init: number; all: number };
  /** The step runner's lazily loaded tool families: bytes of the chunks each adds beyond init. */
  families: Record<string, number>;
}

/** The outputs reachable from `starts` through static imports (what loading them loads). */
function closure(metafile: Metafile, starts: string[]): Set<string> {
  const seen = new Set<string>();
  const stack = [...starts];
  while (stack.length > 0) {
    const output = stack.pop()!;
    if (seen.has(output)) continue;
    seen.add(output);
    for (const imported of metafile.outputs[output]!.imports)
      if (imported.kind === 'import-statement' && metafile.outputs[imported.path]) stack.push(imported.path);
  }
  return seen;
}

const bytesOf = (metafile: Metafile, outputs: Iterable<string>) =>
  [...outputs].reduce((sum, output) => sum + metafile.outputs[output]!.bytes, 0);

/** The modules each tool family's first call imports (dynamic imports: chunks of their own). */
const FAMILY_MODULES: Record<string, RegExp[]> = {
  aws: [/tools\/aws\/index\.ts$/, /tools\/aws\/clients\.ts$/],
  kubernetes: [/tools\/kubernetes\/index\.ts$/, /tools\/kubernetes\/client\.ts$/],
  // resource.resolve: the resolvers of both families and both families' clients
  resource: [
    /tools\/resolve\/index\.ts$/,
    /tools\/kubernetes\/resolve\.ts$/,
    /tools\/aws\/resolve\.ts$/,
    /tools\/kubernetes\/client\.ts$/,
    /tools\/aws\/clients\.ts$/,
  ],
  // Tokens for EKS clusters, loaded by the first Kubernetes call that reaches one
  'eks access': [/tools\/kubernetes\/eks\.ts$/],
};

function build(entry: string, variant: Variant): Built {
  const directory = join(work, variant, entry);
  const metafile = bundleLambda(join(PROJECT_ROOT, 'functions', 'lambda', `${entry}.ts`), directory, {
    metafile: true,
    bundleAwsSdk: variant === 'bundled',
  })!;
  const outputs = Object.keys(metafile.outputs).filter((output) => output.endsWith('.mjs'));
  const entryOutput = outputs.find((output) => output.endsWith(`/${BUNDLE_ENTRY_FILE}`))!;
  // The entry's top-level `await import` of its wiring: loaded during init.
  const wiring = metafile.outputs[entryOutput]!.imports.filter(
    (imported) => imported.kind === 'dynamic-import',
  );
  const atInit = closure(metafile, [entryOutput, ...wiring.map((chunk) => chunk.path)]);
  const families: Record<string, number> = {};
  for (const [family, modules] of Object.entries(FAMILY_MODULES)) {
    const chunks = outputs.filter((output) =>
      modules.some((module) => module.test(metafile.outputs[output]!.entryPoint ?? '')),
    );
    if (chunks.length === 0) continue;
    // What the family's first call adds: its chunks and what they import, less what init loaded.
    const added = [...closure(metafile, chunks)].filter((output) => !atInit.has(output));
    families[family] = bytesOf(metafile, added);
  }
  return {
    entry,
    variant,
    file: join(directory, BUNDLE_ENTRY_FILE),
    sizes: {
      entry: metafile.outputs[entryOutput]!.bytes,
      init: bytesOf(metafile, atInit),
      all: bytesOf(metafile, outputs),
    },
    families,
  };
}

/**
 * Milliseconds one fresh Node process takes to import `file` (measured inside the process): wall time,
 * and the CPU time its main thread and helpers used meanwhile (user + system), which the other work on
 * a shared machine disturbs much less.
 */
function importMs(file: string): { wall: number; cpu: number } {
  const script = `const c = process.cpuUsage(); const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); const u = process.cpuUsage(c); process.stdout.write(JSON.stringify({ wall: performance.now() - t, cpu: (u.user + u.system) / 1000 }));`;
  return JSON.parse(
    execFileSync(process.execPath, ['--input-type=module', '--eval', script], {
      env: { PATH: process.env.PATH ?? '', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    }).toString(),
  ) as { wall: number; cpu: number };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

const emptyEntry = join(work, 'empty', 'entry.mjs');
mkdirSync(join(work, 'empty'), { recursive: true });
writeFileSync(emptyEntry, 'export const handler = async () => ({});\n');
const empty: Record<Variant, string> = { external: '', bundled: '' };
for (const variant of ['external', 'bundled'] as const) {
  bundleLambda(emptyEntry, join(work, 'empty', variant), { bundleAwsSdk: variant === 'bundled' });
  empty[variant] = join(work, 'empty', variant, BUNDLE_ENTRY_FILE);
}
const built = (['external', 'bundled'] as const).flatMap((variant) =>
  ENTRIES.map((entry) => build(entry, variant)),
);
const ratios = new Map<string, number[]>();
const emptyTimes: number[] = [];
const emptyCpu: number[] = [];
const keep = (name: string, ratio: number): void => {
  ratios.set(name, [...(ratios.get(name) ?? []), ratio]);
};

/**
 * Each iteration imports the empty bundle and then the function's entry (which loads its wiring during
 * init), each in its own fresh process, so every ratio compares two imports made moments apart.
 */
describe('Lambda bundles: the empty bundle, then the function, each imported in a fresh Node process', () => {
  for (const bundle of built) {
    bench(
      `${bundle.entry} (${bundle.variant === 'external' ? "runtime's SDK" : 'SDK bundled'}): init`,
      () => {
        const emptyMs = importMs(empty[bundle.variant]);
        const functionMs = importMs(bundle.file);
        keep(`${bundle.variant}:${bundle.entry}`, functionMs.wall / emptyMs.wall);
        keep(`${bundle.variant}:${bundle.entry}:cpu`, functionMs.cpu / emptyMs.cpu);
        emptyTimes.push(emptyMs.wall);
        emptyCpu.push(emptyMs.cpu);
      },
      { iterations: PAIRS[bundle.variant], warmupIterations: 0, time: 0, warmupTime: 0, throws: true },
    );
  }
});

afterAll(() => {
  const row = (variant: Variant) =>
    built
      .filter((bundle) => bundle.variant === variant)
      .map((bundle) => {
        const ratio = median(ratios.get(`${variant}:${bundle.entry}`) ?? [Number.NaN]);
        const cpuRatio = median(ratios.get(`${variant}:${bundle.entry}:cpu`) ?? [Number.NaN]);
        return {
          function: bundle.entry,
          entry: kb(bundle.sizes.entry),
          'loaded at init (first event)': kb(bundle.sizes.init),
          'all chunks': kb(bundle.sizes.all),
          'goal ≤ 250 KB': bundle.sizes.init <= BUNDLE_GOAL_BYTES ? 'met' : 'not met',
          'init / empty (goal ≤ 3×)': `${ratio.toFixed(1)}× ${ratio <= 3 ? 'met' : 'not met'}`,
          'CPU time / empty': `${cpuRatio.toFixed(1)}×`,
        };
      });
  console.log(
    `
Lambda bundles (built as infra builds them); empty bundle import: ${median(emptyTimes).toFixed(2)} ms, ${median(emptyCpu).toFixed(2)} ms of CPU (medians of all); ratios: median over ${PAIRS.external} pairs of fresh processes (runtime's SDK) and ${PAIRS.bundled} (SDK bundled); load average ${loadavg()
      .map((load) => load.toFixed(1))
      .join(' ')} on ${availableParallelism()} cores`,
  );
  console.log(
    "Default (cdk.json): the AWS SDK left to the nodejs22.x runtime's copy (resolved here from node_modules)",
  );
  console.table(row('external'));
  console.log("-c bundleAwsSdk=true: the lockfile's AWS SDK bundled");
  console.table(row('bundled'));
  console.log(
    "The step runner's tool families, loaded by the first call of one of their tools (bytes beyond init):",
  );
  console.table(
    built
      .filter((bundle) => bundle.entry === HandlerEntry.StepRunner)
      .map((bundle) => ({
        variant: bundle.variant,
        ...Object.fromEntries(Object.entries(bundle.families).map(([family, bytes]) => [family, kb(bytes)])),
      })),
  );
  rmSync(work, { recursive: true, force: true });
});
