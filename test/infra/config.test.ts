import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { executionLink, RuntimeConfig } from '../../functions/core/config.ts';
import { EnvironmentConfig } from '../../infra/config/environment.ts';
import {
  ENVIRONMENTS_CONTEXT_KEY,
  EnvironmentConfigError,
  parseEnvironments,
  selectEnvironments,
} from '../../infra/config/load.ts';
import { checkRunbooksFit, escalationTargetsOf } from '../../infra/config/runbook-fit.ts';
import {
  consoleExecutionLinkTemplate,
  runtimeConfigOf,
  withoutDefaults,
} from '../../infra/config/runtime.ts';
import { PROJECT_ROOT } from '../../infra/constructs/handler-function.ts';
import { loadCompiledRunbooks } from '../../infra/constructs/runbook-artifacts.ts';
import { loadEnvironmentConfig, loadPolicies } from '../../local/project.ts';
import { libraryStatemachinesDir } from '../support/library.ts';
import { CDK_JSON } from './support.ts';

const ENVIRONMENTS = CDK_JSON.context[ENVIRONMENTS_CONTEXT_KEY] as Record<string, Record<string, unknown>>;
const RUNBOOKS = loadCompiledRunbooks(libraryStatemachinesDir()).map((compiled) => compiled.runbook);

/** cdk.json's environments with one change to `prod`. */
function withProd(change: (prod: Record<string, unknown>) => void): Record<string, unknown> {
  const environments = structuredClone(ENVIRONMENTS);
  change(environments.prod!);
  return environments;
}

function problemOf(raw: unknown): string {
  try {
    parseEnvironments(raw);
  } catch (error) {
    expect(error).toBeInstanceOf(EnvironmentConfigError);
    return (error as Error).message;
  }
  throw new Error('expected the configuration to be refused');
}

const WHERE = 'cdk.json context "runbook-autopilot:environments"';

describe('environment configuration (cdk.json context)', () => {
  it('parses the shipped dev, staging and prod environments', () => {
    // Act
    const environments = parseEnvironments(ENVIRONMENTS);

    // Assess
    expect(Object.keys(environments)).toEqual(['dev', 'staging', 'prod']);
    expect(environments.prod!.protectData).toBe(true);
    expect(environments.dev!.protectData).toBe(false);
    expect(environments.dev!.logLevel).toBe('DEBUG');
    expect(environments.prod!.approvals.linkTtl).toBe(1_800);
  });

  it('keeps the keys the embedded platform reads from the same file compatible', () => {
    // Prepare
    const cdkJson = join(PROJECT_ROOT, 'cdk.json');
    const environments = parseEnvironments(ENVIRONMENTS);

    // Act
    const policies = loadPolicies(cdkJson);

    // Assess: policy, approver groups and escalation targets mean the same to local/project.ts and infra
    for (const [name, config] of Object.entries(environments)) {
      const local = loadEnvironmentConfig(cdkJson, name);
      expect(policies[name]).toEqual(config.policy);
      expect(local.approverGroups).toEqual(config.approverGroups);
      expect(local.escalationTargets).toEqual(config.escalationTargets);
    }
  });

  it('gives the embedded platform the same tools, link lifetime and reminder as the deployment', () => {
    // Prepare: prod with an EKS cluster and no reminders, in a cdk.json of its own
    const eks = {
      'prod-eu': {
        clusterName: 'prod-eu',
        endpoint: 'https://0123456789ABCDEF0123456789ABCDEF.gr7.eu-west-1.eks.amazonaws.com',
        certificateAuthorityData: Buffer.from('-----BEGIN CERTIFICATE-----').toString('base64'),
      },
    };
    const environments = withProd((prod) => {
      prod.tools = { kubernetes: { eks }, prometheusUrl: 'https://prometheus.example.com/' };
      prod.approvals = { ...(prod.approvals as object), reminderAfter: 'off' };
    });
    const dir = mkdtempSync(join(tmpdir(), 'runbook-cdk-json-'));
    const file = join(dir, 'cdk.json');
    writeFileSync(file, JSON.stringify({ context: { [ENVIRONMENTS_CONTEXT_KEY]: environments } }));

    try {
      // Act
      const local = loadEnvironmentConfig(file, 'prod');
      const deployed = parseEnvironments(environments).prod!;

      // Assess
      expect(local.tools).toEqual(deployed.tools);
      expect(local.tools?.kubernetes.eks).toEqual(eks);
      expect(local.approvals).toMatchObject({ linkTtl: deployed.approvals.linkTtl, reminderAfter: 'off' });
      expect(deployed.approvals.reminderAfter).toBe('off');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fills defaults for an environment that names only its account, region and default target', () => {
    // Act
    const config = EnvironmentConfig.parse({
      account: '444444444444',
      region: 'us-east-1',
      escalationTargets: { default: ['oncall@example.com'] },
    });

    // Assess
    expect(config).toMatchObject({
      policy: { approval: { requiredFromRisk: 'high' }, mutatingSteps: 'compensation-or-approval' },
      approvals: { minimumQuorum: 1, linkTtl: 3_600, reminderAfter: 300 },
      retention: { recordsDays: 90, logDays: 30 },
      logLevel: 'INFO',
      publicBaseUrl: 'function-url',
      protectData: false,
      alarms: {
        notify: ['default'],
        deadLetters: { threshold: 1 },
        handlerErrors: { threshold: 1, period: 300 },
        throttles: { threshold: 1, period: 300 },
        failedExecutions: { threshold: 1, period: 900 },
        stoppedExecutions: { threshold: 1, period: 900 },
        expiredApprovals: { threshold: 1, period: 3_600 },
      },
      reservedConcurrency: { ingest: 10, approvalWeb: 5 },
      toolReachability: 'error',
    });
    expect(config.regions).toBeUndefined();
    expect(config.mutatingResourceTag).toBeUndefined();
  });

  it.each([
    [
      'a region that is not one',
      (prod: Record<string, unknown>) => {
        prod.region = 'eu-west';
      },
      `${WHERE}.prod.region: must be an AWS region such as eu-west-1 (got "eu-west")`,
    ],
    [
      'an account id that is a number',
      (prod: Record<string, unknown>) => {
        prod.account = 333333333333;
      },
      `${WHERE}.prod.account: expected string, got number`,
    ],
    [
      'an unknown log level',
      (prod: Record<string, unknown>) => {
        prod.logLevel = 'LOUD';
      },
      `${WHERE}.prod.logLevel: must be one of "DEBUG", "INFO", "WARN", "ERROR", got "LOUD"`,
    ],
    [
      'a log retention CloudWatch does not offer',
      (prod: Record<string, unknown>) => {
        prod.retention = { logDays: 10 };
      },
      `${WHERE}.prod.retention.logDays: must be one of the CloudWatch Logs retention periods: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653 (got 10)`,
    ],
    [
      'an approver that is not an e-mail address',
      (prod: Record<string, unknown>) => {
        (prod.approverGroups as Record<string, string[]>)['sre-oncall'] = ['alice'];
      },
      `${WHERE}.prod.approverGroups.sre-oncall[0]: must be an e-mail address (got "alice")`,
    ],
    [
      'a misspelled key',
      (prod: Record<string, unknown>) => {
        prod.alarmz = {};
      },
      `${WHERE}.prod.alarmz: unknown field "alarmz" (did you mean "alarms"?)`,
    ],
    [
      'no default escalation target',
      (prod: Record<string, unknown>) => {
        delete (prod.escalationTargets as Record<string, unknown>).default;
      },
      `${WHERE}.prod.escalationTargets: needs a "default" target: the classifier tells it when automation is blocked`,
    ],
    [
      'platform alarms for a target that does not exist',
      (prod: Record<string, unknown>) => {
        prod.alarms = { notify: ['nobody'] };
      },
      `${WHERE}.prod.alarms.notify[0]: "nobody" is not one of escalationTargets (default, sre-pager, sre-ticket, sre-chat, app-ticket, storefront-pager, storefront-ticket, storefront-chat)`,
    ],
    [
      'stuck steps told to a target that does not exist',
      (prod: Record<string, unknown>) => {
        prod.policy = { watch: { stuckSteps: { notify: ['default', 'nobody'] } } };
      },
      `${WHERE}.prod.policy.watch.stuckSteps.notify[1]: "nobody" is not one of escalationTargets (default, sre-pager, sre-ticket, sre-chat, app-ticket, storefront-pager, storefront-ticket, storefront-chat)`,
    ],
    [
      'a circuit breaker that never opens',
      (prod: Record<string, unknown>) => {
        prod.policy = { watch: { circuitBreaker: { failures: 0 } } };
      },
      `${WHERE}.prod.policy.watch.circuitBreaker.failures: must be at least 1, got 0`,
    ],
    [
      'a plain-http link base',
      (prod: Record<string, unknown>) => {
        prod.publicBaseUrl = 'http://approvals.example.com/';
      },
      `${WHERE}.prod.publicBaseUrl: must be "function-url" or an https URL (got "http://approvals.example.com/")`,
    ],
    [
      'a risk level that does not exist',
      (prod: Record<string, unknown>) => {
        prod.policy = { approval: { requiredFromRisk: 'hgih' } };
      },
      `${WHERE}.prod.policy.approval.requiredFromRisk: must be one of "low", "medium", "high", "critical", got "hgih"`,
    ],
    [
      'a freeze window with a bad time',
      (prod: Record<string, unknown>) => {
        prod.changeFreezeWindows = [{ name: 'nightly', days: ['mon'], from: '25:00', to: '01:00' }];
      },
      `${WHERE}.prod.changeFreezeWindows[0].from: must be HH:MM (24h) (got "25:00")`,
    ],
    [
      'an alarm period that is not whole minutes',
      (prod: Record<string, unknown>) => {
        prod.alarms = { handlerErrors: { period: '90s' } };
      },
      `${WHERE}.prod.alarms.handlerErrors.period: must be whole minutes, at most 1d (CloudWatch alarm periods) (got "90s")`,
    ],
    [
      'the local shell enabled on AWS',
      (prod: Record<string, unknown>) => {
        prod.tools = { shell: { enabled: true } };
      },
      `${WHERE}.prod.tools.shell.enabled: the shell tool runs on the embedded platform only; set it to false (got true)`,
    ],
    [
      'a reserved concurrency of 0 (it would switch the endpoint off)',
      (prod: Record<string, unknown>) => {
        prod.reservedConcurrency = { ingest: 0 };
      },
      `${WHERE}.prod.reservedConcurrency.ingest: must be at least 1, got 0`,
    ],
    [
      'a region list with something that is not a region',
      (prod: Record<string, unknown>) => {
        prod.regions = ['eu-west-1', 'europe'];
      },
      `${WHERE}.prod.regions[1]: must be an AWS region such as eu-west-1 (got "europe")`,
    ],
    [
      'a region list without the stack’s own region',
      (prod: Record<string, unknown>) => {
        prod.regions = ['us-east-1'];
      },
      `${WHERE}.prod.regions: must include the stack's own region eu-west-1 (the platform's functions and alarms are there)`,
    ],
    [
      'a default tool region outside the regions tools may act in',
      (prod: Record<string, unknown>) => {
        prod.tools = { ...(prod.tools as object), defaultRegion: 'us-east-1' };
      },
      `${WHERE}.prod.tools.defaultRegion: "us-east-1" is not one of the regions tools may act in (eu-west-1); add it to regions`,
    ],
    [
      'a resource tag condition without a value',
      (prod: Record<string, unknown>) => {
        prod.mutatingResourceTag = { key: 'runbook-autopilot' };
      },
      `${WHERE}.prod.mutatingResourceTag.value: is required (expected string)`,
    ],
  ])('refuses %s with one line naming the field', (_what, change, expected) => {
    // Act
    const message = problemOf(withProd(change));

    // Assess
    expect(message).toBe(expected);
    expect(message).not.toContain('\n');
  });

  it('refuses a bad environment name, no environments, and a missing context', () => {
    expect(problemOf({ ...ENVIRONMENTS, 'Prod!': ENVIRONMENTS.prod })).toBe(
      `${WHERE}: environment name "Prod!" must be lowercase letters, digits and hyphens, at most 16 characters`,
    );
    expect(problemOf({})).toMatch(
      /^cdk\.json context "runbook-autopilot:environments" names no environment: /,
    );
    expect(problemOf(undefined)).toMatch(/^cdk\.json context "runbook-autopilot:environments" is missing: /);
  });
});

describe('selecting environments (-c env=…)', () => {
  const appWith = (context: Record<string, unknown>) =>
    new App({ context: { [ENVIRONMENTS_CONTEXT_KEY]: ENVIRONMENTS, ...context } });

  it('selects every environment without -c env, and exactly one with it', () => {
    expect(selectEnvironments(appWith({}).node).map(([name]) => name)).toEqual(['dev', 'staging', 'prod']);
    expect(selectEnvironments(appWith({ env: 'prod' }).node).map(([name]) => name)).toEqual(['prod']);
  });

  it('leaves out an environment that runs on the embedded platform only, and says so when -c env names it', () => {
    // Prepare
    const laptop = { ...ENVIRONMENTS.dev, policy: { runsOn: 'embedded' } };
    const app = new App({ context: { [ENVIRONMENTS_CONTEXT_KEY]: { ...ENVIRONMENTS, laptop } } });
    const named = new App({
      context: { [ENVIRONMENTS_CONTEXT_KEY]: { ...ENVIRONMENTS, laptop }, env: 'laptop' },
    });

    // Act
    const selected = selectEnvironments(app.node).map(([name]) => name);

    // Assess
    expect(selected).toEqual(['dev', 'staging', 'prod']);
    expect(() => selectEnvironments(named.node)).toThrow(
      /environment "laptop" runs on the embedded platform only/,
    );
  });

  it('names the known environments when -c env names none of them', () => {
    expect(() => selectEnvironments(appWith({ env: 'qa' }).node)).toThrow(
      new EnvironmentConfigError(
        '-c env=qa: no such environment in cdk.json context "runbook-autopilot:environments" (known: dev, staging, prod)',
      ),
    );
  });
});

describe('RUNBOOK_AUTOPILOT_CONFIG', () => {
  const environments = parseEnvironments(ENVIRONMENTS);

  it.each(['dev', 'staging', 'prod'])(
    'is sent without the defaults the functions fill in again, and parses back to exactly the same (%s)',
    (name) => {
      // Prepare
      const runtime = runtimeConfigOf(name, environments[name]!, 'https://approvals.example.com/');

      // Act
      const sent = withoutDefaults(runtime);

      // Assess: smaller (Lambda allows 4 KB of variables), and nothing lost
      expect(JSON.stringify(sent).length).toBeLessThan(JSON.stringify(runtime).length * 0.8);
      expect(RuntimeConfig.parse(sent)).toEqual(runtime);
      expect(sent).toMatchObject({ environment: name, escalationTargets: runtime.escalationTargets });
      expect(sent).not.toHaveProperty('auditRetentionDays', 365);
    },
  );

  it.each(['dev', 'staging', 'prod'])(
    'is a RuntimeConfig the functions accept, with no secrets (%s)',
    (name) => {
      // Act
      const runtime = runtimeConfigOf(name, environments[name]!, 'https://approvals.example.com/');

      // Assess
      expect(RuntimeConfig.parse(runtime)).toEqual(runtime);
      expect(runtime).toMatchObject({
        environment: name,
        policy: environments[name]!.policy,
        approverGroups: environments[name]!.approverGroups,
        escalationTargets: environments[name]!.escalationTargets,
        approvalLinkTtlSeconds: environments[name]!.approvals.linkTtl,
        approvalReminderSeconds: environments[name]!.approvals.reminderAfter,
        retentionDays: environments[name]!.retention.recordsDays,
      });
      expect(JSON.stringify(runtime)).not.toMatch(/secret|token|password|key"/i);
    },
  );

  it('carries environment-wide freeze windows to the functions, which enforce them at the safety gate', () => {
    // Prepare
    const windows = [{ name: 'weekend', days: ['sat', 'sun'], from: '00:00', to: '00:00' }];
    const config = EnvironmentConfig.parse({ ...ENVIRONMENTS.prod, changeFreezeWindows: windows });

    // Act
    const runtime = runtimeConfigOf('prod', config, 'https://approvals.example.com/');

    // Assess
    expect(runtime.changeFreezeWindows).toEqual([
      expect.objectContaining({ name: 'weekend', days: ['sat', 'sun'] }),
    ]);
  });

  it('links escalations to the execution in the Step Functions console of its region', () => {
    // Act
    const template = consoleExecutionLinkTemplate('eu-west-1', '123456789012', 'runbook-autopilot-prod-');
    const runtime = runtimeConfigOf('prod', environments.prod!, 'https://approvals.example.com/', template);

    // Assess
    expect(
      executionLink(runtime, { id: 'node-memory-pressure-abc', runbookId: 'node-memory-pressure' }),
    ).toBe(
      'https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/arn:aws:states:eu-west-1:123456789012:execution:runbook-autopilot-prod-node-memory-pressure:node-memory-pressure-abc',
    );
    expect(consoleExecutionLinkTemplate('cn-north-1', '123456789012', 'x-')).toBeUndefined();
  });
});

describe('runbooks fit the environment (checked at synth)', () => {
  const environments = parseEnvironments(ENVIRONMENTS);

  it.each(['dev', 'staging', 'prod'])(
    'every shipped runbook can reach its approvers and targets in %s',
    (name) => {
      expect(() => checkRunbooksFit(name, environments[name]!, RUNBOOKS)).not.toThrow();
    },
  );

  it('refuses an approval whose quorum the approver groups cannot meet', () => {
    // Prepare: ec2-status-check-failed needs two approvers from sre-oncall and service-owners in prod
    const config = EnvironmentConfig.parse({
      ...ENVIRONMENTS.prod,
      approverGroups: {
        ...(ENVIRONMENTS.prod!.approverGroups as object),
        'sre-oncall': ['alice@example.com'],
      },
    });
    const lonely = {
      ...config,
      approverGroups: { ...config.approverGroups, 'service-owners': ['alice@example.com'] },
    };

    // Act / Assess
    expect(() => checkRunbooksFit('prod', lonely, RUNBOOKS)).toThrow(
      `${WHERE}.prod.approverGroups: runbook ec2-status-check-failed approval "prod-two-person-reboot" needs 2 approver(s) from sre-oncall, service-owners, but prod has 1`,
    );
  });

  it('refuses a runbook approval below the environment minimum quorum', () => {
    // Prepare
    const config = EnvironmentConfig.parse({ ...ENVIRONMENTS.prod, approvals: { minimumQuorum: 2 } });

    // Act / Assess
    expect(() => checkRunbooksFit('prod', config, RUNBOOKS)).toThrow(
      /prod\.approvals\.minimumQuorum: runbook alb-target-5xx approval "prod-remediation" has quorum 1, below prod's minimum of 2/,
    );
  });

  it('refuses a runbook that notifies a target the environment lacks', () => {
    // Prepare
    const targets = { ...(ENVIRONMENTS.prod!.escalationTargets as Record<string, string[]>) };
    delete targets['sre-pager'];
    const prod = ENVIRONMENTS.prod as { policy: { watch: Record<string, Record<string, unknown>> } };
    const config = EnvironmentConfig.parse({
      ...ENVIRONMENTS.prod,
      escalationTargets: targets,
      alarms: { notify: ['default'] },
      // the environment's own pages go to the default target only
      policy: {
        ...prod.policy,
        watch: {
          stuckSteps: { ...prod.policy.watch.stuckSteps, notify: ['default'] },
          circuitBreaker: { ...prod.policy.watch.circuitBreaker, notify: ['default'] },
        },
      },
    });

    // Act / Assess
    expect(() => checkRunbooksFit('prod', config, RUNBOOKS)).toThrow(
      /notifies "sre-pager", which prod does not define/,
    );
  });

  it.each(['dev', 'staging', 'prod'])(
    'the shipped %s environment configures the Prometheus and EKS cluster its runbooks use',
    (name) => {
      expect(environments[name]!.toolReachability).toBe('error');
      expect(environments[name]!.tools.prometheusUrl).toMatch(/^https:\/\//);
      expect(Object.keys(environments[name]!.tools.kubernetes.eks)).toContain(name);
      expect(checkRunbooksFit(name, environments[name]!, RUNBOOKS)).toEqual([]);
    },
  );

  it('refuses a runbook whose Prometheus tools the environment cannot reach, naming runbook, step, tool and setting', () => {
    // Prepare
    const config = EnvironmentConfig.parse({
      ...ENVIRONMENTS.prod,
      tools: { ...(ENVIRONMENTS.prod!.tools as object), prometheusUrl: undefined },
    });

    // Act / Assess
    expect(() => checkRunbooksFit('prod', config, RUNBOOKS)).toThrow(
      /^cdk\.json context "runbook-autopilot:environments"\.prod\.tools\.prometheusUrl: runbook node-filesystem-filling step [a-z0-9-]+ uses prometheus\.query(-range)?, which needs tools\.prometheusUrl \(or a "prometheus" parameter on the step\); prod sets none$/,
    );
  });

  it('accepts a Prometheus step that names its own Prometheus', () => {
    // Prepare: one runbook, one step, the URL on the step
    const config = EnvironmentConfig.parse({
      ...ENVIRONMENTS.prod,
      tools: { ...(ENVIRONMENTS.prod!.tools as object), prometheusUrl: undefined },
    });
    const memory = structuredClone(RUNBOOKS.find((runbook) => runbook.id === 'node-memory-pressure')!);
    const trend = memory.phases
      .flatMap((phase) => phase.steps)
      .find((step) => step.tool.startsWith('prometheus.'))!;
    trend.parameters = { ...trend.parameters, prometheus: 'https://prometheus.internal.example.com/' };

    // Act / Assess: the Kubernetes steps are still reachable, the one Prometheus step names its URL
    expect(checkRunbooksFit('prod', config, [memory])).toEqual([]);
  });

  it('refuses a runbook whose Kubernetes tools have no EKS cluster for the environment', () => {
    // Prepare
    const config = EnvironmentConfig.parse({
      ...ENVIRONMENTS.prod,
      tools: { ...(ENVIRONMENTS.prod!.tools as object), kubernetes: { eks: {} } },
    });

    // Act / Assess
    expect(() => checkRunbooksFit('prod', config, RUNBOOKS)).toThrow(
      /^cdk\.json context "runbook-autopilot:environments"\.prod\.tools\.kubernetes\.eks: runbook node-filesystem-filling step [a-z0-9-]+ uses k8s\.[a-z-]+, which needs an EKS cluster named "prod" in tools\.kubernetes\.eks \(the step names no cluster, so the environment's is used\); prod names none$/,
    );
  });

  it('only warns about unreachable tools when the environment says toolReachability: warn', () => {
    // Prepare
    const config = EnvironmentConfig.parse({
      ...ENVIRONMENTS.prod,
      toolReachability: 'warn',
      tools: { kubernetes: { eks: {} } },
    });

    // Act
    const warnings = checkRunbooksFit('prod', config, RUNBOOKS);

    // Assess: one line per runbook and tool, each naming the setting
    expect(warnings.length).toBeGreaterThanOrEqual(3);
    expect(warnings.some((line) => /runbook pod-crash-looping step .* uses k8s\./.test(line))).toBe(true);
    expect(warnings.some((line) => /runbook node-memory-pressure step .* uses prometheus\./.test(line))).toBe(
      true,
    );
    for (const line of warnings) expect(line).toMatch(/tools\.(prometheusUrl|kubernetes\.eks)/);
  });

  it('refuses a tool that runs on the embedded platform only, whatever toolReachability says', () => {
    // Prepare
    const config = EnvironmentConfig.parse({ ...ENVIRONMENTS.prod, toolReachability: 'warn' });
    const runbook = structuredClone(RUNBOOKS.find((candidate) => candidate.id === 'lambda-throttling')!);
    const step = runbook.phases[0]!.steps[0]!;
    step.tool = 'shell.exec';
    step.parameters = { command: 'uptime' };

    // Act / Assess
    expect(() => checkRunbooksFit('prod', config, [runbook])).toThrow(
      `${WHERE}.prod: runbook lambda-throttling step ${step.id} uses shell.exec, which runs on the embedded platform only and can never run on AWS; use another tool or keep the runbook out of prod (environmentConstraints.environments)`,
    );
  });

  it('refuses an unknown toolReachability with one line naming the field', () => {
    const message = problemOf(
      withProd((prod) => {
        prod.toolReachability = 'ignore';
      }),
    );
    expect(message).toBe(`${WHERE}.prod.toolReachability: must be one of "error", "warn", got "ignore"`);
  });

  it('reads targets from escalation triggers and from notify.message steps', () => {
    const memory = RUNBOOKS.find((runbook) => runbook.id === 'node-memory-pressure')!;
    expect(escalationTargetsOf(memory)).toEqual(
      expect.arrayContaining(['sre-chat', 'sre-pager', 'sre-ticket']),
    );
  });
});
