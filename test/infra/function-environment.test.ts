import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FunctionKey, RunbookAutopilotStack } from '../../infra/stacks/runbook-autopilot-stack.ts';
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
 * Each function's environment, as synthesized, is enough for its wiring in
 * functions/composition/aws.ts: the very code the Lambda runs builds its services from it (clients
 * are built, nothing is called; Secrets Manager is stubbed).
 */

const secrets = vi.hoisted(() => ({ asked: [] as string[] }));
vi.mock('@aws-lambda-powertools/parameters/secrets', () => ({
  getSecret: async (name: string) => {
    secrets.asked.push(name);
    return 'a-secret-value-from-secrets-manager';
  },
}));

type Composition = typeof import('../../functions/composition/aws.ts');

const WIRING: Record<FunctionKey, (aws: Composition) => Promise<unknown>> = {
  ingest: async (aws) => {
    const wiring = aws.ingestWiring();
    return { ...wiring, auth: await wiring.auth() };
  },
  classifier: async (aws) => aws.classifierWiring(),
  // Its own module (the tool families' chunks stay out of the other bundles); it shares aws.ts's.
  stepRunnerReadOnly: async () =>
    (await import('../../functions/composition/aws-step-runner.ts')).stepRunnerWiring(),
  stepRunnerMutating: async () =>
    (await import('../../functions/composition/aws-step-runner.ts')).stepRunnerWiring(),
  approvalRequest: async (aws) => ({ ...aws.approvalsWiring(), keys: aws.linkSigningKeys() }),
  approvalWeb: async (aws) => ({ ...aws.approvalsWiring(), keys: aws.linkSigningKeys() }),
  control: async (aws) => ({ ...aws.controlWiring(), runbooks: aws.runbooks() }),
  learningRecorder: async (aws) => aws.learningWiring(),
};

/** Every variable composition/aws.ts reads (cleared first, so only the function's own count). */
const WIRED_VARIABLES = [
  'TABLE_NAME',
  'EVENT_BUS_NAME',
  'APPROVALS_TOPIC_ARN',
  'ESCALATIONS_TOPIC_ARN',
  'STATE_MACHINE_ARN_PREFIX',
  'LINK_SIGNING_KEY_SECRET',
  'INGEST_TOKEN_SECRET',
  'RUNBOOK_AUTOPILOT_CONFIG',
];

let synthesized: Synthesized;
let stack: RunbookAutopilotStack;
const saved = { ...process.env };

beforeAll(() => {
  synthesized = synthesize({ context: { env: 'dev' } });
  stack = synthesized.stacks[0]!;
}, 120_000);

afterAll(() => removeOutput(synthesized));

afterEach(() => {
  process.env = { ...saved };
  secrets.asked.length = 0;
});

describe('function environments satisfy the AWS composition', () => {
  it.each(Object.keys(WIRING) as FunctionKey[])(
    '%s builds its services from its variables alone',
    async (key) => {
      // Prepare: only this function's variables
      const template = synthesized.templates.dev!.toJSON();
      const resource = template.Resources[logicalIdOf(stack.functions[key].function)] as Json;
      const variables = ((propertiesOf(resource).Environment as Json).Variables ?? {}) as Record<
        string,
        unknown
      >;
      for (const name of WIRED_VARIABLES) delete process.env[name];
      for (const [name, value] of Object.entries(variables)) process.env[name] = resolvedValue(value);
      vi.resetModules();
      const aws = (await import('../../functions/composition/aws.ts')) as Composition;

      // Act
      const built = await WIRING[key](aws);

      // Assess
      expect(built).toBeDefined();
      expect(aws.config().environment).toBe('dev');
      if (key === 'ingest') expect(secrets.asked).toEqual(['runbook-autopilot/dev/ingest-token']);
      if (key === 'approvalRequest' || key === 'approvalWeb') {
        // Read on first use and again after a rotation (test/unit/handlers/link-signing-key.test.ts)
        expect((built as { keys: { secretId: string } }).keys.secretId).toBe(
          'runbook-autopilot/dev/link-signing-key',
        );
      }
    },
  );
});
