import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatProblem } from '../../../../functions/core/errors.ts';
import type { StepSpec } from '../../../../functions/core/execution-contract.ts';
import { compiledLimit, limitFor, stepLimit } from '../../../../functions/core/limits/blast-radius.ts';
import {
  budgetFor,
  budgetScope,
  budgetWindow,
  LimitsPolicy,
} from '../../../../functions/core/limits/budget.ts';
import { validateRunbookText } from '../../../../functions/core/runbook/validate.ts';
import { TOOL_CATALOG } from '../../../../functions/tools/declarations.ts';
import { libraryFile } from '../../../support/library.ts';
import { compileFile, OPTIONS, ROOT } from '../../../support/runbooks.ts';

/** A copy of ec2-status-check-failed (the test library's) with its reboot widened, as written. */
function ec2RebootingFour(instanceIds: string): string {
  const text = readFileSync(join(ROOT, libraryFile('ec2-status-check-failed')), 'utf8');
  const widened = text.replace(
    /(tool: ec2\.reboot-instances\n\s+risk: high\n\s+parameters:\n\s+)instanceIds: \["\{\{ alert\.labels\.InstanceId \}\}"\]/,
    `$1instanceIds: ${instanceIds}`,
  );
  expect(widened).not.toBe(text);
  return widened;
}

describe('what a tool declares it touches', () => {
  it('every mutating tool declares how to count what one call touches, and only mutating tools do', () => {
    for (const name of TOOL_CATALOG.names()) {
      const declaration = TOOL_CATALOG.get(name)!;
      expect(declaration.blastRadius !== undefined, name).toBe(declaration.mutating);
    }
  });

  it('counts a literal list, distinct entries only, and leaves a template to run time', () => {
    // Prepare
    const reboot = TOOL_CATALOG.get('ec2.reboot-instances')!.blastRadius!;
    const drain = TOOL_CATALOG.get('k8s.drain-node')!.blastRadius!;
    const desired = TOOL_CATALOG.get('ecs.set-desired-count')!.blastRadius!;

    // Assess
    expect(reboot.fromParameters({ instanceIds: ['i-1', 'i-2', 'i-2', 'i-3'] })).toBe(3);
    expect(reboot.fromParameters({ instanceIds: '{{ steps.group.output.instanceIds }}' })).toBeUndefined();
    expect(drain.fromParameters({ node: 'ip-10-0-1-23' })).toBeUndefined();
    expect(drain.preRead).toBe(true);
    expect(desired.fromParameters({ increaseBy: 3 })).toBe(3);
    expect(desired.fromParameters({ desiredCount: 6 })).toBeUndefined();
  });
});

describe('the runbook limit a step gets', () => {
  it('is the kind’s own limit, else maxResourcesPerStep; the default is not baked into the machine', () => {
    // Assess
    const limits = { maxResourcesPerStep: 1, perKind: { pod: 50 } };
    expect(limitFor(limits, 'pod')).toEqual({ max: 50, from: 'safetyLimits.blastRadius.perKind.pod' });
    expect(limitFor(limits, 'node')).toEqual({
      max: 1,
      from: 'safetyLimits.blastRadius.maxResourcesPerStep',
    });
    expect(compiledLimit(limits, 'pod')).toEqual({ blastRadius: { max: 50, perKind: true } });
    expect(compiledLimit(limits, 'node')).toEqual({});
    expect(compiledLimit({ maxResourcesPerStep: 3 }, 'instance')).toEqual({ blastRadius: { max: 3 } });
    expect(stepLimit({}, 'instance').max).toBe(1);
    expect(stepLimit({ blastRadius: { max: 50, perKind: true } }, 'pod').from).toBe(
      'safetyLimits.blastRadius.perKind.pod',
    );
  });

  it('travels in the compiled step of a drain whose runbook gives pods their own limit', () => {
    // Act
    const compiled = compileFile('test/fixtures/runbooks/limits-compile/drain-flapping-node.yaml');

    // Assess
    const drain = compiled.definition.States['drain-node'] as unknown as { Parameters: { step: StepSpec } };
    expect(drain.Parameters.step.blastRadius).toEqual({ max: 30, perKind: true });
    const cordon = compiled.definition.States['cordon-neighbour'] as unknown as {
      Parameters: { step: StepSpec };
    };
    expect(cordon.Parameters.step.blastRadius).toBeUndefined();
  });
});

describe('runbook validate: checkBlastRadius', () => {
  it('catches a copy of ec2-status-check-failed rebooting four listed instances under maxResourcesPerStep 1, at file:line', () => {
    // Prepare
    const text = ec2RebootingFour(
      '["{{ resource.id }}", i-0b1b2c3d4e5f60718, i-0c1b2c3d4e5f60718, i-0d1b2c3d4e5f60718]',
    );

    // Act
    const result = validateRunbookText(text, OPTIONS);

    // Assess
    const problems = result.problems.filter((problem) => problem.check === 'checkBlastRadius');
    expect(problems).toHaveLength(1);
    const line = text.split('\n').findIndex((candidate) => candidate.includes('i-0b1b2c3d4e5f60718')) + 1;
    expect(formatProblem('ec2-status-check-failed.yaml', problems[0]!)).toBe(
      `ec2-status-check-failed.yaml:${line}:11  phases[1].steps[1].parameters.instanceIds: step reboot-instance would touch 4 instances (one instance per entry of instanceIds), over the runbook's limit of 1 (safetyLimits.blastRadius.maxResourcesPerStep): it would be refused every time it runs; touch fewer, or raise safetyLimits.blastRadius.perKind.instance`,
    );
  });

  it('leaves a list only run time knows to the step runner, and accepts a list within a per-kind limit', () => {
    // Prepare
    const templated = ec2RebootingFour('"{{ parameters.rebootTargets }}"').replace(
      '\napplicabilityRules:',
      '\nparameters:\n  rebootTargets:\n    description: instances to reboot\n    type: list\n    default: []\napplicabilityRules:',
    );
    const allowed = ec2RebootingFour('[i-0a1b2c3d4e5f60718, i-0b1b2c3d4e5f60718]').replace(
      'blastRadius: { maxResourcesPerStep: 1, maxPercentOfFleet: 5 }',
      'blastRadius: { maxResourcesPerStep: 1, perKind: { instance: 2 }, maxPercentOfFleet: 5 }',
    );

    // Act
    const runTime = validateRunbookText(templated, OPTIONS);
    const within = validateRunbookText(allowed, OPTIONS);

    // Assess
    expect(runTime.problems).toEqual([]);
    expect(within.problems).toEqual([]);
  });
});

describe('the environment change budget', () => {
  it('scopes Kubernetes changes by namespace (cluster-scoped ones by cluster) and AWS ones by service, account and region', () => {
    // Assess
    const resource = { cluster: 'prod-eu', namespace: 'shop', account: '111111111111', region: 'eu-west-1' };
    expect(budgetScope({ tool: 'k8s.scale', parameters: { namespace: 'cart' }, resource })).toBe(
      'k8s:prod-eu/cart',
    );
    expect(budgetScope({ tool: 'k8s.drain-node', parameters: { node: 'n1' }, resource })).toBe('k8s:prod-eu');
    expect(budgetScope({ tool: 'ec2.reboot-instances', parameters: { instanceIds: [] }, resource })).toBe(
      'aws:111111111111/eu-west-1/ec2',
    );
    expect(
      budgetScope({ tool: 'ecs.set-desired-count', parameters: { region: 'us-east-1' }, resource: {} }),
    ).toBe('aws:-/us-east-1/ecs');
  });

  it('is the named scope’s budget, else perHour; none when the environment sets none', () => {
    // Prepare
    const policy = LimitsPolicy.parse({ changeBudget: { perHour: 20, scopes: { 'k8s:prod-eu/cart': 0 } } });

    // Assess
    expect(budgetFor(policy, 'k8s:prod-eu/cart')).toEqual({
      max: 0,
      from: 'policy.limits.changeBudget.scopes["k8s:prod-eu/cart"]',
    });
    expect(budgetFor(policy, 'k8s:prod-eu/shop')).toEqual({
      max: 20,
      from: 'policy.limits.changeBudget.perHour',
    });
    expect(budgetFor(LimitsPolicy.parse({}), 'k8s:prod-eu/shop')).toBeUndefined();
    expect(budgetWindow(new Date('2026-03-03T02:59:59.999Z'))).toEqual({
      windowStart: '2026-03-03T02:00:00.000Z',
      windowEnd: '2026-03-03T03:00:00.000Z',
      expiresAt: '2026-03-03T04:00:00.000Z',
    });
  });
});
