import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CATALOG_FILE } from '../../functions/core/runbook/catalog.ts';
import {
  BUNDLE_AWS_SDK_CONTEXT,
  BUNDLE_CHUNK_DIR,
  BUNDLE_CODE_BUDGET_BYTES,
  BUNDLE_ENTRY_BUDGET_BYTES,
  BUNDLE_ENTRY_FILE,
  bundleAwsSdkFrom,
  STEP_RUNNER_INIT_BUDGET_BYTES,
} from '../../infra/constructs/bundling-options.ts';
import { HandlerEntry, PROJECT_ROOT } from '../../infra/constructs/handler-function.ts';
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
 * The tests that run esbuild the way `cdk synth` does (local esbuild, no Docker) for every handler of
 * one environment: as cdk.json deploys them (the runtime's AWS SDK) and with `-c bundleAwsSdk=true`.
 * The other infra tests skip bundling; the bundles are the same for every environment (the
 * configuration is in environment variables, not in the code).
 */

const run = promisify(execFile);

/** Under the repository (.gitignored): the bundles import the AWS SDK, which Node finds in node_modules. */
const PARENT_DIRECTORY = join(PROJECT_ROOT, '.bundles-test');

let synthesized: Synthesized;
let withSdk: Synthesized;
let stack: RunbookAutopilotStack;

beforeAll(() => {
  synthesized = synthesize({ bundle: true, context: { env: 'dev' }, parentDirectory: PARENT_DIRECTORY });
  stack = synthesized.stacks[0]!;
  // As `cdk deploy -c bundleAwsSdk=true` passes it: a string
  withSdk = synthesize({
    bundle: true,
    context: { env: 'dev', [BUNDLE_AWS_SDK_CONTEXT]: 'true' },
    parentDirectory: PARENT_DIRECTORY,
  });
}, 300_000);

afterAll(() => {
  removeOutput(synthesized);
  removeOutput(withSdk);
});

function assetDirectoryOf(key: FunctionKey, from: Synthesized = synthesized): string {
  const template = from.templates.dev!.toJSON();
  const function_ = from.stacks[0]!.functions[key].function;
  const code = propertiesOf(template.Resources[logicalIdOf(function_)] as Json).Code as {
    S3Key: string;
  };
  return join(from.outdir, `asset.${code.S3Key.replace(/\.zip$/, '')}`);
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
function filesOf(key: FunctionKey, from: Synthesized = synthesized): string[] {
  const directory = assetDirectoryOf(key, from);
  return (readdirSync(directory, { recursive: true }) as string[])
    .filter((file) => !statSync(join(directory, file)).isDirectory())
    .sort();
}

/** The sources of chunks of a function (by default every chunk: the entry and what it loads on demand). */
function sourcesOf(key: FunctionKey, from: Synthesized = synthesized, chunks = filesOf(key, from)): string[] {
  return chunks
    .filter((file) => file.endsWith('.mjs'))
    .flatMap(
      (file) =>
        (
          JSON.parse(readFileSync(join(assetDirectoryOf(key, from), `${file}.map`), 'utf8')) as {
            sources: string[];
          }
        ).sources,
    );
}

/** The bytes of JavaScript a function holds (entry and chunks; not maps, not the runbook catalog). */
function codeBytesOf(key: FunctionKey, from: Synthesized = synthesized): number {
  return filesOf(key, from)
    .filter((file) => file.endsWith('.mjs'))
    .reduce((sum, file) => sum + statSync(join(assetDirectoryOf(key, from), file)).size, 0);
}

/**
 * The files a function's init loads: the entry, the chunk its top-level `await import` loads, and
 * everything they import statically (the step runner's tool families are dynamic imports: not here).
 */
function loadedAtInit(key: FunctionKey, from: Synthesized = synthesized): string[] {
  const directory = assetDirectoryOf(key, from);
  const seen = new Set<string>();
  const pending = [BUNDLE_ENTRY_FILE];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const code = readFileSync(join(directory, file), 'utf8');
    const imported = [
      ...code.matchAll(/(?:\bfrom|\bimport)\s*["'](\.{1,2}\/[^"']+\.mjs)["']/g),
      ...(file === BUNDLE_ENTRY_FILE
        ? code.matchAll(/\bimport\(\s*["'](\.{1,2}\/[^"']+\.mjs)["']\s*\)/g)
        : []),
    ];
    for (const match of imported) pending.push(join(dirname(file), match[1]!));
  }
  return [...seen];
}

/**
 * Packages a function's code imports by name (left to the runtime), as in `from"@aws-sdk/client-sns"`:
 * neither a chunk of its own nor a Node built-in.
 */
function bareImportsOf(key: FunctionKey, from: Synthesized = synthesized): Set<string> {
  const found = new Set<string>();
  for (const file of filesOf(key, from).filter((name) => name.endsWith('.mjs'))) {
    const code = readFileSync(join(assetDirectoryOf(key, from), file), 'utf8');
    for (const match of code.matchAll(
      /(?:\bfrom|\bimport\(?)\s*["']((?:@[\w.-]+\/)?[\w.-]+)(?:\/[^"']*)?["']/g,
    ))
      if (!match[1]!.startsWith('.') && !match[1]!.startsWith('node:') && !builtinModules.includes(match[1]!))
        found.add(match[1]!);
  }
  return found;
}

/**
 * The runtime's SDK packages a function requires (bundling-options.ts: one CommonJS module per package,
 * named `runtime-sdk:<package>` in the source maps, whose body is `require("<package>")`).
 */
function requiredSdkOf(key: FunctionKey, from: Synthesized = synthesized, chunks?: string[]): string[] {
  return sourcesOf(key, from, chunks)
    .filter((source) => source.startsWith('runtime-sdk:'))
    .map((source) => source.slice('runtime-sdk:'.length))
    .sort();
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

    // Assess: minified, mapped, the catalog beside every function that reads runbooks; the AWS SDK left
    // to the runtime (no source of it inside, only required by name), everything else bundled
    expect(files.filter((file) => !file.startsWith(`${BUNDLE_CHUNK_DIR}/`))).toEqual(
      key === 'ingest' ? ['index.mjs', 'index.mjs.map'] : ['index.mjs', 'index.mjs.map', CATALOG_FILE],
    );
    expect(chunks.length).toBeGreaterThan(2);
    for (const chunk of chunks) expect(chunk).toMatch(/\.mjs(\.map|\.LEGAL\.txt)?$/);
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
    expect(sources.filter((source) => /node_modules\/(@aws-sdk|@smithy)\//.test(source))).toEqual([]);
    // Nothing imported by name: the SDK is required (CommonJS, as Node loads it fastest), each package
    // through its one-line module, and only packages the function uses
    expect([...bareImportsOf(key)]).toEqual([]);
    const required = requiredSdkOf(key);
    expect(required.some((name) => name.startsWith('@aws-sdk/client-'))).toBe(true);
    const allCode = files
      .filter((file) => file.endsWith('.mjs'))
      .map((file) => readFileSync(join(directory, file), 'utf8'))
      .join('\n');
    for (const name of required) expect(allCode).toMatch(new RegExp(`\\w\\("${name}"\\)`));
    expect(maps.every((map) => map.sourcesContent === undefined)).toBe(true);
  });

  it.each(ENTRIES)('%s: the entry loads its wiring during init and stays within its budget', (key) => {
    // Prepare
    const entryCode = readFileSync(join(assetDirectoryOf(key), BUNDLE_ENTRY_FILE), 'utf8');

    // Assess: a top-level await of the wiring's chunk (loaded during init, not by the first event)
    expect(entryCode).toMatch(/\bawait import\(["']\.\/chunks\//);
    expect(Buffer.byteLength(entryCode), key).toBeLessThanOrEqual(BUNDLE_ENTRY_BUDGET_BYTES);
    expect(codeBytesOf(key), key).toBeLessThanOrEqual(
      BUNDLE_CODE_BUDGET_BYTES[key as keyof typeof BUNDLE_CODE_BUDGET_BYTES],
    );
  });

  it('each function requires only the SDK clients its own wiring builds, at init', async () => {
    // Act: each bundle imported in a Node process of its own, which then lists the SDK packages Node
    // loaded (the step runner's tool families require their clients on first call, not here)
    const script = (url: string) =>
      `import { createRequire } from 'node:module'; await import(${JSON.stringify(url)}); console.log([...new Set(Object.keys(createRequire(import.meta.url).cache).map((file) => /node_modules\\/(@aws-sdk\\/(?:client|lib)-[^/]+)\\//.exec(file)?.[1]).filter(Boolean))].sort().join(' '));`;
    const loaded = Object.fromEntries(
      await Promise.all(
        ENTRIES.map(async ([key]) => {
          const url = pathToFileURL(join(assetDirectoryOf(key), BUNDLE_ENTRY_FILE)).href;
          const { stdout } = await run(process.execPath, ['--input-type=module', '--eval', script(url)], {
            cwd: synthesized.outdir,
            env: { PATH: process.env.PATH, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
          });
          return [key, stdout.trim()];
        }),
      ),
    );

    // Assess: the shared wiring module names every client; a function loads only those it builds
    const dynamo = '@aws-sdk/client-dynamodb';
    const documents = '@aws-sdk/lib-dynamodb';
    const approvals = `${dynamo} @aws-sdk/client-lambda @aws-sdk/client-secrets-manager @aws-sdk/client-sfn @aws-sdk/client-sns ${documents}`;
    expect(loaded).toEqual({
      ingest: '@aws-sdk/client-eventbridge @aws-sdk/client-secrets-manager',
      classifier: `${dynamo} @aws-sdk/client-sfn @aws-sdk/client-sns ${documents}`,
      stepRunnerReadOnly: approvals,
      approvalRequest: approvals,
      approvalWeb: approvals,
      control: `${dynamo} @aws-sdk/client-lambda @aws-sdk/client-sfn @aws-sdk/client-sns @aws-sdk/client-ssm ${documents}`,
      learningRecorder: `${dynamo} @aws-sdk/client-eventbridge @aws-sdk/client-secrets-manager @aws-sdk/client-sfn @aws-sdk/client-sns ${documents}`,
    });
  });

  it('both step runners run the same bundle', () => {
    expect(assetDirectoryOf('stepRunnerMutating')).toBe(assetDirectoryOf('stepRunnerReadOnly'));
  });

  it.each([
    ["the runtime's SDK, found in node_modules as Lambda finds its own", () => synthesized],
    ['bundleAwsSdk=true', () => withSdk],
  ])('every bundle loads in plain Node and exports its handler (%s)', async (_, assembly) => {
    // Prepare: the cloud assembly is under the repository (node_modules above it); the bundled SDK's
    // copies import nothing from there (bareImportsOf above)
    const bundles = ENTRIES.map(
      ([key]) => pathToFileURL(join(assetDirectoryOf(key, assembly()), BUNDLE_ENTRY_FILE)).href,
    );
    const script = `for (const url of ${JSON.stringify(bundles)}) { const m = await import(url); console.log(typeof m.handler); }`;

    // Act: a Node process of its own (importing a bundle constructs no client, so no AWS is needed)
    const { stdout } = await run(process.execPath, ['--input-type=module', '--eval', script], {
      cwd: assembly().outdir,
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
          source.includes('@kubernetes/client-node') || /functions\/tools\/(kubernetes|aws)\//.test(source),
      );

    // Act
    const stepRunner = sourcesOf('stepRunnerReadOnly');
    const others = ENTRIES.filter(([key]) => key !== 'stepRunnerReadOnly');

    // Assess: the step runner runs the tools; every other function leaves them out (only the step
    // runner's entry reaches composition/aws-step-runner.ts and the tool families' dynamic imports)
    expect(toolCode(stepRunner).length).toBeGreaterThan(10);
    for (const [key] of others) {
      expect(toolCode(sourcesOf(key)), key).toEqual([]);
      expect(sizeOf(key), key).toBeLessThan(sizeOf('stepRunnerReadOnly') / 2);
    }
  });

  it("the step runner's init loads no tool family: the AWS, Kubernetes and resource families are chunks of their own", () => {
    // Prepare
    const atInit = loadedAtInit('stepRunnerReadOnly');
    const chunks = filesOf('stepRunnerReadOnly').filter((file) => file.endsWith('.mjs'));
    const familyOf = (file: string) => {
      const sources = sourcesOf('stepRunnerReadOnly', synthesized, [file]);
      if (sources.some((source) => source.endsWith('functions/tools/resolve/index.ts'))) return 'resource';
      if (sources.some((source) => source.endsWith('functions/tools/kubernetes/index.ts')))
        return 'kubernetes';
      if (sources.some((source) => source.endsWith('functions/tools/aws/index.ts'))) return 'aws';
      return undefined;
    };

    // Act
    const initSources = sourcesOf('stepRunnerReadOnly', synthesized, atInit);
    const families = chunks.map(familyOf).filter((family) => family !== undefined);

    // Assess: the registry and generic tools are loaded at init, no family's code and no Kubernetes client
    expect(initSources.some((source) => source.endsWith('functions/tools/index.ts'))).toBe(true);
    expect(initSources.some((source) => source.endsWith('functions/handlers/step-runner.ts'))).toBe(true);
    expect(
      initSources.filter((source) =>
        /functions\/tools\/(aws|kubernetes|resolve)\/(?!endpoints\.ts$)|@kubernetes\/client-node/.test(
          source,
        ),
      ),
    ).toEqual([]);
    expect(families.sort()).toEqual(['aws', 'kubernetes', 'resource']);
    expect(atInit.length).toBeLessThan(chunks.length);
    const directory = assetDirectoryOf('stepRunnerReadOnly');
    expect(atInit.reduce((sum, file) => sum + statSync(join(directory, file)).size, 0)).toBeLessThanOrEqual(
      STEP_RUNNER_INIT_BUDGET_BYTES,
    );
  });

  it("bundleAwsSdk=true bundles the lockfile's AWS SDK: no import of it left, its sources inside, bigger", () => {
    for (const [key] of ENTRIES) {
      // Act
      const bundledSources = sourcesOf(key, withSdk);

      // Assess: what it still names is only what the lockfile does not have (the SDK's optional CRT and
      // SigV4a signers, required in a try block); the SDK and its Smithy packages are inside
      const named = [...bareImportsOf(key, withSdk)];
      expect(
        named.filter((name) => existsSync(join(PROJECT_ROOT, 'node_modules', name))),
        key,
      ).toEqual([]);
      expect(
        named.filter((name) => !name.startsWith('@aws-sdk/signature-v4')),
        key,
      ).toEqual([]);
      expect(
        bundledSources.some((source) => source.includes('node_modules/@aws-sdk/client-')),
        key,
      ).toBe(true);
      expect(
        bundledSources.some((source) => source.includes('node_modules/@smithy/')),
        key,
      ).toBe(true);
      expect(codeBytesOf(key, withSdk), key).toBeGreaterThan(codeBytesOf(key) + 200_000);
    }
  });

  it('bundleAwsSdk accepts only true or false (cdk.json) and "true" or "false" (-c on the command line)', () => {
    expect([undefined, false, 'false', true, 'true'].map(bundleAwsSdkFrom)).toEqual([
      false,
      false,
      false,
      true,
      true,
    ]);
    expect(() => bundleAwsSdkFrom('yes')).toThrow(
      'CDK context bundleAwsSdk: "yes" is neither true nor false; use -c bundleAwsSdk=true to bundle the lockfile\'s AWS SDK, or leave it false (cdk.json) to use the runtime\'s',
    );
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
