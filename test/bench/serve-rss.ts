/**
 * Issue 14, `runbook serve` RSS after 250 executions (goal ≤ 250 MB), on the real CLI in its own
 * process: `npx tsx test/bench/serve-rss.ts [executions] [--snapshot]`.
 *
 * A temp project (cdk.json whose dev tools point at a simulated cluster and Prometheus in this
 * process, node-memory-pressure with its limits opened up) is served by `node local/bin/runbook.js
 * serve --live`; this driver fires one alert per new node, 25 at a time, lets each node recover and
 * says so (Alertmanager's resolved alert), and waits until every execution is terminal. It then reads
 * the server's RSS from /proc (after 10 s idle), and with --snapshot has the server write a heap
 * snapshot (SIGUSR2, which collects garbage first) and reads its RSS again. The reference is the same
 * server's RSS before the first alert, in the same run.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { FakeKubeApi } from '../../local/demo/fake-kube-api.ts';
import { FakePrometheus } from '../../local/demo/fake-prometheus.ts';
import type { Json } from '../support/json.ts';
import { ROOT } from '../support/runbooks.ts';
import { addPressuredNode, alertFor, benchRunbookYaml, post, TERMINAL } from './platform-harness.ts';

const EXECUTIONS = Number(process.argv.find((arg) => /^\d+$/.test(arg)) ?? 250);
const SNAPSHOT = process.argv.includes('--snapshot');
const AT_ONCE = 25;
const ENVIRONMENT = 'dev';

/** The process's CPU time so far (user + system, from /proc), in seconds. */
const cpuSecondsOf = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};
const rssOf = (pid: number) =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? Number.NaN) / 1024;

const project = mkdtempSync(join(tmpdir(), 'runbook-serve-rss-'));
const kube = await FakeKubeApi.start({ autoReconcile: true });
kube.addNode({ name: 'ip-10-0-9-1.bench.internal', usage: { cpu: '200m', memory: '2Gi' } });
const prometheus = new FakePrometheus();
await prometheus.start();
const kubeconfig = join(project, 'kubeconfig.yaml');
writeFileSync(kubeconfig, kube.kubeConfig().exportConfig());
const cdk = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8'));
const environments = cdk.context['runbook-autopilot:environments'];
environments[ENVIRONMENT].tools = {
  prometheusUrl: prometheus.url,
  kubernetes: { kubeconfig, contexts: {}, eks: {} },
  shell: { enabled: false, allow: [] },
};
writeFileSync(join(project, 'cdk.json'), JSON.stringify(cdk));
mkdirSync(join(project, 'runbooks'));
writeFileSync(
  join(project, 'runbooks', 'node-memory-pressure.yaml'),
  benchRunbookYaml({ concurrent: AT_ONCE * 2 }),
);

const tSpawn = performance.now();
const server = spawn(
  process.execPath,
  [
    ...(SNAPSHOT ? ['--heapsnapshot-signal=SIGUSR2'] : []),
    join(ROOT, 'local/bin/runbook.js'),
    'serve',
    '--port',
    '0',
    '--data',
    'data',
    '--runbooks',
    'runbooks',
    '--statemachines',
    'statemachines',
    '--env',
    ENVIRONMENT,
    '--live',
  ],
  {
    cwd: project,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, AWS_EC2_METADATA_DISABLED: 'true' },
  },
);
const output: string[] = [];
const url = await new Promise<string>((resolve, reject) => {
  server.once('exit', (code) => reject(new Error(`runbook serve exited (${code})\n${output.join('')}`)));
  server.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output.push(chunk);
    if (output.length > 200) output.shift();
    const running = /is running on (http:\/\/\S+)/.exec(output.join(''));
    if (running) resolve(running[1]!);
  });
});
const startSeconds = (performance.now() - tSpawn) / 1000;
const pid = server.pid!;
await new Promise((resolve) => setTimeout(resolve, 2_000));
const rssIdle = rssOf(pid);
const cpuIdle = cpuSecondsOf(pid);

let nodes = 0;
async function oneExecution(): Promise<string> {
  const node = addPressuredNode(kube, 3, ++nodes, [['cart', '3Gi']]);
  const firing = alertFor(node);
  firing.alerts[0].labels.environment = ENVIRONMENT;
  firing.commonLabels.environment = ENVIRONMENT;
  const answer = await post(url, '/webhooks/alertmanager', firing);
  const result = answer.body.results?.[0]?.result as Json | undefined;
  if (answer.status !== 202 || result?.decision !== 'started')
    throw new Error(`expected 202 started, got ${answer.status} ${JSON.stringify(answer.body)}`);
  const id = result.executionId as string;
  // The node recovers and Alertmanager says so: the execution verifies its alert cleared and ends.
  for (const condition of kube.nodes.get(node)?.status?.conditions ?? [])
    if (condition.type === 'MemoryPressure') condition.status = 'False';
  const resolved = alertFor(node, 'resolved');
  resolved.alerts[0].labels.environment = ENVIRONMENT;
  resolved.commonLabels.environment = ENVIRONMENT;
  await post(url, '/webhooks/alertmanager', resolved);
  const deadline = performance.now() + 300_000;
  for (;;) {
    const detail = (await (
      await fetch(new URL(`/api/executions/${encodeURIComponent(id)}`, url))
    ).json()) as Json;
    if (TERMINAL.includes(detail.execution?.status)) return detail.execution.status as string;
    if (performance.now() > deadline)
      throw new Error(`${id} still ${detail.execution?.status} after 5 minutes`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

const t0 = performance.now();
const outcomes = new Map<string, number>();
let started = 0;
await Promise.all(
  Array.from({ length: AT_ONCE }, async () => {
    while (started < EXECUTIONS) {
      started++;
      const status = await oneExecution();
      outcomes.set(status, (outcomes.get(status) ?? 0) + 1);
    }
  }),
);
const runSeconds = (performance.now() - t0) / 1000;
const rssFinished = rssOf(pid);
const cpuRun = cpuSecondsOf(pid) - cpuIdle;
await new Promise((resolve) => setTimeout(resolve, 10_000));
const rssSettled = rssOf(pid);
let rssAfterGc: number | undefined;
let snapshot: string | undefined;
if (SNAPSHOT) {
  process.kill(pid, 'SIGUSR2');
  const deadline = performance.now() + 120_000;
  for (;;) {
    const written = readdirSync(project).find((name) => name.endsWith('.heapsnapshot'));
    if (written && statSync(join(project, written)).size > 0) {
      const size = statSync(join(project, written)).size;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      if (statSync(join(project, written)).size === size) {
        snapshot = join(tmpdir(), `serve-rss-${Date.now()}.heapsnapshot`);
        writeFileSync(snapshot, readFileSync(join(project, written)));
        break;
      }
    }
    if (performance.now() > deadline) throw new Error('no heap snapshot within 2 minutes');
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  rssAfterGc = rssOf(pid);
}
server.kill('SIGTERM');
await new Promise((resolve) => server.once('exit', resolve));
await kube.stop();
await prometheus.stop();
rmSync(project, { recursive: true, force: true });

const mb = (value: number) => `${value.toFixed(0)} MB`;
console.log(
  [
    '',
    `\`runbook serve\` (its own process, ${ENVIRONMENT}, --live, data on disk): ${EXECUTIONS} executions of node-memory-pressure, ${AT_ONCE} at a time, in ${runSeconds.toFixed(0)} s (${[...outcomes].map(([status, n]) => `${n} ${status}`).join(', ')}); load average ${loadavg()
      .map((load) => load.toFixed(1))
      .join(' ')}`,
    '| figure | measured | reference (same run) | goal |',
    '| --- | ---: | ---: | ---: |',
    `| RSS when the last execution finished | ${mb(rssFinished)} | the same server before the first alert: ${mb(rssIdle)} | ≤ 250 MB |`,
    `| RSS 10 s later | ${mb(rssSettled)} | ${mb(rssIdle)} | ≤ 250 MB |`,
    `| the server's CPU time (user + system) over the executions | ${cpuRun.toFixed(1)} s | its start: ${cpuIdle.toFixed(1)} s (listening ${startSeconds.toFixed(1)} s after the spawn; esbuild's own process not counted) | — |`,
    ...(rssAfterGc === undefined
      ? []
      : [
          `| RSS after the heap snapshot (a full GC; the snapshot's own memory included) | ${mb(rssAfterGc)} | — | — |`,
        ]),
    ...(snapshot ? [`heap snapshot: ${snapshot}`] : []),
    '',
  ].join('\n'),
);
