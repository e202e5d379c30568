import { readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import type { Alert } from '../functions/core/alert.ts';
import {
  type NormalizeOptions,
  normalizeAlertmanager,
  normalizeCloudWatchAlarm,
} from '../functions/core/classifier/normalize.ts';
import { DetailType } from '../functions/core/classifier/payloads.ts';
import { type RunbookSelection, RunbookSelector } from '../functions/core/classifier/select.ts';
import { RuntimeConfig } from '../functions/core/config.ts';
import { RunbookAutopilotError, ValidationError } from '../functions/core/errors.ts';
import type { Runbook } from '../functions/core/runbook/model.ts';
import { TOOL_CATALOG } from '../functions/tools/declarations.ts';
import { cdkJsonPath, loadEnvironmentConfig, loadPolicies } from './project.ts';
import { listRunbookFiles, validateRunbookFiles } from './runbook-files.ts';

/**
 * `runbook match FILE`: which runbook an alert payload would start, and why each other runbook would
 * not, without a server. The payload is what Alertmanager posts (webhook v4) or what EventBridge
 * delivers (a CloudWatch Alarm State Change event); it is normalized and matched exactly as the
 * classifier does, with no learning history (every learned factor is 1).
 */

export interface MatchResult {
  alert: Alert;
  selection: RunbookSelection;
}

export class MatchInputError extends RunbookAutopilotError {
  override readonly name = 'MatchInputError';
}

/** The alerts a payload carries, normalized as the ingest and the classifier would. */
export function alertsOfPayload(payload: unknown, options: NormalizeOptions): Alert[] {
  const object = payload !== null && typeof payload === 'object' ? (payload as Record<string, unknown>) : {};
  if (Array.isArray(object.alerts)) return normalizeAlertmanager(payload, options);
  if (typeof object['detail-type'] === 'string') {
    if (object.source === 'aws.cloudwatch' && object['detail-type'] === DetailType.CloudWatchAlarmStateChange)
      return [normalizeCloudWatchAlarm(payload, options)];
    throw new MatchInputError(
      `an EventBridge event from ${String(object.source)} "${object['detail-type']}": only CloudWatch alarm state changes (aws.cloudwatch "${DetailType.CloudWatchAlarmStateChange}") start runbooks`,
    );
  }
  throw new MatchInputError(
    'neither an Alertmanager webhook body (with "alerts") nor an EventBridge event (with "detail-type")',
  );
}

export function matchAlerts(alerts: readonly Alert[], runbooks: readonly Runbook[]): MatchResult[] {
  const selector = new RunbookSelector(runbooks);
  return alerts.map((alert) => ({ alert, selection: selector.select(alert) }));
}

export function formatMatches(results: readonly MatchResult[]): string[] {
  const lines: string[] = [];
  for (const { alert, selection } of results) {
    const resource = `${alert.resource.type} ${alert.resource.id}`;
    lines.push(
      `${alert.name} (${alert.source}, ${alert.status}, ${alert.severity}, environment ${alert.environment}, ${resource})`,
    );
    const width = Math.max(...selection.considered.map((entry) => entry.runbookId.length), 0);
    for (const entry of selection.considered) {
      const mark = entry.outcome === 'selected' ? '✓' : '·';
      lines.push(`  ${mark} ${entry.runbookId.padEnd(width)}  ${entry.outcome}: ${entry.reason}`);
    }
    if (!selection.selected) lines.push('  no runbook would start: it would be recorded as unmatched');
    else if (alert.status === 'resolved')
      lines.push('  resolved: it would close an open incident of this alert, not start a runbook');
  }
  return lines;
}

export function matchCommand(
  io: { out: (line: string) => void; err: (line: string) => void; cwd: string },
  file: string,
  options: { runbooks: string; env: string; json?: boolean },
): number {
  const path = resolve(io.cwd, file);
  const shown = relative(io.cwd, path) || path;
  let payload: unknown;
  try {
    payload = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'no such file'
        : `not JSON: ${(error as Error).message}`;
    throw new MatchInputError(`${shown}: ${reason}`);
  }
  loadEnvironmentConfig(cdkJsonPath(io.cwd), options.env);
  const normalize: NormalizeOptions = {
    defaultEnvironment: options.env,
    environmentLabels: RuntimeConfig.shape.environmentLabels.parse(undefined),
  };
  let alerts: Alert[];
  try {
    alerts = alertsOfPayload(payload, normalize);
  } catch (error) {
    // The message names every problem with its path (e.g. alerts[1].labels.alertname).
    if (error instanceof ValidationError || error instanceof MatchInputError)
      throw new MatchInputError(`${shown}: ${error.message}`);
    throw error;
  }

  const { files } = listRunbookFiles([resolve(io.cwd, options.runbooks)]);
  const results = validateRunbookFiles(files, {
    tools: TOOL_CATALOG,
    policies: loadPolicies(cdkJsonPath(io.cwd)),
  });
  for (const result of results.filter((candidate) => candidate.problems.length > 0))
    io.err(`${relative(io.cwd, result.file)}: invalid, left out (npx runbook validate shows why)`);
  const runbooks = results.flatMap((result) =>
    result.runbook && result.problems.length === 0 ? [result.runbook] : [],
  );
  if (runbooks.length === 0) throw new MatchInputError(`no valid runbook in ${options.runbooks}/`);

  const matches = matchAlerts(alerts, runbooks);
  if (options.json) io.out(JSON.stringify(matches, null, 2));
  else for (const line of formatMatches(matches)) io.out(line);
  // Exit 1 when a firing alert would start nothing: usable in CI to check that alerts are covered.
  return matches.some(({ alert, selection }) => alert.status === 'firing' && !selection.selected) ? 1 : 0;
}
