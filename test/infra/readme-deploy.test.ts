import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { WEBHOOK_BODY_LIMIT } from '../../functions/handlers/ingest.ts';
import { EnvironmentConfig } from '../../infra/config/environment.ts';
import { ENVIRONMENTS_CONTEXT_KEY, parseEnvironments } from '../../infra/config/load.ts';
import { PROJECT_ROOT } from '../../infra/constructs/handler-function.ts';
import { CDK_JSON } from './support.ts';

const README = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');

describe('README: deploying to AWS', () => {
  it('gives an Alertmanager webhook_configs snippet that sends the bearer token to the ingest route', () => {
    // Prepare
    const snippet = /```yaml\n([\s\S]*?)```/.exec(README.slice(README.indexOf('### Alertmanager')))?.[1];

    // Act
    const config = parse(snippet ?? '') as {
      receivers: Array<{
        webhook_configs: Array<{ url: string; http_config: { authorization: Record<string, string> } }>;
      }>;
    };

    // Assess
    const webhook = config.receivers[0]!.webhook_configs[0]!;
    expect(new URL(webhook.url.replace('<id>', 'abc')).pathname).toBe('/webhooks/alertmanager');
    expect(webhook.http_config.authorization.type).toBe('Bearer');
    expect(webhook.http_config.authorization.credentials_file).toMatch(/^\/etc\/alertmanager\/secrets\//);
    expect(WEBHOOK_BODY_LIMIT).toBe(1024 * 1024);
    expect(README).toContain('Bodies over 1 MB are refused');
  });

  it('documents every environment key cdk.json accepts', () => {
    for (const key of Object.keys(EnvironmentConfig.shape)) {
      expect(README, key).toMatch(new RegExp(`^\\|[^|]*\`${key}[.\`]`, 'm'));
    }
  });

  it('gives the deploy commands', () => {
    for (const command of ['npx cdk synth -c env=prod', 'npx cdk deploy -c env=prod', 'npx cdk bootstrap']) {
      expect(README).toContain(command);
    }
  });

  it('bootstraps every account and region cdk.json deploys to', () => {
    const environments = parseEnvironments(CDK_JSON.context[ENVIRONMENTS_CONTEXT_KEY]);
    for (const [name, config] of Object.entries(environments)) {
      expect(README, name).toContain(`npx cdk bootstrap aws://${config.account}/${config.region}`);
    }
  });

  it('says prominently, before the commands, that cdk.json’s placeholder accounts, e-mails and endpoints must be replaced', () => {
    // Prepare
    const deploying = section('## Deploying to AWS');
    const warning = deploying.indexOf('**Before the first deploy');
    const commands = deploying.indexOf('npx cdk deploy');

    // Assess
    expect(warning).toBeGreaterThan(-1);
    expect(warning).toBeLessThan(commands);
    const paragraph = deploying.slice(warning, deploying.indexOf('\n\n', warning));
    for (const what of ['account', 'e-mail', 'example.com', 'prometheusUrl', 'tools.kubernetes.eks'])
      expect(paragraph, what).toContain(what);
  });

  it('says the control API needs lambda:InvokeFunction as well as lambda:InvokeFunctionUrl, with a policy that grants both', () => {
    // Prepare
    const operator = section('### Operator API');
    const policy = JSON.parse(/```json\n([\s\S]*?)```/.exec(operator)?.[1] ?? '{}') as {
      Statement?: Array<{ Action: string[]; Condition?: Record<string, Record<string, unknown>> }>;
    };

    // Assess
    const actions = (policy.Statement ?? []).flatMap((statement) => statement.Action);
    expect(actions).toEqual(expect.arrayContaining(['lambda:InvokeFunctionUrl', 'lambda:InvokeFunction']));
    expect(operator).toContain('October 2025');
    const invoke = policy.Statement!.find((statement) => statement.Action.includes('lambda:InvokeFunction'))!;
    expect(invoke.Condition).toEqual({ Bool: { 'lambda:InvokedViaFunctionUrl': 'true' } });
  });

  it('says what lands in each dead-letter queue and after how many attempts', () => {
    const alarms = section('### What the alarms watch');
    expect(alarms).toMatch(/retried twice/);
    expect(alarms).not.toMatch(/no retries/);
    expect(section('## How it runs')).not.toMatch(/without async retries/);
    const dlq = section('### What lands in the dead-letter queues');
    for (const queue of ['dlq-event-delivery', 'dlq-classifier-failures', 'dlq-learning-recorder-failures'])
      expect(dlq, queue).toContain(queue);
    expect(dlq).toMatch(/3 attempts/);
  });

  it('confirms e-mail subscriptions with AuthenticateOnUnsubscribe beside the subscription step', () => {
    const subscriptions = section('### Approvers confirm their SNS subscription');
    expect(subscriptions).toContain('--authenticate-on-unsubscribe true');
    expect(subscriptions).toContain('npx runbook confirm-subscription');
    expect(subscriptions).toContain('ConfirmationWasAuthenticated');
    expect(subscriptions).not.toMatch(/choose \*\*Confirm subscription\*\*/);
  });

  it('states the Node.js requirement and why Node 20 works despite npm’s EBADENGINE warning', () => {
    const quickstart = section('## Quickstart');
    expect(quickstart).toContain('Node.js 20.19');
    expect(quickstart).toContain('EBADENGINE');
    expect(quickstart).toContain('Promise.withResolvers');
    expect(quickstart).toContain('nodejs22.x');
    // …naming the requirement the dependency really declares (the lockfile's), and ours unchanged
    const lock = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { version?: string; engines?: { node?: string } }>;
    };
    const engine = lock.packages['node_modules/aws-local-stepfunctions']!;
    expect(quickstart).toContain(`aws-local-stepfunctions@${engine.version}`);
    expect(quickstart).toContain(`required: { node: '${engine.engines!.node}' }`);
    const manifest = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
      engines: { node: string };
    };
    expect(manifest.engines.node).toBe('>=20.19');
  });
});

/** The README from a heading to the next heading of the same or a higher level (code blocks are no headings). */
function section(heading: string): string {
  const lines = README.split('\n');
  const start = lines.indexOf(heading);
  expect(start, heading).toBeGreaterThan(-1);
  const level = heading.split(' ')[0]!.length;
  let fenced = false;
  let end = lines.length;
  for (let index = start + 1; index < lines.length; index++) {
    const line = lines[index]!;
    if (line.startsWith('```')) fenced = !fenced;
    const hashes = /^(#+) /.exec(line)?.[1]?.length;
    if (!fenced && hashes !== undefined && hashes <= level) {
      end = index;
      break;
    }
  }
  return lines.slice(start + 1, end).join('\n');
}
