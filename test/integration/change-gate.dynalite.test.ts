import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DynamoLimitStore } from '../../functions/adapters/aws/dynamo-limits.ts';
import { DynamoStore } from '../../functions/adapters/aws/dynamo-store.ts';
import { approvalPublicId } from '../../functions/core/approval-links.ts';
import { RuntimeConfig } from '../../functions/core/config.ts';
import type {
  ExecutionContext,
  RiskApprovalTask,
  StepSpec,
} from '../../functions/core/execution-contract.ts';
import { budgetWindow } from '../../functions/core/limits/budget.ts';
import { ChangeGate, type ChangeGate as Gate } from '../../functions/core/limits/change-gate.ts';
import { EnvironmentPolicy } from '../../functions/core/policy.ts';
import { RiskApprovals } from '../../functions/core/risk/approvals.ts';
import { RiskAssessor } from '../../functions/core/risk/assessor.ts';
import { RiskCheckpoint } from '../../functions/core/risk/checkpoint.ts';
import type { ApprovalService } from '../../functions/core/services/approvals.ts';
import type { Clock } from '../../functions/ports/clock.ts';
import type { ExecutionEngine, TaskFailure } from '../../functions/ports/execution-engine.ts';
import { silentLogger } from '../../functions/ports/logger.ts';
import type { ToolContext, ToolImplementation } from '../../functions/ports/tools.ts';
import { declarationOf } from '../../functions/tools/declarations.ts';
import {
  contractAlert,
  contractApproval,
  contractExecution,
  contractIncident,
  contractLearningAggregate,
} from '../contract/store.contract.ts';
import { type DynaliteTable, startDynalite } from '../support/dynalite.ts';

/**
 * The change gate, the risk checkpoint and the expiry of risk approvals against the real store
 * (dynalite): counts, limits, budgets, scores and what each refusal leaves behind. The tools are the
 * platform's declarations with stand-in code (the pre-read's answer is the test's).
 */

const NOW = Date.parse('2026-03-03T02:10:00Z'); // Tuesday 03:10 in Berlin
const clock: Clock = { now: () => new Date(NOW) };
const ALERT = contractAlert({
  name: 'KubeNodeNotReady',
  environment: 'prod',
  resource: { type: 'k8s-node', id: 'ip-10-0-1-23', cluster: 'prod-eu', node: 'ip-10-0-1-23' },
});

function config(policy: unknown, environment = 'prod'): RuntimeConfig {
  return RuntimeConfig.parse({
    environment,
    publicBaseUrl: 'https://runbooks.example.com/',
    policy: EnvironmentPolicy.parse(policy),
    approverGroups: { 'sre-oncall': ['alice@example.com', 'bob@example.com'] },
  });
}

const PROD_RISK = {
  environmentPoints: 20,
  businessHours: {
    days: ['mon', 'tue', 'wed', 'thu', 'fri'],
    from: '08:00',
    to: '18:00',
    timezone: 'Europe/Berlin',
  },
  thresholds: { approve: 40, approveWithQuorum2: 60, refuse: 95 },
  approverGroups: ['sre-oncall'],
};

function execution(overrides: Partial<ExecutionContext> = {}): ExecutionContext {
  return {
    id: 'exec-0001',
    runbookId: 'node-not-ready',
    runbookVersion: '1.0.0',
    incidentId: 'inc-0001',
    environment: 'prod',
    dryRun: false,
    approvalRiskThreshold: 99,
    changeFreeze: false,
    startedAt: new Date(NOW).toISOString(),
    ...overrides,
  };
}

function drainStep(overrides: Partial<StepSpec> = {}): StepSpec {
  return {
    id: 'drain-node',
    name: 'Drain the node',
    phase: 'recover',
    type: 'remediation',
    tool: 'k8s.drain-node',
    parameters: { node: 'ip-10-0-1-23' },
    risk: 'medium',
    mutating: true,
    timeoutSeconds: 300,
    outputBudgetBytes: 0,
    blastRadius: { max: 5, perKind: true },
    ...overrides,
  };
}

/** k8s.drain-node's declaration; its pre-read answers what the test says. */
function drainTool(preRead: () => Promise<{ count: number; how: string }>): ToolImplementation {
  return {
    declaration: declarationOf('k8s.drain-node'),
    run: async () => ({}),
    countTouched: () => preRead(),
  };
}

function toolContext(): ToolContext {
  return {
    signal: new AbortController().signal,
    dryRun: false,
    execution: execution(),
    deadline: NOW + 60_000,
    change: { key: 'change-key-0001', since: new Date(NOW).toISOString(), repeat: false },
    log: () => {},
  };
}

describe('the change gate and the risk checkpoint on dynalite', () => {
  let table: DynaliteTable;
  let store: DynamoStore;
  let limits: DynamoLimitStore;

  beforeEach(async () => {
    table = await startDynalite();
    store = new DynamoStore({ client: table.client, tableName: table.tableName, retentionDays: 30, clock });
    limits = new DynamoLimitStore({ client: table.client, tableName: table.tableName, retentionDays: 30 });
  });
  afterEach(async () => {
    await table.stop();
  });

  function gate(policy: unknown): { gate: Gate; risk: RiskAssessor } {
    const runtime = config(policy);
    const risk = new RiskAssessor({
      store,
      limits,
      clock,
      config: runtime,
      tools: { get: declarationOf, names: () => [] },
    });
    return {
      gate: new ChangeGate({ store, limits, risk, clock, logger: silentLogger, config: runtime }),
      risk,
    };
  }

  const request = (tool: ToolImplementation, overrides: Partial<Parameters<Gate['admit']>[0]> = {}) => ({
    execution: execution(),
    alert: ALERT,
    step: drainStep(),
    tool,
    parameters: { node: 'ip-10-0-1-23' },
    resource: { cluster: 'prod-eu' },
    attempt: 1,
    changeKey: 'change-key-0001',
    context: toolContext(),
    ...overrides,
  });

  it('refuses a drain whose pre-read counts more pods than the runbook allows, saying what it found', async () => {
    // Prepare
    const { gate: changes } = gate({});
    const tool = drainTool(async () => ({ count: 7, how: '7 pod(s) to evict from ip-10-0-1-23' }));

    // Act
    const verdict = await changes.admit(request(tool));

    // Assess
    expect(verdict).toEqual({
      admitted: false,
      name: 'Safety.LimitExceeded',
      message:
        "drain-node would touch 7 pods (7 pod(s) to evict from ip-10-0-1-23), over the runbook's limit of 5 (safetyLimits.blastRadius.perKind.pod); it did not run",
    });
  });

  it('refuses when the pre-read cannot count: no count, no limit to check', async () => {
    // Prepare
    const { gate: changes } = gate({});
    const tool = drainTool(async () => {
      throw new Error('k8s.drain-node: list pods: 403 Forbidden');
    });

    // Act
    const verdict = await changes.admit(request(tool));

    // Assess
    expect(verdict).toMatchObject({ admitted: false, name: 'Safety.LimitExceeded' });
    expect(verdict.admitted === false && verdict.message).toContain('403 Forbidden');
  });

  it('takes the count from the budget; a change the target refused gives it back, a made one is a recent change', async () => {
    // Prepare
    const { gate: changes, risk } = gate({ limits: { changeBudget: { perHour: 5 } } });
    const tool = drainTool(async () => ({ count: 3, how: '3 pod(s) to evict' }));
    const window = budgetWindow(new Date(NOW)).windowStart;

    // Act
    const first = await changes.admit(request(tool));
    const usedAfterAdmit = await limits.budgetUsed('k8s:prod-eu', window);
    if (!first.admitted) throw new Error('refused');
    await changes.settle(request(tool), first.admission, { changedNothing: true });
    const usedAfterRefusedChange = await limits.budgetUsed('k8s:prod-eu', window);
    const second = await changes.admit(request(tool, { changeKey: 'change-key-0002', attempt: 2 }));
    if (!second.admitted) throw new Error('refused');
    await changes.settle(request(tool, { attempt: 2 }), second.admission, { changedNothing: false });
    const later = await risk.assessChange({
      execution: execution(),
      alert: ALERT,
      step: drainStep(),
      attempt: 3,
    });

    // Assess
    expect(usedAfterAdmit).toBe(3);
    expect(usedAfterRefusedChange).toBe(0);
    expect(await limits.budgetUsed('k8s:prod-eu', window)).toBe(3);
    expect(later.factors.find((factor) => factor.factor === 'recent-changes')).toMatchObject({ points: 5 });
  });

  it('a dry run is refused where a real run would be, and consumes nothing', async () => {
    // Prepare
    const { gate: changes } = gate({ limits: { changeBudget: { perHour: 2 } } });
    const tool = drainTool(async () => ({ count: 3, how: '3 pod(s) to evict' }));

    // Act
    const verdict = await changes.admit(request(tool, { execution: execution({ dryRun: true }) }));

    // Assess
    expect(verdict).toMatchObject({ admitted: false, name: 'Safety.LimitExceeded' });
    expect(verdict.admitted === false && verdict.message).toContain('a real run would not run it');
    expect(await limits.budgetUsed('k8s:prod-eu', budgetWindow(new Date(NOW)).windowStart)).toBe(0);
  });

  it('refuses a change whose score, counted as it was about to run, needs an approval nobody gave', async () => {
    // Prepare: 3 am in prod, a high-risk drain of three pods: 30 + 20 + 6 + 10 = 66
    const { gate: changes } = gate({ risk: PROD_RISK });
    const tool = drainTool(async () => ({ count: 3, how: '3 pod(s) to evict' }));

    // Act
    const verdict = await changes.admit(request(tool, { step: drainStep({ risk: 'high' }) }));

    // Assess
    expect(verdict).toMatchObject({ admitted: false, name: 'Approval.Required' });
    expect(verdict.admitted === false && verdict.message).toMatch(
      /^drain-node: risk 66 of 100: .*needs two approvals/,
    );
    expect(await limits.getRiskAssessment('exec-0001', 'step:drain-node')).toMatchObject({
      score: 66,
      decision: 'approve-quorum-2',
      blastRadius: { kind: 'pod', count: 3 },
      outcome: 'refused: needs 2 approval(s) and none covers it',
    });
  });

  describe('at the checkpoint', () => {
    async function checkpoint(policy: unknown, options: { failures?: number; approved?: number } = {}) {
      const runtime = config(policy);
      const risk = new RiskAssessor({
        store,
        limits,
        clock,
        config: runtime,
        tools: { get: declarationOf, names: () => [] },
      });
      const asked: RiskApprovalTask[] = [];
      await store.openIncident(contractIncident({ alert: ALERT }));
      if (options.failures)
        await store.putLearningAggregate(
          contractLearningAggregate({
            runbookId: 'node-not-ready',
            executions: options.failures,
            succeeded: 0,
            failed: options.failures,
            byAlert: { KubeNodeNotReady: { executions: options.failures, succeeded: 0 } },
          }),
        );
      if (options.approved)
        await store.createApproval(
          contractApproval({
            executionId: 'exec-0001',
            target: { kind: 'phase', id: 'recover' },
            quorum: options.approved,
            status: 'approved',
          }),
        );
      await limits.putRiskAssessment({
        executionId: 'exec-0001',
        target: 'execution',
        runbookId: 'node-not-ready',
        environment: 'prod',
        score: 0,
        decision: 'autonomous',
        factors: [],
        changes: [
          {
            phase: 'recover',
            id: 'drain-node',
            name: 'Drain the node',
            tool: 'k8s.drain-node',
            risk: 'high',
            parameters: { node: '{{ alert.resource.node }}' },
          },
        ],
        assessedAt: new Date(NOW).toISOString(),
      });
      const gateAt = new RiskCheckpoint({
        store,
        limits,
        risk,
        requester: { request: async (payload) => asked.push(payload) },
        tools: { get: declarationOf, names: () => [] },
        clock,
        logger: silentLogger,
      });
      return { gateAt, asked };
    }

    it('asks for two approvers with the checkpoint’s token when the phase’s score needs them', async () => {
      // Prepare
      const { gateAt, asked } = await checkpoint({ risk: PROD_RISK }, { failures: 1 });

      // Act
      const held = await gateAt.arrive(execution(), { before: 'recover', mutating: true }, 'token-recover');

      // Assess
      expect(held).toEqual({ held: true, reason: 'risk 85: 2 approval(s)' });
      expect(asked).toHaveLength(1);
      expect(asked[0]).toMatchObject({
        kind: 'risk-approval',
        taskToken: 'token-recover',
        approval: {
          target: { kind: 'phase', id: 'recover' },
          quorum: 2,
          risk: 'high',
          plan: [{ id: 'drain-node', parameters: { node: 'ip-10-0-1-23' } }],
        },
      });
    });

    it('passes when an approval with enough approvers covers the phase, and on a phase that changes nothing', async () => {
      // Prepare
      const { gateAt, asked } = await checkpoint({ risk: PROD_RISK }, { failures: 1, approved: 2 });

      // Act
      const covered = await gateAt.arrive(execution(), { before: 'recover', mutating: true }, 't1');
      const diagnostics = await gateAt.arrive(execution(), { before: 'diagnose', mutating: false }, 't2');

      // Assess
      expect(covered).toEqual({ held: false });
      expect(diagnostics).toEqual({ held: false });
      expect(asked).toEqual([]);
    });

    it('fails the checkpoint with Safety.RiskRefused when the score is refused', async () => {
      // Prepare: four failures in four runs, at 3 am in prod, near a freeze
      const { gateAt } = await checkpoint(
        { risk: { ...PROD_RISK, thresholds: { approve: 40, approveWithQuorum2: 60, refuse: 80 } } },
        { failures: 4 },
      );

      // Act
      const arriving = gateAt.arrive(execution(), { before: 'recover', mutating: true }, 't1');

      // Assess
      await expect(arriving).rejects.toMatchObject({
        name: 'Safety.RiskRefused',
        message: expect.stringMatching(
          /^drain-node: risk 85 of 100: .* refuses a change at this score, so nothing before recover ran$/,
        ),
      });
    });
  });

  it('expires a risk approval nobody decided: the checkpoint holding its token fails with Approval.Expired', async () => {
    // Prepare
    const failures: Array<{ token: string; failure: TaskFailure }> = [];
    const engine = {
      sendTaskFailure: async (token: string, failure: TaskFailure) => {
        failures.push({ token, failure });
      },
    } as unknown as ExecutionEngine;
    await store.createExecution(contractExecution());
    await store.createApproval(
      contractApproval({
        approvalKey: 'phase-recover-risk',
        requirement: 'risk-policy',
        target: { kind: 'phase', id: 'recover' },
        expiresAt: new Date(NOW - 1_000).toISOString(),
        taskToken: 'token-recover',
      }),
    );
    await store.createApproval(
      contractApproval({ approvalKey: 'phase-other', expiresAt: new Date(NOW - 1_000).toISOString() }),
    );
    const approvals = new RiskApprovals({
      approvals: {} as ApprovalService,
      config: config({ risk: PROD_RISK }),
      store,
      engine,
      clock,
      logger: silentLogger,
    });

    // Act
    const first = await approvals.expireOverdue();
    const again = await approvals.expireOverdue();

    // Assess
    expect(first).toEqual({ expired: 1 });
    expect(again).toEqual({ expired: 0 });
    expect(failures).toEqual([
      {
        token: 'token-recover',
        failure: {
          error: 'Approval.Expired',
          cause: `no decision on the approval the risk policy asked before recover by ${new Date(NOW - 1_000).toISOString()}`,
        },
      },
    ]);
    const expired = await store.getApproval('exec-0001', 'phase-recover-risk');
    expect(expired?.status).toBe('expired');
    expect(approvalPublicId('exec-0001', 'phase-recover-risk')).toBe(expired?.id);
  });
});
