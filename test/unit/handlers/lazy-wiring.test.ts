import { describe, expect, it } from 'vitest';

const HANDLERS = [
  'ingest',
  'classifier',
  'step-runner',
  'approval-request',
  'approval-web',
  'control',
  'learning-recorder',
];

describe('Lambda entry points', () => {
  it.each(HANDLERS)('importing %s constructs nothing and needs no environment', async (name) => {
    // Prepare: none of the variables the AWS wiring requires is set
    for (const variable of [
      'TABLE_NAME',
      'EVENT_BUS_NAME',
      'APPROVALS_TOPIC_ARN',
      'ESCALATIONS_TOPIC_ARN',
      'STATE_MACHINE_ARN_PREFIX',
      'RUNBOOK_AUTOPILOT_CONFIG',
    ]) {
      delete process.env[variable];
    }

    // Act
    const module = (await import(`../../../functions/lambda/${name}.ts`)) as { handler: unknown };

    // Assess: the handler exists, and only its first invocation would read the environment
    expect(typeof module.handler).toBe('function');
  });

  it('fails the first invocation with a clear configuration error when the environment is missing', async () => {
    const { handler } = (await import('../../../functions/lambda/learning-recorder.ts')) as {
      handler: (event: unknown, context: unknown) => Promise<unknown>;
    };
    await expect(handler({}, {})).rejects.toThrow(
      /environment variable [A-Z_]+ is not set; the function.s infrastructure must set it/,
    );
    // A failed build is not kept: the next event tries again (and says the same), not a cached rejection.
    await expect(handler({}, {})).rejects.toThrow(/environment variable [A-Z_]+ is not set/);
  });
});
