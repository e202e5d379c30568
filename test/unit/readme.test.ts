import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateRunbookText } from '../../functions/core/runbook/validate.ts';
import { OPTIONS, ROOT } from '../support/runbooks.ts';

describe('README', () => {
  it('shows a full runbook example that validates', () => {
    // Prepare
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Runbook format'));
    const example = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];

    // Act
    const result = validateRunbookText(example ?? '', OPTIONS);

    // Assess
    expect(result.problems).toEqual([]);
    const runbook = result.runbook!;
    expect(runbook.applicabilityRules.length).toBeGreaterThan(0);
    expect(runbook.prerequisiteChecks.length).toBeGreaterThan(0);
    expect(runbook.conditionalBranching.length).toBeGreaterThan(0);
    expect(runbook.approvalRequirements.length).toBeGreaterThan(0);
    expect(runbook.rollbackProcedures.length).toBeGreaterThan(0);
    expect(runbook.escalationTriggers.length).toBeGreaterThan(0);
    expect(runbook.successMetrics.checks.length).toBeGreaterThan(0);
  });
});

describe('README: writing a runbook for a new alert', () => {
  it('ends with a runbook that validates, reads the resolved resource and a parameter, and answers its alert', () => {
    // Prepare
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### Writing a runbook for a new alert'));
    const example = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];

    // Act
    const result = validateRunbookText(example ?? '', OPTIONS);

    // Assess
    expect(result.problems).toEqual([]);
    expect(result.runbook?.answers?.alerts).toEqual(['OrdersApiErrorBudgetBurn']);
    expect(example).toContain('{{ resource.workload.name }}');
    expect(example).toContain('{{ parameters.errorRatioThreshold }}');
  });
});

describe('README tool reference', () => {
  it('is the one generated from the tool declarations (run `npm run compile` when this fails)', async () => {
    const { spliceToolReference, toolReferenceMarkdown } = await import('../../functions/tools/reference.ts');
    const { TOOL_DECLARATIONS } = await import('../../functions/tools/declarations.ts');
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(spliceToolReference(readme, toolReferenceMarkdown(TOOL_DECLARATIONS))).toBe(readme);
  });
});
