import '../../functions/adapters/local/polyfills.ts';
import { fork } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { listRunbookFiles, validateRunbookFiles } from '../../local/runbook-files.ts';
import { findMonitoringBinaries } from '../../local/sim/monitoring/binaries.ts';
import { SCENARIOS } from '../../local/sim/scenarios/index.ts';
import { OPTIONS, ROOT } from '../support/runbooks.ts';
import type { FromLane, ToLane } from './lane.ts';
import { benchmarksSection, laneLayout, machine, summarize, withSection } from './report.ts';
import { Results, type ScenarioResult } from './results.ts';
import { scenarioDefinitions } from './runner.ts';

/**
 * `npm run scenarios`: every scenario of test/scenarios/runner.ts, played in lanes side by side (each
 * lane a process of its own, test/scenarios/lane.ts, taking the next scenario when it is free, longest
 * first), results checked against their schema into scenarios/results.json and BENCHMARKS.md's
 * "## Scenarios". Exit code 1 when a scenario's outcome is not the expected one.
 *   --only a,b   only those scenarios (results are then not written unless --write)
 *   --lanes n    how many scenarios play at once (default 4: most of a scenario is waiting)
 *   --list       the scenarios and what each expects
 */

const RUNBOOKS_DIR = 'runbooks';
const WAIT_SCALE = 1 / 30;
const RESULTS_FILE = join(ROOT, 'scenarios', 'results.json');
const BENCHMARKS_FILE = join(ROOT, 'BENCHMARKS.md');
const DEFAULT_LANES = 4;
/** A scenario no earlier run timed is assumed to take this long (it orders the queue, nothing else). */
const UNTIMED_MS = 30_000;

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    list: { type: 'boolean' },
    write: { type: 'boolean' },
    lanes: { type: 'string' },
  },
});
const definitions = scenarioDefinitions();
if (values.list) {
  for (const definition of definitions)
    process.stdout.write(
      `${definition.id} (${definition.kind}): ${definition.fault} → ${definition.expected}\n`,
    );
  process.exit(0);
}
const only = values.only?.split(',').map((id) => id.trim());
const unknown = (only ?? []).filter((id) => !definitions.some((definition) => definition.id === id));
if (unknown.length > 0) {
  process.stderr.write(
    `unknown scenario ${unknown.join(', ')}: npm run scenarios -- --list shows them (${definitions.map((d) => d.id).join(', ')})\n`,
  );
  process.exit(2);
}
const laneCount = Number(values.lanes ?? DEFAULT_LANES);
if (!Number.isInteger(laneCount) || laneCount < 1 || laneCount > 16) {
  process.stderr.write(
    `--lanes ${values.lanes}: give a whole number from 1 to 16 (default ${DEFAULT_LANES})\n`,
  );
  process.exit(2);
}
const binaries = findMonitoringBinaries();
if (!binaries.available) {
  process.stderr.write(`npm run scenarios needs the real Prometheus and Alertmanager: ${binaries.hint}\n`);
  process.exit(2);
}

process.env.AWS_EC2_METADATA_DISABLED = 'true';
const loadAtStart = loadavg();
const started = Date.now();
const print = (line: string) => process.stdout.write(`${line}\n`);
const chosen = definitions.filter((definition) => !only || only.includes(definition.id));

/** How long each scenario took in the last written run: the queue plays the longest first. */
function previousDurations(): Map<string, number> {
  if (!existsSync(RESULTS_FILE)) return new Map();
  try {
    const previous = JSON.parse(readFileSync(RESULTS_FILE, 'utf8')) as { scenarios?: ScenarioResult[] };
    return new Map((previous.scenarios ?? []).map((scenario) => [scenario.id, scenario.durationMs]));
  } catch {
    return new Map();
  }
}

function report(result: ScenarioResult, lane: number): void {
  const definition = chosen.find((candidate) => candidate.id === result.id)!;
  print(
    `  ${result.passed ? '✓' : '✗'} [lane ${lane}] ${result.id} in ${(result.durationMs / 1_000).toFixed(1)} s: ${
      result.passed ? definition.expected : result.failures.join('\n    ')
    }`,
  );
  for (const execution of result.executions)
    print(
      `    ${execution.runbookId} ${execution.status}${execution.timeToMitigateMs === undefined ? '' : ` in ${(execution.timeToMitigateMs / 1_000).toFixed(1)} s (waits at full length ${((execution.timeToMitigateFullWaitsMs ?? 0) / 1_000).toFixed(0)} s; baseline ${execution.baselineMttrMs === undefined ? 'none' : `${execution.baselineMttrMs / 60_000} min`})`}`,
    );
  for (const note of result.notes) print(`    note: ${note}`);
}

/** A scenario whose lane ended before it answered: failed, with what the lane said. */
function lost(id: string, lane: number, why: string, durationMs: number): ScenarioResult {
  const definition = chosen.find((candidate) => candidate.id === id)!;
  return {
    id,
    kind: definition.kind,
    fault: definition.fault,
    simulated: definition.simulated,
    alertSource: definition.alertSource,
    expected: definition.expected,
    passed: false,
    failures: [`did not finish: lane ${lane} ${why}`],
    durationMs,
    executions: [],
    overrideLatencyMs: [],
    safetyIncidents: [],
    notes: [],
  };
}

/** Plays the queue in `count` lanes; each lane takes the next scenario when it is free. */
async function playInLanes(count: number): Promise<{ results: ScenarioResult[]; lanes: Results['lanes'] }> {
  const durations = previousDurations();
  const queue = [...chosen].sort(
    (a, b) => (durations.get(b.id) ?? UNTIMED_MS) - (durations.get(a.id) ?? UNTIMED_MS),
  );
  const played: ScenarioResult[] = [];
  const lanes: Results['lanes'] = [];
  const laneFile = fileURLToPath(new URL('./lane.ts', import.meta.url));
  const runLane = (lane: number) =>
    new Promise<void>((resolveLane) => {
      const entry: Results['lanes'][number] = { lane, scenarios: [] };
      lanes.push(entry);
      const child = fork(laneFile, [RUNBOOKS_DIR], {
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      let playing: { id: string; startMs: number } | undefined;
      const next = () => {
        const definition = queue.shift();
        if (!definition) {
          playing = undefined;
          child.disconnect();
          return;
        }
        playing = { id: definition.id, startMs: Date.now() - started };
        print(`▶ [lane ${lane}] ${definition.id}: ${definition.fault}`);
        child.send({ type: 'play', id: definition.id, waitScale: WAIT_SCALE } satisfies ToLane);
      };
      child.on('message', (message: FromLane) => {
        if (message.type === 'ready') next();
        else if (message.type === 'print') print(`  [lane ${lane}] ${message.line}`);
        else if (message.type === 'result' && playing) {
          played.push(message.result);
          entry.scenarios.push({ id: playing.id, startMs: playing.startMs, endMs: Date.now() - started });
          report(message.result, lane);
          next();
        }
      });
      child.on('exit', (code, signal) => {
        if (playing) {
          const endMs = Date.now() - started;
          const result = lost(
            playing.id,
            lane,
            `exited (${signal ?? `code ${code}`})`,
            endMs - playing.startMs,
          );
          played.push(result);
          entry.scenarios.push({ ...playing, endMs });
          report(result, lane);
        }
        resolveLane();
      });
    });
  await Promise.all(Array.from({ length: Math.min(count, queue.length) }, (_, index) => runLane(index + 1)));
  // In the order of their definitions, whichever lane played them.
  const order = new Map(chosen.map((definition, index) => [definition.id, index]));
  played.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
  lanes.sort((a, b) => a.lane - b.lane);
  return { results: played, lanes };
}

const { results, lanes } = await playInLanes(laneCount);
const wallTimeMs = Date.now() - started;
print(
  `\n${chosen.length} scenarios in ${(wallTimeMs / 1_000).toFixed(1)} s wall time, ${lanes.length} lanes:`,
);
for (const line of laneLayout(lanes)) print(`  ${line}`);

/** Remediating runbooks in runbooks/ that no simulated incident plays. */
function uncoveredRunbooks(): Array<{ what: string; why: string }> {
  const { files } = listRunbookFiles([join(ROOT, RUNBOOKS_DIR)]);
  const simulated = new Set(SCENARIOS.map((scenario) => scenario.runbookId));
  return validateRunbookFiles(files, OPTIONS).flatMap((result) => {
    const runbook = result.runbook;
    if (!runbook) return [];
    const remediates = runbook.phases.some((phase) =>
      phase.steps.some((step) => step.type === 'remediation'),
    );
    if (!remediates || simulated.has(runbook.id)) return [];
    return [
      {
        what: `runbook ${runbook.id}`,
        why: 'no simulated incident plays it (local/sim/scenarios has none for its alerts)',
      },
    ];
  });
}

const notCovered = [
  ...uncoveredRunbooks(),
  {
    what: 'a flaky API during the resource resolution (the first read of an execution)',
    why: "resource.resolve records a 429 as 'unresolved' and does not retry, so every step naming the resource fails (Runbook.InvalidParameters) and the run escalates; flaky-api injects from the diagnosis on, where the steps' retries recover. A finding for the platform, not a gap of the runner",
  },
  {
    what: "faults in the other AWS runbooks' services",
    why: "aws-throttled injects throttling into API Gateway (apigateway-5xx's diagnosis and rollback) through the simulated account's failNext; the other AWS runbooks are played only as simulated (library-aws-*), and no scenario injects 5xx or slow answers into AWS yet (the hook has them: failNext with a status, slowDown)",
  },
];
const summary = summarize(results);
const document = Results.parse({
  generatedAt: new Date().toISOString(),
  command: `npm run scenarios${only ? ` -- --only ${only.join(',')}` : ''}`,
  machine: machine(loadAtStart),
  waitScale: WAIT_SCALE,
  wallTimeMs,
  lanes,
  baselineSource:
    "each runbook's optimizationTargets.baselineMttr (runbooks/*.yaml: the manual recovery time the runbook declares; for the built-in library these are the authors' estimates, not measured history, so a team should set its own from its incident records)",
  runbooksDir: RUNBOOKS_DIR,
  summary,
  scenarios: results,
  notCovered,
});
print(
  `\n${summary.passed} of ${summary.scenarios} scenarios passed in ${Math.round(wallTimeMs / 1_000)} s wall time; ` +
    `automated success ${summary.automatedSuccessRate}, human acted ${summary.runsNeedingHumanAction}/${summary.executions}, ` +
    `approvals only ${summary.runsWithApprovalsOnly}, compensation success ${summary.compensationSuccessRate}, ` +
    `safety incidents ${summary.safetyIncidents}; approval request at the receiver ${JSON.stringify(summary.approvalNotificationLatencyMs)} ms, decided ${JSON.stringify(summary.approvalDecisionLatencyMs)} ms`,
);
if (!only || values.write) {
  mkdirSync(join(ROOT, 'scenarios'), { recursive: true });
  writeFileSync(RESULTS_FILE, `${JSON.stringify(document, null, 2)}\n`);
  const current = existsSync(BENCHMARKS_FILE) ? readFileSync(BENCHMARKS_FILE, 'utf8') : undefined;
  writeFileSync(BENCHMARKS_FILE, withSection(current, benchmarksSection(document)));
  print(`wrote ${RESULTS_FILE} and the "## Scenarios" section of ${BENCHMARKS_FILE}`);
}
process.exitCode = summary.passed === summary.scenarios ? 0 : 1;
