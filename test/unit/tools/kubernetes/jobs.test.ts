import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AslErrorName } from '../../../../functions/core/errors.ts';
import type {
  DeleteJobOutput,
  JobRerunOutput,
  JobStatusOutput,
} from '../../../../functions/tools/kubernetes/jobs.ts';
import { RERUN_OF_LABEL } from '../../../../functions/tools/kubernetes/jobs.ts';
import { type Cluster, rejectionOf, startCluster } from './harness.ts';

/** k8s.job-status (failed pods, their reasons and logs), k8s.job-rerun and k8s.delete-job (KubeJobFailed). */

let cluster: Cluster;
let failedJob: string;

const TRACEBACK =
  'loading orders for 2026-03-01\nTraceback (most recent call last):\n  File "report.py", line 42\nKeyError: \'region\'\n';

beforeEach(async () => {
  cluster = await startCluster();
  const { api } = cluster;
  api.addNode({ name: 'node-a' });
  api.addCronJob({
    namespace: 'batch',
    name: 'nightly-report',
    schedule: '0 2 * * *',
    backoffLimit: 2,
    containers: [{ name: 'report', image: 'shop/report:3.1.0', log: TRACEBACK }],
    jobs: [
      { outcome: 'succeeded', minutesAgo: 24 * 60 },
      { outcome: 'failed', minutesAgo: 60 },
    ],
  });
  failedJob = [...api.jobs.values()].find((job) => job.status?.conditions?.some((c) => c.type === 'Failed'))!
    .metadata!.name!;
});

afterEach(async () => {
  await cluster.stop();
});

describe('k8s.job-status', () => {
  it('reads a failed Job: its condition, counts, and the newest failed pods with their log tails', async () => {
    // Act
    const output = (await cluster.run('k8s.job-status', {
      namespace: 'batch',
      name: failedJob,
      maxPods: 2,
      tailLines: 2,
    })) as JobStatusOutput;

    // Assess
    expect(output).toMatchObject({
      namespace: 'batch',
      name: failedJob,
      cronJob: 'nightly-report',
      failed: true,
      complete: false,
      failureReason: 'BackoffLimitExceeded',
      failureMessage: 'Job has reached the specified backoff limit',
      active: 0,
      succeeded: 0,
      failedPods: 3,
      completions: 1,
      backoffLimit: 2,
      startTime: '2026-03-02T09:00:00.000Z',
      completionTime: null,
      durationSeconds: 3600,
    });
    expect(output.failedPodsShown).toHaveLength(2);
    expect(output.failedPodsShown[0]).toMatchObject({
      phase: 'Failed',
      node: 'node-a',
      reason: 'Error',
      exitCode: 1,
      containers: [{ name: 'report', state: 'terminated', exitCode: 1 }],
      log: {
        container: 'report',
        previous: false,
        text: '  File "report.py", line 42\nKeyError: \'region\'',
        lines: 2,
        truncated: false,
      },
      logError: null,
    });
    const logs = cluster.api.requestsTo('GET').filter((request) => request.resource === 'pods/log');
    expect(logs.map((request) => request.query)).toEqual([
      { container: 'report', tailLines: '2' },
      { container: 'report', tailLines: '2' },
    ]);
  });

  it('reads the previous instance’s log of a pod restarted in place (restartPolicy OnFailure), and a deadline failure', async () => {
    // Prepare
    cluster.api.addJob({
      namespace: 'batch',
      name: 'migrate',
      restartPolicy: 'OnFailure',
      outcome: 'running',
      containers: [
        { name: 'migrate', crashLooping: true, restarts: 3, previousLog: 'connection refused: db:5432\n' },
      ],
    });
    cluster.api.addJob({
      namespace: 'batch',
      name: 'slow',
      failureReason: 'DeadlineExceeded',
      activeDeadlineSeconds: 600,
      failedPods: 1,
      containers: [{ name: 'slow', terminated: { exitCode: 143, reason: 'Error' } }],
    });

    // Act
    const migrate = (await cluster.run('k8s.job-status', {
      namespace: 'batch',
      name: 'migrate',
    })) as JobStatusOutput;
    const slow = (await cluster.run('k8s.job-status', {
      namespace: 'batch',
      name: 'slow',
    })) as JobStatusOutput;

    // Assess
    expect(migrate).toMatchObject({ failed: false, active: 1 });
    expect(migrate.failedPodsShown[0]).toMatchObject({
      phase: 'Running',
      reason: 'Error',
      exitCode: 1,
      log: { previous: true, text: 'connection refused: db:5432' },
    });
    expect(slow).toMatchObject({ failed: true, failureReason: 'DeadlineExceeded' });
    expect(slow.failedPodsShown[0]).toMatchObject({ exitCode: 143 });
  });

  it('keeps going when a failed pod’s log cannot be read, and says why', async () => {
    // Prepare
    cluster.api.failNext({ path: /\/log$/, status: 500, times: 3 });

    // Act
    const output = (await cluster.run('k8s.job-status', {
      namespace: 'batch',
      name: failedJob,
      maxPods: 1,
    })) as JobStatusOutput;

    // Assess
    expect(output.failedPodsShown[0]).toMatchObject({
      log: null,
      logError: 'pods/log answered 500 (injected failure 500)',
    });
  });
});

describe('k8s.job-rerun', () => {
  it('re-runs a failed Job as a copy without its generated selector and labels; the controller starts it', async () => {
    // Act
    const output = (await cluster.run('k8s.job-rerun', {
      namespace: 'batch',
      name: failedJob,
    })) as JobRerunOutput;
    cluster.api.reconcile();

    // Assess
    expect(output).toEqual({
      namespace: 'batch',
      sourceKind: 'Job',
      source: failedJob,
      job: expect.stringMatching(new RegExp(`^${failedJob}-rerun-[a-z0-9]{5}$`)),
      created: true,
      dryRun: false,
    });
    const [create] = cluster.api.requestsTo('POST', '/apis/batch/v1/namespaces/batch/jobs');
    const body = create?.body as {
      metadata: { generateName: string; labels: Record<string, string> };
      spec: Record<string, unknown>;
    };
    expect(body.metadata.generateName).toBe(`${failedJob}-rerun-`);
    expect(body.metadata.labels).toEqual({ app: 'nightly-report', [RERUN_OF_LABEL]: failedJob });
    expect(body.spec.selector).toBeUndefined();
    expect(JSON.stringify(body.spec)).not.toContain('controller-uid');
    const rerun = cluster.api.jobs.get(`batch/${output.job}`)!;
    expect(rerun.spec!.selector!.matchLabels!['batch.kubernetes.io/controller-uid']).toBe(
      rerun.metadata!.uid,
    );
    expect(rerun.metadata!.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'CronJob', name: 'nightly-report' }),
    ]);
    expect(cluster.api.podsMatching('batch', rerun.spec!.selector).map((pod) => pod.status!.phase)).toEqual([
      'Running',
    ]);
  });

  it('finds the re-run it made when it runs again, instead of making another', async () => {
    // Act
    const first = (await cluster.run('k8s.job-rerun', {
      namespace: 'batch',
      name: failedJob,
    })) as JobRerunOutput;
    const again = (await cluster.run('k8s.job-rerun', {
      namespace: 'batch',
      name: failedJob,
    })) as JobRerunOutput;

    // Assess
    expect(again).toMatchObject({ job: first.job, created: false });
    expect(cluster.api.requestsTo('POST')).toHaveLength(1);
  });

  it('creates a Job from a CronJob’s template as kubectl create job --from=cronjob', async () => {
    // Act
    const output = (await cluster.run('k8s.job-rerun', {
      namespace: 'batch',
      kind: 'CronJob',
      name: 'nightly-report',
    })) as JobRerunOutput;

    // Assess
    expect(output).toMatchObject({
      sourceKind: 'CronJob',
      job: expect.stringMatching(/^nightly-report-manual-/),
      created: true,
    });
    const job = cluster.api.jobs.get(`batch/${output.job}`)!;
    expect(job.metadata!.annotations).toMatchObject({ 'cronjob.kubernetes.io/instantiate': 'manual' });
    expect(job.metadata!.ownerReferences![0]).toMatchObject({
      kind: 'CronJob',
      name: 'nightly-report',
      controller: true,
    });
    expect(job.spec!.backoffLimit).toBe(2);
  });

  it('refuses a Job that has not failed, and creates nothing in a dry run', async () => {
    // Prepare
    const succeeded = [...cluster.api.jobs.values()].find((job) =>
      job.status?.conditions?.some((c) => c.type === 'Complete'),
    )!;

    // Act
    const refused = await rejectionOf(
      cluster.run('k8s.job-rerun', { namespace: 'batch', name: succeeded.metadata!.name! }),
    );
    const dry = (await cluster.run(
      'k8s.job-rerun',
      { namespace: 'batch', name: failedJob },
      { dryRun: true },
    )) as JobRerunOutput;

    // Assess
    expect(refused.name).toBe(AslErrorName.ToolRefused);
    expect(refused.message).toMatch(/has not failed \(it completed\): there is nothing to re-run/);
    expect(dry).toMatchObject({ created: false, dryRun: true, job: expect.stringMatching(/-rerun-/) });
    expect(cluster.api.requestsTo('POST')[0]?.query.dryRun).toBe('All');
    expect(cluster.api.jobs.size).toBe(2);
  });
});

describe('k8s.delete-job', () => {
  it('deletes a failed Job and its pods once its re-run completed, with a uid precondition', async () => {
    // Prepare: the re-run's image completes
    cluster.api.setImageBehaviour('shop/report:3.1.0', { terminated: { exitCode: 0, reason: 'Completed' } });
    const rerun = (await cluster.run('k8s.job-rerun', {
      namespace: 'batch',
      name: failedJob,
    })) as JobRerunOutput;
    cluster.api.reconcile();
    const uid = cluster.api.jobs.get(`batch/${failedJob}`)!.metadata!.uid;

    // Act
    const output = (await cluster.run('k8s.delete-job', {
      namespace: 'batch',
      name: failedJob,
      replacedBy: rerun.job,
    })) as DeleteJobOutput;

    // Assess
    expect(output).toEqual({
      namespace: 'batch',
      name: failedJob,
      cronJob: 'nightly-report',
      failureReason: 'BackoffLimitExceeded',
      replacedBy: rerun.job,
      deleted: true,
      alreadyGone: false,
      dryRun: false,
    });
    expect(cluster.api.jobs.has(`batch/${failedJob}`)).toBe(false);
    expect([...cluster.api.pods.keys()].filter((key) => key.startsWith(`batch/${failedJob}-`))).toEqual([
      expect.stringContaining(rerun.job),
    ]);
    const [deletion] = cluster.api.requestsTo('DELETE', `/apis/batch/v1/namespaces/batch/jobs/${failedJob}`);
    expect(deletion?.body).toMatchObject({ propagationPolicy: 'Background', preconditions: { uid } });
    expect(deletion?.query.propagationPolicy).toBe('Background');
  });

  it('refuses while the re-run has not completed, and a Job that has not failed; a gone Job is alreadyGone', async () => {
    // Prepare: the re-run is still running
    const rerun = (await cluster.run('k8s.job-rerun', {
      namespace: 'batch',
      name: failedJob,
    })) as JobRerunOutput;
    cluster.api.reconcile();
    const succeeded = [...cluster.api.jobs.values()].find((job) =>
      job.status?.conditions?.some((c) => c.type === 'Complete'),
    )!;

    // Act
    const early = await rejectionOf(
      cluster.run('k8s.delete-job', { namespace: 'batch', name: failedJob, replacedBy: rerun.job }),
    );
    const healthy = await rejectionOf(
      cluster.run('k8s.delete-job', { namespace: 'batch', name: succeeded.metadata!.name! }),
    );
    const dry = (await cluster.run(
      'k8s.delete-job',
      { namespace: 'batch', name: failedJob },
      { dryRun: true },
    )) as DeleteJobOutput;
    const missing = (await cluster.run('k8s.delete-job', {
      namespace: 'batch',
      name: 'nightly-report-1',
    })) as DeleteJobOutput;

    // Assess
    expect(early.name).toBe(AslErrorName.ToolRefused);
    expect(early.message).toMatch(
      /has not completed \(1 pod\(s\) active\): the failed Job stays as the evidence/,
    );
    expect(healthy.name).toBe(AslErrorName.ToolRefused);
    expect(healthy.message).toMatch(/has not failed \(it completed\): only a failed Job is deleted/);
    expect(dry).toMatchObject({ deleted: false, dryRun: true, alreadyGone: false });
    expect(cluster.api.requestsTo('DELETE')[0]?.query.dryRun).toBe('All');
    expect(cluster.api.jobs.has(`batch/${failedJob}`)).toBe(true);
    expect(missing).toMatchObject({ deleted: false, alreadyGone: true });
  });
});
