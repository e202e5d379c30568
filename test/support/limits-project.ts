import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LearningAggregate } from '../../functions/core/records.ts';
import { CATALOG_FILE, runbookCatalogText } from '../../functions/core/runbook/catalog.ts';
import type { Clock } from '../../functions/ports/clock.ts';
import { TOOL_CATALOG } from '../../functions/tools/declarations.ts';
import { alertmanagerBody } from '../../local/alert-payloads.ts';
import { FakeKubeApi } from '../../local/demo/fake-kube-api.ts';
import { ENVIRONMENTS_CONTEXT_KEY, loadPolicies } from '../../local/project.ts';
import { compileRunbookFiles, listRunbookFiles, validateRunbookFiles } from '../../local/runbook-files.ts';
import { ROOT } from './runbooks.ts';

/**
 * A project for the limits and risk tests: a copy of cdk.json whose environments carry the policies
 * an operator would write (risk thresholds and business hours in dev and prod, a change budget in
 * staging), the fixtures of test/fixtures/runbooks/limits compiled against them, a simulated cluster,
 * and a clock moved to the time of day a test needs.
 */

export const LIMITS_FIXTURES = join(ROOT, 'test/fixtures/runbooks/limits');

export const BERLIN_HOURS = {
  days: ['mon', 'tue', 'wed', 'thu', 'fri'],
  from: '08:00',
  to: '18:00',
  timezone: 'Europe/Berlin',
};
export const THRESHOLDS = { approve: 40, approveWithQuorum2: 60, refuse: 95 };
/** Tuesday 12:00 and 03:00 in Berlin (CET). */
export const TUESDAY_NOON = Date.parse('2026-03-03T11:00:00Z');
export const TUESDAY_3AM = Date.parse('2026-03-03T02:00:00Z');

/** The environments' policies the tests deploy with (cdk.json `policy`). */
export const LIMITS_POLICIES = {
  dev: {
    approval: { requiredFromRisk: 'critical' },
    mutatingSteps: 'unrestricted',
    risk: {
      environmentPoints: 0,
      businessHours: BERLIN_HOURS,
      thresholds: THRESHOLDS,
      approverGroups: ['sre-oncall'],
    },
  },
  staging: {
    approval: { requiredFromRisk: 'critical' },
    limits: { changeBudget: { perHour: 4 } },
  },
  prod: {
    approval: { requiredFromRisk: 'critical' },
    risk: {
      environmentPoints: 20,
      businessHours: BERLIN_HOURS,
      thresholds: THRESHOLDS,
      approverGroups: ['sre-oncall'],
    },
  },
};

export interface LimitsProject {
  cwd: string;
  statemachinesDir: string;
}

/** A copy of cdk.json with the tests' policies, and the fixtures compiled against them. */
export function makeLimitsProject(): LimitsProject {
  const cwd = mkdtempSync(join(tmpdir(), 'limits-project-'));
  const cdk = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8'));
  const environments = cdk.context[ENVIRONMENTS_CONTEXT_KEY];
  for (const [name, policy] of Object.entries(LIMITS_POLICIES)) environments[name].policy = policy;
  writeFileSync(join(cwd, 'cdk.json'), JSON.stringify(cdk, null, 2));
  const statemachinesDir = join(cwd, 'statemachines');
  mkdirSync(statemachinesDir);
  const { files } = listRunbookFiles([LIMITS_FIXTURES]);
  const results = validateRunbookFiles(files, {
    tools: TOOL_CATALOG,
    policies: loadPolicies(join(cwd, 'cdk.json')),
  });
  for (const result of results)
    if (result.problems.length > 0) throw new Error(`${result.file}: ${JSON.stringify(result.problems)}`);
  const machines = compileRunbookFiles(results, statemachinesDir, TOOL_CATALOG);
  for (const machine of machines) writeFileSync(machine.outFile, machine.compiled!.text);
  writeFileSync(
    join(statemachinesDir, CATALOG_FILE),
    runbookCatalogText(machines.map((machine) => machine.runbook)),
  );
  return { cwd, statemachinesDir };
}

/** A clock that starts at `at` and runs at the real pace. */
export function clockFrom(at: number): Clock {
  const start = Date.now();
  return { now: () => new Date(at + (Date.now() - start)) };
}

/** One node and three one-replica Deployments in shop: checkout, search, cart. */
export async function shopCluster(): Promise<FakeKubeApi> {
  const kube = await FakeKubeApi.start({ autoReconcile: true });
  const node = 'ip-10-0-1-23.eu-west-1.compute.internal';
  kube.addNode({ name: node, usage: { cpu: '200m', memory: '2Gi' } });
  for (const name of ['checkout', 'search', 'cart'])
    kube.addDeployment({
      namespace: 'shop',
      name,
      replicas: 1,
      nodes: [node],
      containers: [
        { name, requests: { cpu: '100m', memory: '128Mi' }, usage: { cpu: '50m', memory: '100Mi' } },
      ],
    });
  return kube;
}

/** The Alertmanager webhook body of a `<deployment> needs capacity` alert. */
export function capacityAlert(alertname: string, deployment: string, environment: string) {
  return alertmanagerBody(
    { alertname, namespace: 'shop', deployment, severity: 'warning', environment },
    { summary: `${deployment} needs more replicas` },
  );
}

/** What learning knows after scale-checkout failed once for its alert. */
export function failedOnce(at: number): LearningAggregate {
  return {
    runbookId: 'scale-checkout',
    executions: 1,
    succeeded: 0,
    failed: 1,
    aborted: 0,
    withoutHuman: 1,
    humanIntervention: 0,
    rollbacks: 1,
    rollbackFailures: 0,
    approvalsRequested: 0,
    approvalsAnswered: 0,
    byAlert: { CheckoutNeedsCapacity: { executions: 1, succeeded: 0 } },
    steps: [],
    updatedAt: new Date(at).toISOString(),
  };
}
