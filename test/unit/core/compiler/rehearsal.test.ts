import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { type RehearsalScript, rehearse, sampleInput } from '../../../support/rehearsal.ts';
import { compileFile, ROOT } from '../../../support/runbooks.ts';

/**
 * Rehearsals (test/rehearsals/*.rehearsal.yaml): each case gives mocked step results and the expected
 * sequence of top-level states; the compiled machine runs in aws-local-stepfunctions with stubs.
 */

const Outcome = z.union([
  z.object({ output: z.unknown().optional(), status: z.string().optional() }).strict(),
  z.object({ error: z.string(), message: z.string().optional() }).strict(),
]);

const RehearsalCase = z
  .object({
    name: z.string(),
    environment: z.string().default('prod'),
    approvalRiskThreshold: z.number().optional(),
    steps: z.record(z.string(), z.union([Outcome, z.array(Outcome)])).optional(),
    approvals: z.record(z.string(), z.enum(['approve', 'reject', 'timeout'])).optional(),
    abortAt: z.array(z.string()).optional(),
    verifyAlert: z.enum(['resolved', 'pending']).optional(),
    compensations: z.record(z.string(), Outcome).optional(),
    alert: z.record(z.string(), z.unknown()).optional(),
    expect: z
      .object({
        status: z.enum(['SUCCEEDED', 'FAILED']),
        error: z.string().optional(),
        /** The whole sequence of top-level states. */
        fullPath: z.array(z.string()).optional(),
        /** A contiguous run of top-level states. */
        path: z.array(z.string()).optional(),
        entered: z.array(z.string()).optional(),
        notEntered: z.array(z.string()).optional(),
        calls: z.record(z.string(), z.number()).optional(),
      })
      .strict(),
  })
  .strict();

const RehearsalFile = z.object({ runbook: z.string(), cases: z.array(RehearsalCase).min(1) }).strict();

function containsRun(sequence: string[], run: string[]): boolean {
  for (let start = 0; start + run.length <= sequence.length; start++) {
    if (run.every((name, offset) => sequence[start + offset] === name)) return true;
  }
  return false;
}

const directory = join(ROOT, 'test/rehearsals');
const files = readdirSync(directory).filter((file) => file.endsWith('.rehearsal.yaml'));

describe.each(files)('%s', (file) => {
  const spec = RehearsalFile.parse(parse(readFileSync(join(directory, file), 'utf8')));
  const compiled = compileFile(spec.runbook);
  const topLevel = new Set(Object.keys(compiled.definition.States));

  it.each(spec.cases.map((testCase) => [testCase.name, testCase] as const))('%s', async (_name, testCase) => {
    // Prepare
    const input = sampleInput({
      environment: testCase.environment,
      ...(testCase.approvalRiskThreshold === undefined
        ? {}
        : { approvalRiskThreshold: testCase.approvalRiskThreshold }),
      ...(testCase.alert ? { alert: testCase.alert } : {}),
    });
    const script: RehearsalScript = {
      steps: testCase.steps ?? {},
      approvals: testCase.approvals ?? {},
      abortAt: testCase.abortAt ?? [],
      verifyAlert: testCase.verifyAlert ?? 'resolved',
      compensations: testCase.compensations ?? {},
    };

    // Act
    const result = await rehearse(compiled.definition, input, script);

    // Assess
    const path = result.entered.filter((name) => topLevel.has(name));
    const expected = testCase.expect;
    expect(result.status, `path: ${path.join(' > ')}\ncause: ${result.cause}`).toBe(expected.status);
    if (expected.error) expect(result.error).toBe(expected.error);
    if (expected.fullPath) expect(path).toEqual(expected.fullPath);
    if (expected.path) {
      expect(
        containsRun(path, expected.path),
        `expected run ${expected.path.join(' > ')}\nin ${path.join(' > ')}`,
      ).toBe(true);
    }
    for (const name of expected.entered ?? []) expect(result.entered).toContain(name);
    for (const name of expected.notEntered ?? []) expect(result.entered).not.toContain(name);
    for (const [state, count] of Object.entries(expected.calls ?? {})) {
      expect(result.calls.filter((call) => call.state === state).length, `calls of ${state}`).toBe(count);
    }
  });
});
