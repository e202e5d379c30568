import { readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import type { Alert } from '../functions/core/alert.ts';
import type { NormalizeOptions } from '../functions/core/classifier/normalize.ts';
import { RunbookSelector } from '../functions/core/classifier/select.ts';
import { RuntimeConfig } from '../functions/core/config.ts';
import { ValidationError } from '../functions/core/errors.ts';
import { describeResource } from '../functions/core/resource.ts';
import type { Runbook } from '../functions/core/runbook/model.ts';
import type { ToolCatalog } from '../functions/core/tool-catalog.ts';
import { TOOL_CATALOG } from '../functions/tools/declarations.ts';
import { CLOUDWATCH_CATALOG, PROMETHEUS_CATALOG } from './alert-catalog-data.ts';
import { catalogAlarm, catalogAlertmanagerBody, cloudWatchAlarmEvent } from './alert-payloads.ts';
import { alertsOfPayload, MatchInputError } from './match.ts';
import { cdkJsonPath, loadEnvironmentConfig, loadPolicies } from './project.ts';
import { listRunbookFiles, validateRunbookFiles } from './runbook-files.ts';

/**
 * `runbook coverage`: for a set of alert payloads (default: the built-in catalog of the alerts a team
 * meets first, kube-prometheus-stack's default rules and AWS's recommended alarms), which runbook takes
 * each, whether it remediates or investigates, and the totals. Payloads go through the real normalizer
 * and the real selection, as a live alert would (no learning history).
 */

export const CoverageDecision = {
  Remediation: 'remediation',
  Investigation: 'investigation',
  Ignored: 'ignored',
  Unmatched: 'unmatched',
} as const;
export type CoverageDecision = (typeof CoverageDecision)[keyof typeof CoverageDecision];

export interface CoveragePayload {
  /** Where it came from: `catalog` or a file name. */
  origin: string;
  body: unknown;
  /** The design lists it among the alerts that deserve a remediation (catalog entries only). */
  remediationExpected?: boolean;
}

export interface CoverageRow {
  origin: string;
  source: Alert['source'];
  /** alertname, or `<namespace> <metric>` for a CloudWatch alarm. */
  alert: string;
  resource: string;
  decision: CoverageDecision;
  runbookId?: string;
  rule?: string;
  remediationExpected?: boolean;
}

export interface CoverageReport {
  environment: string;
  rows: CoverageRow[];
  totals: {
    alerts: number;
    /** Taken by a runbook, or ignored on purpose (Watchdog, InfoInhibitor). */
    taken: number;
    takenPercent: number;
    remediation: number;
    investigation: number;
    ignored: number;
    unmatched: number;
    /** Of the alerts the design lists for remediation: how many a remediating runbook takes. */
    remediationList: { alerts: number; remediated: number; percent: number };
  };
}

/** A runbook remediates when any of its steps uses a tool that changes something. */
export function runbookRemediates(runbook: Runbook, tools: ToolCatalog = TOOL_CATALOG): boolean {
  return runbook.phases.some((phase) => phase.steps.some((step) => tools.get(step.tool)?.mutating));
}

function alertLabel(alert: Alert): string {
  return alert.source === 'cloudwatch'
    ? `${alert.labels.namespace ?? '?'} ${alert.labels.metricName ?? alert.name}`
    : alert.name;
}

const percent = (part: number, whole: number) => (whole === 0 ? 0 : Math.round((part / whole) * 1000) / 10);

export function coverageOf(
  payloads: readonly CoveragePayload[],
  runbooks: readonly Runbook[],
  options: { environment: string; ignoredAlerts?: readonly string[]; tools?: ToolCatalog },
): CoverageReport {
  const selector = new RunbookSelector(runbooks);
  const ignored = new Set(options.ignoredAlerts ?? RuntimeConfig.shape.ignoredAlerts.parse(undefined));
  const normalize: NormalizeOptions = {
    defaultEnvironment: options.environment,
    environmentLabels: RuntimeConfig.shape.environmentLabels.parse(undefined),
  };
  const rows: CoverageRow[] = [];
  for (const payload of payloads) {
    for (const alert of alertsOfPayload(payload.body, normalize)) {
      const base = {
        origin: payload.origin,
        source: alert.source,
        alert: alertLabel(alert),
        resource: describeResource(alert.resource),
        ...(payload.remediationExpected ? { remediationExpected: true } : {}),
      };
      if (ignored.has(alert.name)) {
        rows.push({ ...base, decision: 'ignored' });
        continue;
      }
      const selection = selector.select(alert);
      const runbook = selection.selected ? selector.runbook(selection.selected.runbookId) : undefined;
      if (!selection.selected || !runbook) {
        rows.push({ ...base, decision: 'unmatched' });
        continue;
      }
      rows.push({
        ...base,
        decision: runbookRemediates(runbook, options.tools) ? 'remediation' : 'investigation',
        runbookId: runbook.id,
        rule: selection.selected.rule,
      });
    }
  }
  const count = (decision: CoverageDecision) => rows.filter((row) => row.decision === decision).length;
  const taken = rows.length - count('unmatched');
  const listed = rows.filter((row) => row.remediationExpected);
  const remediated = listed.filter((row) => row.decision === 'remediation').length;
  return {
    environment: options.environment,
    rows,
    totals: {
      alerts: rows.length,
      taken,
      takenPercent: percent(taken, rows.length),
      remediation: count('remediation'),
      investigation: count('investigation'),
      ignored: count('ignored'),
      unmatched: count('unmatched'),
      remediationList: { alerts: listed.length, remediated, percent: percent(remediated, listed.length) },
    },
  };
}

/** The built-in catalog as payloads: one realistic alert per kube-prometheus-stack rule and AWS alarm. */
export function catalogPayloads(environment: string): CoveragePayload[] {
  return [
    ...PROMETHEUS_CATALOG.map((entry) => ({
      origin: 'catalog',
      body: catalogAlertmanagerBody(entry, environment),
      ...(entry.remediation ? { remediationExpected: true } : {}),
    })),
    ...CLOUDWATCH_CATALOG.map((entry) => ({
      origin: 'catalog',
      body: cloudWatchAlarmEvent(catalogAlarm(entry, environment)),
      ...(entry.remediation ? { remediationExpected: true } : {}),
    })),
  ];
}

export function formatCoverage(report: CoverageReport): string[] {
  const lines: string[] = [];
  const width = Math.max(10, ...report.rows.map((row) => row.alert.length));
  const decisionWidth = 'investigation'.length;
  for (const row of report.rows) {
    const mark = row.decision === 'unmatched' ? '✗' : row.decision === 'ignored' ? '·' : '✓';
    const by = row.runbookId ? `${row.runbookId}` : row.decision === 'ignored' ? 'ignored on purpose' : '—';
    const flag = row.remediationExpected && row.decision !== 'remediation' ? '  (remediation expected)' : '';
    lines.push(`${mark} ${row.alert.padEnd(width)}  ${row.decision.padEnd(decisionWidth)}  ${by}${flag}`);
  }
  const { totals } = report;
  lines.push('');
  lines.push(
    `${totals.taken} of ${totals.alerts} alerts taken (${totals.takenPercent}%): ${totals.remediation} remediation, ${totals.investigation} investigation, ${totals.ignored} ignored on purpose; ${totals.unmatched} unmatched`,
  );
  if (totals.remediationList.alerts > 0) {
    lines.push(
      `${totals.remediationList.remediated} of ${totals.remediationList.alerts} alerts that deserve a remediation have one (${totals.remediationList.percent}%)`,
    );
  }
  return lines;
}

function readPayloads(io: { cwd: string }, files: readonly string[]): CoveragePayload[] {
  return files.flatMap((file) => {
    const path = resolve(io.cwd, file);
    const shown = relative(io.cwd, path) || path;
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      const reason =
        (error as NodeJS.ErrnoException).code === 'ENOENT'
          ? 'no such file'
          : `not JSON: ${(error as Error).message}`;
      throw new MatchInputError(`${shown}: ${reason}`);
    }
    const bodies = Array.isArray(json) ? json : [json];
    return bodies.map((body) => ({ origin: shown, body }));
  });
}

export function coverageCommand(
  io: { out: (line: string) => void; err: (line: string) => void; cwd: string },
  files: readonly string[],
  options: { runbooks: string; env: string; json?: boolean },
): number {
  const environment = loadEnvironmentConfig(cdkJsonPath(io.cwd), options.env);
  const payloads = files.length > 0 ? readPayloads(io, files) : catalogPayloads(options.env);
  const { files: runbookFiles } = listRunbookFiles([resolve(io.cwd, options.runbooks)]);
  const results = validateRunbookFiles(runbookFiles, {
    tools: TOOL_CATALOG,
    policies: loadPolicies(cdkJsonPath(io.cwd)),
  });
  for (const result of results.filter((candidate) => candidate.problems.length > 0))
    io.err(`${relative(io.cwd, result.file)}: invalid, left out (npx runbook validate shows why)`);
  const runbooks = results.flatMap((result) =>
    result.runbook && result.problems.length === 0 ? [result.runbook] : [],
  );
  let report: CoverageReport;
  try {
    report = coverageOf(payloads, runbooks, {
      environment: options.env,
      ignoredAlerts: environment.ignoredAlerts,
    });
  } catch (error) {
    if (error instanceof ValidationError) throw new MatchInputError(error.message);
    throw error;
  }
  if (options.json) io.out(JSON.stringify(report, null, 2));
  else for (const line of formatCoverage(report)) io.out(line);
  return report.totals.unmatched > 0 ? 1 : 0;
}
