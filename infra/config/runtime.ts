import { isDeepStrictEqual } from 'node:util';
import { Token } from 'aws-cdk-lib';
import { RuntimeConfig } from '../../functions/core/config.ts';
import type { EnvironmentConfig } from './environment.ts';

/**
 * The approval-web function's own config cannot name its Function URL (the URL is created from the
 * function: a CloudFormation cycle). It never builds links (only approval-request and escalations
 * do), so it gets this reserved, unresolvable host (RFC 2606) instead.
 */
export const UNUSED_LINK_BASE = 'https://links-not-built-here.invalid/';

/**
 * Where escalations link an execution: its page in the Step Functions console (state machine names are
 * `<stack>-<runbook id>`, so the execution ARN is known from the ids alone).
 */
export function consoleExecutionLinkTemplate(
  region: string,
  account: string,
  namePrefix: string,
): string | undefined {
  // The console lives elsewhere in the China and GovCloud partitions: no link there rather than a wrong one.
  if (region.startsWith('cn-') || region.startsWith('us-gov-')) return undefined;
  const arn = `arn:aws:states:${region}:${account}:execution:${namePrefix}{runbookId}:{executionId}`;
  return `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${arn}`;
}

/**
 * RUNBOOK_AUTOPILOT_CONFIG for one environment, validated with the runtime's own schema so a function
 * never starts with a config it refuses. `publicBaseUrl` is validated with a stand-in when it is a
 * deploy-time token (the Function URL) and replaced afterwards.
 */
export function runtimeConfigOf(
  environment: string,
  config: EnvironmentConfig,
  publicBaseUrl: string,
  executionLinkTemplate?: string,
): RuntimeConfig {
  const isToken = Token.isUnresolved(publicBaseUrl);
  const runtime = RuntimeConfig.parse({
    environment,
    publicBaseUrl: isToken ? UNUSED_LINK_BASE : publicBaseUrl,
    policy: config.policy,
    approverGroups: config.approverGroups,
    escalationTargets: config.escalationTargets,
    approvalLinkTtlSeconds: config.approvals.linkTtl,
    approvalReminderSeconds: config.approvals.reminderAfter === 'off' ? 0 : config.approvals.reminderAfter,
    retentionDays: config.retention.recordsDays,
    auditRetentionDays: config.retention.auditDays,
    dryRun: config.dryRun,
    tools: config.tools,
    runbookParameters: config.runbookParameters,
    ignoredAlerts: config.ignoredAlerts,
    environmentLabels: config.environmentLabels,
    changeFreezeWindows: config.changeFreezeWindows,
    automation: config.automation,
    ...(executionLinkTemplate ? { executionLinkTemplate } : {}),
  });
  return isToken ? { ...runtime, publicBaseUrl } : runtime;
}

/**
 * The runtime config as the functions receive it, without the values they would fill in themselves:
 * Lambda allows 4 KB of environment variables per function, and every default the functions' own
 * schema supplies is left out (each key is dropped only when the parsed result stays exactly the same).
 * A deploy-time `publicBaseUrl` token is kept as it is.
 */
export function withoutDefaults(runtime: RuntimeConfig): Record<string, unknown> {
  const token = Token.isUnresolved(runtime.publicBaseUrl) ? runtime.publicBaseUrl : undefined;
  const full = RuntimeConfig.parse(token ? { ...runtime, publicBaseUrl: UNUSED_LINK_BASE } : runtime);
  const compact = structuredClone(full) as Record<string, unknown>;
  const unchanged = () => {
    const parsed = RuntimeConfig.safeParse(compact);
    return parsed.success && isDeepStrictEqual(parsed.data, full);
  };
  const prune = (node: Record<string, unknown>) => {
    for (const key of Object.keys(node)) {
      const kept = node[key];
      delete node[key];
      if (unchanged()) continue;
      node[key] = kept;
      if (kept !== null && typeof kept === 'object' && !Array.isArray(kept))
        prune(kept as Record<string, unknown>);
    }
  };
  prune(compact);
  return token ? { ...compact, publicBaseUrl: token } : compact;
}
