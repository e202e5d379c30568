import { cpus, loadavg } from 'node:os';
import type { ExecutionMeasure, Results, ScenarioResult, Summary } from './results.ts';

/** The overall figures from every scenario's executions, and the BENCHMARKS.md section they make. */

export function machine(loadAtStart: number[]): Results['machine'] {
  return {
    cpus: cpus().length,
    model: cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    loadAverage: { start: loadAtStart.map(round2), end: loadavg().map(round2) },
  };
}

const round2 = (value: number) => Math.round(value * 100) / 100;

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Who had to act: an escalation or a run that did not succeed needs a human; approvals alone do not. */
export function involvement(execution: ExecutionMeasure): 'none' | 'approval-only' | 'acted' {
  if (execution.status !== 'succeeded' || execution.escalations > 0) return 'acted';
  return execution.approvals.length > 0 ? 'approval-only' : 'none';
}

export function summarize(scenarios: ScenarioResult[]): Summary {
  const executions = scenarios.flatMap((scenario) => scenario.executions);
  const succeeded = executions.filter((execution) => execution.status === 'succeeded').length;
  const compensations = executions.flatMap((execution) => execution.compensations);
  const spread = (values: number[]) => ({
    count: values.length,
    median: median(values),
    max: values.length === 0 ? null : Math.max(...values),
  });
  const timeToMitigate = scenarios
    .filter((scenario) => scenario.kind === 'library')
    .flatMap((scenario) =>
      scenario.executions
        .filter((execution) => execution.status === 'succeeded' && execution.timeToMitigateMs !== undefined)
        .map((execution) => {
          const full = execution.timeToMitigateFullWaitsMs ?? execution.timeToMitigateMs!;
          return {
            runbookId: execution.runbookId,
            scenario: scenario.id,
            measuredMs: execution.timeToMitigateMs!,
            fullWaitsMs: full,
            baselineMttrMs: execution.baselineMttrMs ?? null,
            reduction: execution.baselineMttrMs ? round2(1 - full / execution.baselineMttrMs) : null,
          };
        }),
    );
  return {
    scenarios: scenarios.length,
    passed: scenarios.filter((scenario) => scenario.passed).length,
    executions: executions.length,
    automatedSuccessRate: executions.length === 0 ? null : round2(succeeded / executions.length),
    runsNeedingHumanAction: executions.filter((execution) => involvement(execution) === 'acted').length,
    runsWithApprovalsOnly: executions.filter((execution) => involvement(execution) === 'approval-only')
      .length,
    runsWithoutHuman: executions.filter((execution) => involvement(execution) === 'none').length,
    compensations: compensations.length,
    compensationSuccessRate:
      compensations.length === 0
        ? null
        : round2(compensations.filter((step) => step.status === 'compensated').length / compensations.length),
    overrideLatencyMs: scenarios.flatMap((scenario) => scenario.overrideLatencyMs),
    approvalNotificationLatencyMs: spread(
      executions.flatMap((execution) => execution.approvalNotificationLatencyMs),
    ),
    approvalDecisionLatencyMs: spread(executions.flatMap((execution) => execution.approvalDecisionLatencyMs)),
    safetyIncidents: scenarios.reduce((total, scenario) => total + scenario.safetyIncidents.length, 0),
    timeToMitigate,
  };
}

const seconds = (ms: number) => `${(ms / 1_000).toFixed(1)} s`;
const minutes = (ms: number) => `${Math.round(ms / 60_000)} min`;
const percent = (rate: number | null) => (rate === null ? 'n/a' : `${Math.round(rate * 100)}%`);

const spreadText = (spread: Summary['approvalNotificationLatencyMs']) =>
  spread.count === 0 ? 'n/a' : `median ${spread.median} ms, max ${spread.max} ms over ${spread.count}`;

/** The lanes as text: which scenarios each played, in turn, with when each started and ended. */
export function laneLayout(lanes: Results['lanes']): string[] {
  return lanes.map(
    (lane) =>
      `lane ${lane.lane}: ${lane.scenarios.map((entry) => `${entry.id} (${seconds(entry.startMs)}–${seconds(entry.endMs)})`).join(', ')}`,
  );
}

/** The "## Scenarios" section of BENCHMARKS.md. */
export function benchmarksSection(results: Results): string {
  const { summary, machine: host } = results;
  const lines = [
    '## Scenarios',
    '',
    `\`${results.command}\` on ${host.cpus} × ${host.model}, Node ${host.node}, load average ${host.loadAverage.start.join(' / ')} at the start and ${host.loadAverage.end.join(' / ')} at the end (other engineers' work shared the machine), ${results.generatedAt}. Every Prometheus alert came from the real Alertmanager (rules evaluated by the real Prometheus on the simulated exporters) and every runbook query went to that Prometheus; CloudWatch incidents come from the simulated account's alarms as EventBridge events. Raw figures: scenarios/results.json.`,
    '',
    `Wall time ${seconds(results.wallTimeMs)} for ${results.scenarios.length} scenarios (${seconds(results.scenarios.reduce((total, scenario) => total + scenario.durationMs, 0))} one after the other), in ${results.lanes.length} lanes side by side, each lane a process of its own playing its scenarios in turn, longest first; every scenario has its own simulated environment, Prometheus, Alertmanager and platform, so no scenario sees another's faults:`,
    '',
    ...laneLayout(results.lanes).map((line) => `- ${line}`),
    '',
    '| scenario | fault | expected | result | time |',
    '|---|---|---|---|---|',
    ...results.scenarios.map(
      (scenario) =>
        `| ${scenario.id} | ${scenario.fault} | ${scenario.expected} | ${scenario.passed ? 'passed' : `FAILED: ${scenario.failures.join('; ').replaceAll('|', '/').slice(0, 300)}`} | ${seconds(scenario.durationMs)} |`,
    ),
    '',
    '| figure | measured | goal |',
    '|---|---|---|',
    `| automated success rate (executions that succeeded, faults included) | ${percent(summary.automatedSuccessRate)} of ${summary.executions} | ≥ 90% without faults |`,
    `| runs needing a human to act (escalated or not succeeded) | ${summary.runsNeedingHumanAction} of ${summary.executions} | < 20% without faults |`,
    `| runs with approvals only | ${summary.runsWithApprovalsOnly} of ${summary.executions} | |`,
    `| runs without any human | ${summary.runsWithoutHuman} of ${summary.executions} | |`,
    `| compensation success | ${percent(summary.compensationSuccessRate)} of ${summary.compensations} (the compensation-fails scenario fails one on purpose) | 100% where the target answers |`,
    `| override latency | ${summary.overrideLatencyMs.map((entry) => `${entry.override}: ${entry.ms} ms`).join('; ') || 'n/a'} | |`,
    `| approval notification latency (task token minted → the request at the receiver) | ${spreadText(summary.approvalNotificationLatencyMs)} | |`,
    `| approval decision latency (task token minted → decided; the harness approves as the request arrives, so this is the platform's part) | ${spreadText(summary.approvalDecisionLatencyMs)} | answered within 5 min (the design's target for people) |`,
    `| safety incidents (learning report) | ${summary.safetyIncidents} (a scenario passes only when each of its incidents is one its fault is meant to cause: compensation-fails' compensation left in place) | none beyond the injected ones |`,
    '',
    `Time to mitigate: Alertmanager's startsAt of the alert → the execution stopped after verifying, with the runbooks' waits multiplied by ${results.waitScale} (measured) and at their full length (measured + the waits' remainder). Baseline: ${results.baselineSource}.`,
    '',
    '| runbook | scenario | measured | waits at full length | manual baseline | reduction |',
    '|---|---|---|---|---|---|',
    ...summary.timeToMitigate.map(
      (entry) =>
        `| ${entry.runbookId} | ${entry.scenario} | ${seconds(entry.measuredMs)} | ${seconds(entry.fullWaitsMs)} | ${entry.baselineMttrMs === null ? 'none declared' : minutes(entry.baselineMttrMs)} | ${percent(entry.reduction)} |`,
    ),
    '',
    'Not covered:',
    '',
    ...results.notCovered.map((entry) => `- ${entry.what}: ${entry.why}`),
    '',
  ];
  return lines.join('\n');
}

/** BENCHMARKS.md with its "## Scenarios" section replaced (or added), the other sections left as they are. */
export function withSection(current: string | undefined, section: string): string {
  const text = current ?? '# Benchmarks\n\n';
  const start = text.indexOf('\n## Scenarios\n');
  if (start === -1) return `${text.trimEnd()}\n\n${section}`;
  const next = text.indexOf('\n## ', start + 1);
  return `${text.slice(0, start + 1)}${section}${next === -1 ? '' : `\n${text.slice(next + 1)}`}`;
}

export { loadavg };
