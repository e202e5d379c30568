import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CATALOG_FILE } from '../../functions/core/runbook/catalog.ts';
import {
  BUNDLE_CHUNK_DIR,
  BUNDLE_CODE_BUDGET_BYTES,
  BUNDLE_ENTRY_BUDGET_BYTES,
  BUNDLE_ENTRY_FILE,
} from '../../infra/constructs/bundling-options.ts';
import { HandlerEntry } from '../../infra/constructs/handler-function.ts';
import type { FunctionKey, RunbookAutopilotStack } from '../../infra/stacks/runbook-autopilot-stack.ts';
import { functionUrlEvent } from '../support/aws-harness.ts';
import { startDynalite } from '../support/dynalite.ts';
import {
  type Json,
  logicalIdOf,
  propertiesOf,
  removeOutput,
  resolvedValue,
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

/** Every file of a function's asset, relative to its directory. */
function filesOf(key: FunctionKey): string[] {
  return (readdirSync(assetDirectoryOf(key), { recursive: true }) as string[])
    .filter((file) => !statSync(join(assetDirectoryOf(key), file)).isDirectory())
    .sort();
}

/** The sources of every chunk of a function (the entry and what it loads on demand). */
function sourcesOf(key: FunctionKey): string[] {
  return filesOf(key)
    .filter((file) => file.endsWith('.mjs.map'))
    .flatMap(
      (file) =>
        (JSON.parse(readFileSync(join(assetDirectoryOf(key), file), 'utf8')) as { sources: string[] })
          .sources,
    );
}

/** The bytes of JavaScript a function holds (entry and chunks; not maps, not the runbook catalog). */
function codeBytesOf(key: FunctionKey): number {
  return filesOf(key)
    .filter((file) => file.endsWith('.mjs'))
    .reduce((sum, file) => sum + statSync(join(assetDirectoryOf(key), file)).size, 0);
}

describe('function bundles (esbuild, code-split, as infra/constructs/bundling-options.ts builds them)', () => {
  it.each(ENTRIES)('%s: a minified ESM entry, its chunks with source maps, nothing else', (key, entry) => {
    // Prepare
    const directory = assetDirectoryOf(key);

    // Act
    const files = filesOf(key);
    const code = readFileSync(join(directory, BUNDLE_ENTRY_FILE), 'utf8');
    const chunks = files.filter((file) => file.startsWith(`${BUNDLE_CHUNK_DIR}/`));
    const maps = files
      .filter((file) => file.endsWith('.mjs.map'))
      .map(
        (file) =>
          JSON.parse(readFileSync(join(directory, file), 'utf8')) as {
            sources: string[];
            sourcesContent?: unknown;
          },
      );

    // Assess: self-contained (the AWS SDK from the lockfile included, no node_modules), minified, mapped;
    // the catalog beside every function that reads runbooks
    expect(files.filter((file) => !file.startsWith(`${BUNDLE_CHUNK_DIR}/`))).toEqual(
      key === 'ingest' ? ['index.mjs', 'index.mjs.map'] : ['index.mjs', 'index.mjs.map', CATALOG_FILE],
    );
    expect(chunks.length).toBeGreaterThan(2);
    for (const chunk of chunks) expect(chunk).toMatch(/\.mjs(\.map)?$/);
    expect(chunks.filter((chunk) => chunk.endsWith('.mjs')).length).toBe(
      chunks.filter((chunk) => chunk.endsWith('.mjs.map')).length,
    );
    expect(code).toContain(`sourceMappingURL=${BUNDLE_ENTRY_FILE}.map`);
    const biggest = chunks
      .filter((chunk) => chunk.endsWith('.mjs'))
      .map((chunk) => readFileSync(join(directory, chunk), 'utf8'))
      .sort((a, b) => b.length - a.length)[0]!;
    expect(biggest.length / biggest.split('\n').length).toBeGreaterThan(1_000);
    const sources = maps.flatMap((map) => map.sources);
    expect(sources.some((source) => source.endsWith(`functions/handlers/${entry}.ts`))).toBe(true);
    expect(sources.some((source) => source.includes('@aws-sdk/client-'))).toBe(true);
    expect(maps.every((map) => map.sourcesContent === undefined)).toBe(true);
  });

  it.each(ENTRIES)('%s: the entry loads nothing until the first event and stays within its budget', (key) => {
    // Prepare
    const entryCode = readFileSync(join(assetDirectoryOf(key), BUNDLE_ENTRY_FILE), 'utf8');

    // Assess: only dynamic imports leave the entry (a static one would load its chunk at cold start)
    expect(entryCode).not.toMatch(/\bimport\s*[{*\w][^(]*?from\s*["']\.\//);
    expect(entryCode).toMatch(/import\(["']\.\/chunks\//);
    expect(Buffer.byteLength(entryCode), key).toBeLessThanOrEqual(BUNDLE_ENTRY_BUDGET_BYTES);
    expect(codeBytesOf(key), key).toBeLessThanOrEqual(
      BUNDLE_CODE_BUDGET_BYTES[key as keyof typeof BUNDLE_CODE_BUDGET_BYTES],
    );
  });

  it('both step runners run the same bundle', () => {
    expect(assetDirectoryOf('stepRunnerMutating')).toBe(assetDirectoryOf('stepRunnerReadOnly'));
  });

  it('every bundle loads in plain Node outside the project and exports its handler', async () => {
    // Prepare: the cloud assembly is a temporary directory, with no node_modules to fall back on
    const bundles = ENTRIES.map(
      ([key]) => pathToFileURL(join(assetDirectoryOf(key), BUNDLE_ENTRY_FILE)).href,
    );
    const script = `for (const url of ${JSON.stringify(bundles)}) { const m = await import(url); console.log(typeof m.handler); }`;

    // Act: a Node process of its own (importing a bundle constructs no client, so no AWS is needed)
    const { stdout } = await run(process.execPath, ['--input-type=module', '--eval', script], {
      cwd: synthesized.outdir,
      env: { PATH: process.env.PATH, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });

    // Assess
    expect(stdout.trim().split('\n')).toEqual(ENTRIES.map(() => 'function'));
  });

  it('only the step runner bundles the tools and their clients; the others stay small', () => {
    // Prepare
    const sizeOf = codeBytesOf;
    const toolCode = (sources: string[]) =>
      sources.filter(
        (source) =>
          source.includes('@kubernetes/client-node') ||
          source.includes('@aws-sdk/client-ec2') ||
          /functions\/tools\/(kubernetes|aws)\//.test(source),
      );

    // Act
    const stepRunner = sourcesOf('stepRunnerReadOnly');
    const others = ENTRIES.filter(([key]) => key !== 'stepRunnerReadOnly');

    // Assess: the step runner runs the tools; every other function leaves them out (composition/aws.ts
    // exports each function's wiring as a pure call, package.json names the modules with side effects)
    expect(toolCode(stepRunner).length).toBeGreaterThan(10);
    for (const [key] of others) {
      expect(toolCode(sourcesOf(key)), key).toEqual([]);
      expect(sizeOf(key), key).toBeLessThan(sizeOf('stepRunnerReadOnly') / 2);
    }
  });

  it('the control bundle, tree-shaken, serves the kill switch from a real DynamoDB API', async () => {
    // Prepare: dynalite as DynamoDB, the function's own synthesized environment, the SDK pointed at it
    const database = await startDynalite();
    try {
      const template = synthesized.templates.dev!.toJSON();
      const resource = template.Resources[logicalIdOf(stack.functions.control.function)] as Json;
      const variables = (propertiesOf(resource).Environment as Json).Variables as Record<string, unknown>;
      const env: Record<string, string> = {
        PATH: process.env.PATH ?? '',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        // Set by Lambda: the function's root, where the runbook catalog sits beside index.mjs.
        LAMBDA_TASK_ROOT: assetDirectoryOf('control'),
        AWS_REGION: 'eu-west-1',
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        AWS_ENDPOINT_URL_DYNAMODB: database.endpoint,
        POWERTOOLS_LOG_LEVEL: 'ERROR',
        TABLE_NAME: database.tableName,
        STATE_MACHINE_ARN_PREFIX: 'arn:aws:states:eu-west-1:111111111111:stateMachine:runbook-autopilot-dev-',
        // Named for the services it builds (approvals decided signed in, level changes announced); no
        // message is sent here.
        APPROVALS_TOPIC_ARN: 'arn:aws:sns:eu-west-1:111111111111:runbook-autopilot-dev-approvals',
        ESCALATIONS_TOPIC_ARN: 'arn:aws:sns:eu-west-1:111111111111:runbook-autopilot-dev-escalations',
        RUNBOOK_AUTOPILOT_API_AUTH_PARAMETER: '/runbook-autopilot/dev/api-auth',
        RUNBOOK_AUTOPILOT_CONFIG: resolvedValue(variables.RUNBOOK_AUTOPILOT_CONFIG),
      };
      // Every variable the stack gives the function is set here (the test would hide a missing one).
      for (const name of Object.keys(variables))
        expect(Object.keys(env).concat(['NODE_OPTIONS', 'POWERTOOLS_SERVICE_NAME']), name).toContain(name);
      const bundle = pathToFileURL(join(assetDirectoryOf('control'), BUNDLE_ENTRY_FILE)).href;
      // Signed with SigV4, as the control Function URL (auth type AWS_IAM) requires: the URL names the caller.
      const request = (method: string, path: string, body?: unknown) => {
        const event = functionUrlEvent(
          method,
          path,
          body === undefined ? {} : { body: JSON.stringify(body) },
        );
        return JSON.stringify({
          ...event,
          requestContext: {
            ...event.requestContext,
            authorizer: { iam: { userArn: 'arn:aws:sts::111111111111:assumed-role/oncall/vitest' } },
          },
        });
      };
      const script = `
        const { handler } = await import(${JSON.stringify(bundle)});
        const context = { getRemainingTimeInMillis: () => 30000, awsRequestId: 'bundle-test' };
        const engaged = await handler(${request('POST', '/api/kill-switch', { engaged: true, reason: 'bundle test', by: 'vitest' })}, context);
        const read = await handler(${request('GET', '/api/kill-switch')}, context);
        const runbooks = await handler(${request('GET', '/api/learning')}, context);
        console.log(JSON.stringify({ engaged, read, runbooks }));`;

      // Act: a Node process of its own, as Lambda runs the bundle
      const { stdout, stderr } = await run(process.execPath, ['--input-type=module', '--eval', script], {
        cwd: synthesized.outdir,
        env,
      });
      const answers = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<
        string,
        { statusCode: number; body: string }
      >;

      // Assess: the write went through the bundled SDK to DynamoDB, and reads back
      expect(answers.engaged!.statusCode, `${answers.engaged!.body} ${stderr}`).toBe(200);
      expect(answers.read!.statusCode).toBe(200);
      expect(JSON.parse(answers.read!.body)).toMatchObject({ engaged: true, reason: 'bundle test' });
      expect(answers.runbooks!.statusCode).toBe(200);
      const stored = await database.client.send(new ScanCommand({ TableName: database.tableName }));
      expect(stored.Items?.length).toBeGreaterThan(0);
    } finally {
      await database.stop();
    }
  }, 60_000);
});
