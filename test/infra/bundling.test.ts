import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HandlerEntry } from '../../infra/constructs/handler-function.ts';
import type { FunctionKey, RunbookAutopilotStack } from '../../infra/stacks/runbook-autopilot-stack.ts';
import {
  type Json,
  logicalIdOf,
  propertiesOf,
  removeOutput,
  type Synthesized,
  synthesize,
} from './support.ts';

/**
 * The one test that runs esbuild the way `cdk synth` does (local esbuild, no Docker) for every handler
 * of one environment. The other infra tests skip bundling; the bundles are the same for every
 * environment (the configuration is in environment variables, not in the code).
 */

const run = promisify(execFile);

let synthesized: Synthesized;
let stack: RunbookAutopilotStack;

beforeAll(() => {
  synthesized = synthesize({ bundle: true, context: { env: 'dev' } });
  stack = synthesized.stacks[0]!;
}, 300_000);

afterAll(() => removeOutput(synthesized));

function assetDirectoryOf(key: FunctionKey): string {
  const template = synthesized.templates.dev!.toJSON();
  const code = propertiesOf(template.Resources[logicalIdOf(stack.functions[key].function)] as Json).Code as {
    S3Key: string;
  };
  return join(synthesized.outdir, `asset.${code.S3Key.replace(/\.zip$/, '')}`);
}

const ENTRIES: Array<[FunctionKey, string]> = [
  ['ingest', HandlerEntry.Ingest],
  ['classifier', HandlerEntry.Classifier],
  ['stepRunnerReadOnly', HandlerEntry.StepRunner],
  ['approvalRequest', HandlerEntry.ApprovalRequest],
  ['approvalWeb', HandlerEntry.ApprovalWeb],
  ['control', HandlerEntry.Control],
  ['learningRecorder', HandlerEntry.LearningRecorder],
];

describe('function bundles (esbuild through NodejsFunction)', () => {
  it.each(ENTRIES)('%s: one minified ESM file with its source map, nothing else', (key, entry) => {
    // Prepare
    const directory = assetDirectoryOf(key);

    // Act
    const files = readdirSync(directory).sort();
    const code = readFileSync(join(directory, 'index.mjs'), 'utf8');
    const map = JSON.parse(readFileSync(join(directory, 'index.mjs.map'), 'utf8')) as {
      sources: string[];
      sourcesContent?: unknown;
    };

    // Assess: self-contained (the AWS SDK from the lockfile included, no node_modules), minified, mapped
    expect(files).toEqual(['index.mjs', 'index.mjs.map']);
    expect(code.length / code.split('\n').length).toBeGreaterThan(2_000);
    expect(code).toContain('sourceMappingURL=index.mjs.map');
    expect(map.sources.some((source) => source.endsWith(`functions/handlers/${entry}.ts`))).toBe(true);
    expect(map.sources.some((source) => source.includes('@aws-sdk/client-'))).toBe(true);
    expect(map.sourcesContent).toBeUndefined();
  });

  it('both step runners run the same bundle', () => {
    expect(assetDirectoryOf('stepRunnerMutating')).toBe(assetDirectoryOf('stepRunnerReadOnly'));
  });

  it('every bundle loads in plain Node outside the project and exports its handler', async () => {
    // Prepare: the cloud assembly is a temporary directory, with no node_modules to fall back on
    const bundles = ENTRIES.map(([key]) => pathToFileURL(join(assetDirectoryOf(key), 'index.mjs')).href);
    const script = `for (const url of ${JSON.stringify(bundles)}) { const m = await import(url); console.log(typeof m.handler); }`;

    // Act: a Node process of its own (importing a bundle constructs no client, so no AWS is needed)
    const { stdout } = await run(process.execPath, ['--input-type=module', '--eval', script], {
      cwd: synthesized.outdir,
      env: { PATH: process.env.PATH, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });

    // Assess
    expect(stdout.trim().split('\n')).toEqual(ENTRIES.map(() => 'function'));
  });
});
