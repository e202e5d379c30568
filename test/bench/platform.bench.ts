import { performance } from 'node:perf_hooks';
import { type BenchOptions, bench, describe } from 'vitest';
import type { Json } from '../support/json.ts';
import { alertFor, approve, Figures, Lab, post, Stopwatch } from './platform-harness.ts';

/**
 * The embedded platform's design-target figures, measured over HTTP on loopback: the platform
 * (`startPlatform`, live, data on disk), a simulated cluster and Prometheus run in this process; every
 * action is an HTTP request and every effect is observed through the API (GET /api/executions/:id
 * polled every 10 ms, so an observed time is late by up to one poll and one GET).
 *
 * Each bench's `now` is a Stopwatch that advances only by the interval the bench measures, so the
 * figures vitest prints are that interval (action → effect), not the setup around it (starting an
 * execution, reaching the approval, cleaning up, a fresh platform every 6 executions because
 * node-memory-pressure allows 6 an hour). Every figure is also kept and printed as p50/p95/max at
 * the end, with the others measured alongside it.
 */

const figures = new Figures();
let lab: Lab | undefined;
/** Work a bench's teardown started (tinybench does not await teardowns): the next setup waits for it. */
let cleanup: Promise<unknown> = Promise.resolve();
const storm = { requests: 0, ms: 0 };
/** Warmup iterations run the same code; only the measured iterations' durations are kept. */
let phase: 'warmup' | 'run' = 'warmup';
const keep = (name: string, ms: number) => {
  if (phase === 'run') figures.add(name, ms);
};

async function theLab(): Promise<Lab> {
  await cleanup;
  lab ??= await Lab.start();
  return lab;
}

function options(
  watch: Stopwatch,
  counts: { iterations: number; warmupIterations: number },
  hooks: { setup?: () => Promise<void>; teardown?: () => Promise<unknown> | undefined } = {},
): BenchOptions {
  return {
    ...counts,
    time: 0,
    warmupTime: 0,
    // A scenario that fails must fail the run, not leave a row out.
    throws: true,
    now: watch.now,
    // tinybench calls setup before the warmup (even with no warmup iterations) and again before the run.
    setup: async (_task, mode) => {
      phase = mode;
      await theLab();
      if (mode === 'warmup') await hooks.setup?.();
    },
    teardown: (_task, mode) => {
      if (mode === 'run' && hooks.teardown) cleanup = Promise.all([cleanup, hooks.teardown()]);
    },
  };
}

const stepOf = (detail: Json, stepId: string, kind = 'step'): Json | undefined =>
  detail.steps.find((step: Json) => step.stepId === stepId && step.kind === kind);

/** Sets `kube.latencyMs` to `hangMs` when the first `method` request to a path ending in `suffix` arrives. */
function hangOn(current: Lab, method: string, suffix: string, hangMs: number): Promise<number> {
  return new Promise((resolve) => {
    current.kube.onRequest = (request) => {
      if (request.method === method && request.path.endsWith(suffix)) {
        current.kube.latencyMs = hangMs;
        current.kube.onRequest = undefined;
        resolve(performance.now());
      }
    };
  });
}

describe('embedded platform over HTTP (loopback)', () => {
  // 1. Alert to execution: the classifier normalizes, dedupes, selects, gates and starts inside the request.
  const started = new Stopwatch();
  bench(
    'alert → execution started (POST /webhooks/alertmanager → 202 decision started)',
    async () => {
      const current = await theLab();
      await current.ready();
      const node = current.addNode();
      const t0 = performance.now();
      const { executionId, ms } = await current.fire(node);
      started.add(ms);
      keep('1. alert → 202 `started` (execution started)', ms);
      await current.approvalLink(executionId, 10);
      keep('1b. alert → approval e-mail in the outbox (diagnosis done)', performance.now() - t0);
      await current.finish(executionId, node);
    },
    options(started, { iterations: 10, warmupIterations: 2 }),
  );

  // 2. Duplicate firing: the incident is open; every delivery only joins it.
  let open: { node: string; executionId: string; body: Json } | undefined;
  const openIncident = async () => {
    const current = await theLab();
    await current.ready();
    const node = current.addNode();
    const { executionId } = await current.fire(node);
    open = { node, executionId, body: alertFor(node) };
  };
  const closeIncident = async () => {
    if (open && lab) await lab.finish(open.executionId, open.node);
    open = undefined;
  };
  const joinedOne = async () => {
    const t0 = performance.now();
    const answer = await post(lab!.url, '/webhooks/alertmanager', open!.body);
    const ms = performance.now() - t0;
    const result = answer.body.results?.[0]?.result;
    if (answer.status !== 202 || result?.decision !== 'joined' || result.executionId !== open!.executionId)
      throw new Error(`expected 202 joined, got ${answer.status} ${JSON.stringify(answer.body)}`);
    return ms;
  };
  const duplicate = new Stopwatch();
  bench(
    'duplicate firing of an open incident → 202 decision joined (one at a time)',
    async () => {
      const ms = await joinedOne();
      duplicate.add(ms);
      keep('2. duplicate firing → 202 `joined`', ms);
    },
    options(duplicate, { iterations: 200, warmupIterations: 10 }, { setup: openIncident }),
  );
  const WAVE = 50;
  const wave = new Stopwatch();
  bench(
    `alert storm: ${WAVE} concurrent duplicate firings → all 202 joined (per wave)`,
    async () => {
      const t0 = performance.now();
      await Promise.all(Array.from({ length: WAVE }, joinedOne));
      const ms = performance.now() - t0;
      wave.add(ms);
      keep(`2b. storm wave: ${WAVE} concurrent duplicates, all answered`, ms);
      if (phase === 'run') {
        storm.requests += WAVE;
        storm.ms += ms;
      }
    },
    options(wave, { iterations: 20, warmupIterations: 2 }, { teardown: closeIncident }),
  );

  // 3. Abort: the eviction hangs in the cluster API; the operator aborts.
  const aborted = new Stopwatch();
  bench(
    'abort → running step recorded aborted (eviction hanging in the Kubernetes API)',
    async () => {
      const current = await theLab();
      const { node, executionId, link } = await current.waitingForApproval();
      const eviction = hangOn(current, 'POST', '/eviction', 10_000);
      await approve(link);
      await eviction;
      const t0 = performance.now();
      const answer = await post(current.url, `/api/executions/${executionId}/abort`, {
        by: 'bench',
        reason: 'bench: abort a running step',
      });
      const t1 = performance.now();
      current.kube.latencyMs = 0;
      if (answer.status !== 202) throw new Error(`abort answered ${answer.status}`);
      const step = await current.observe(executionId, 'the eviction step aborted', (detail) => {
        const status = stepOf(detail, 'evict-heaviest-pod')?.status;
        if (status && status !== 'running' && status !== 'aborted')
          throw new Error(`evict-heaviest-pod ended ${status}, not aborted`);
        return status === 'aborted';
      });
      const end = await current.observe(
        executionId,
        'the execution aborted',
        (detail) => detail.execution.status === 'aborted',
      );
      if (stepOf(end.detail, 'cordon-node', 'compensation')?.status !== 'compensated')
        throw new Error('the cordon was not undone');
      aborted.add(step.at - t0);
      keep('3a. abort POST answered (202)', t1 - t0);
      keep('3. abort → running step recorded `aborted`', step.at - t0);
      keep('3b. abort → execution `aborted`, cordon undone', end.at - t0);
      await current.finish(executionId, node);
    },
    options(aborted, { iterations: 5, warmupIterations: 1 }),
  );

  // 4. Kill switch: engaged while an approval is pending (held at the next checkpoint), released
  // (the held execution goes on), and engaged while the cordon is in flight (the eviction refused).
  const IN_FLIGHT_MS = 500;
  const refused = new Stopwatch();
  const engage = async (url: string, engaged: boolean) => {
    const answer = await post(url, '/api/kill-switch', { engaged, by: 'bench', reason: 'bench' });
    if (answer.status !== 200 || answer.body.engaged !== engaged)
      throw new Error(`kill switch answered ${answer.status} ${JSON.stringify(answer.body)}`);
  };
  bench(
    'kill switch engaged mid-change → next change refused (from the in-flight change ending)',
    async () => {
      const current = await theLab();
      const { node, executionId, link } = await current.waitingForApproval();
      const url = current.url;
      const patches = () => current.kube.requestsTo('PATCH', `/api/v1/nodes/${node}`).length;
      const evictions = () =>
        current.kube.requestsTo('POST').filter((request) => request.path.endsWith('/eviction')).length;
      const evictionsBefore = evictions();

      // held at a checkpoint: engaged, then the approval arrives
      let t0 = performance.now();
      await engage(url, true);
      keep('4a. kill switch POST answered (engaged, stored)', performance.now() - t0);
      t0 = performance.now();
      const decided = await approve(link);
      if (decided.status !== 200) throw new Error(`approval answered ${decided.status}`);
      const held = await current.observe(
        executionId,
        'the execution held at its checkpoint',
        (detail) => detail.execution.status === 'paused' && detail.execution.heldCheckpoint !== undefined,
      );
      if (patches() > 0) throw new Error('a change reached the cluster while the kill switch was engaged');
      keep('4b. approval while engaged → held at checkpoint, no change made', held.at - t0);

      // released: the held execution goes on; its cordon hangs IN_FLIGHT_MS in the cluster API
      const cordon = hangOn(current, 'PATCH', `/nodes/${node}`, IN_FLIGHT_MS);
      t0 = performance.now();
      await engage(url, false);
      const cordonArrived = await cordon;
      keep('4c. release → held execution continues (cordon reaches the cluster)', cordonArrived - t0);

      // engaged while the cordon is in flight: the eviction (the next change) is refused
      t0 = performance.now();
      await engage(url, true);
      current.kube.latencyMs = 0;
      const refusal = await current.observe(executionId, 'the eviction refused', (detail) => {
        const step = stepOf(detail, 'evict-heaviest-pod');
        if (step && step.status !== 'failed')
          throw new Error(`evict-heaviest-pod ${step.status}, not refused`);
        return step?.error?.name === 'Safety.KillSwitch';
      });
      if (evictions() > evictionsBefore)
        throw new Error('an eviction reached the cluster while the kill switch was engaged');
      // The cordon's answer is due IN_FLIGHT_MS after its request arrived (the fake API's hang).
      const fromChangeEnd = refusal.at - (cordonArrived + IN_FLIGHT_MS);
      refused.add(fromChangeEnd);
      keep(
        `4d. engaged mid-change → next change refused (incl. ${IN_FLIGHT_MS} ms in flight)`,
        refusal.at - t0,
      );
      keep('4. in-flight change ends → next change refused `Safety.KillSwitch`', fromChangeEnd);
      await engage(url, false);
      await current.finish(executionId, node);
    },
    options(refused, { iterations: 5, warmupIterations: 1 }),
  );

  // 5. Approval to continue: the decision POSTed from the e-mail's link → the next step starts.
  const continued = new Stopwatch();
  bench(
    'approval decision → next step started (POST /approvals/:id → cordon-node running)',
    async () => {
      const current = await theLab();
      const { node, executionId, link } = await current.waitingForApproval();
      let patchAt = 0;
      current.kube.onRequest = (request) => {
        if (request.method === 'PATCH' && request.path.endsWith(`/nodes/${node}`) && patchAt === 0)
          patchAt = performance.now();
      };
      const t0 = performance.now();
      const decided = await approve(link);
      const t1 = performance.now();
      if (decided.status !== 200) throw new Error(`approval answered ${decided.status}`);
      const next = await current.observe(executionId, 'cordon-node started', (detail) =>
        Boolean(stepOf(detail, 'cordon-node')),
      );
      await current.observe(executionId, 'cordon-node done', (detail) =>
        ['succeeded', 'failed'].includes(stepOf(detail, 'cordon-node')?.status),
      );
      current.kube.onRequest = undefined;
      if (patchAt === 0) throw new Error('the cordon never reached the cluster');
      continued.add(next.at - t0);
      keep('5a. approval POST answered (200)', t1 - t0);
      keep('5. approval → next step recorded started', next.at - t0);
      keep('5b. approval → the change reaches the cluster (PATCH node)', patchAt - t0);
      await current.finish(executionId, node);
    },
    options(
      continued,
      { iterations: 8, warmupIterations: 1 },
      {
        // Synchronous print: tinybench does not await a teardown.
        teardown: () => {
          const finished = lab;
          lab = undefined;
          console.log(
            [
              '',
              `Embedded platform over HTTP: ${finished?.platformsStarted ?? 0} platforms started, figures in ms`,
              figures.table(),
              `storm throughput: ${storm.requests} duplicate firings in ${storm.ms.toFixed(0)} ms of waves = ${((storm.requests * 1000) / storm.ms).toFixed(0)}/s`,
              '',
            ].join('\n'),
          );
          return finished?.stop();
        },
      },
    ),
  );
});
