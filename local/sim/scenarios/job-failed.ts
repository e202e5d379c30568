import { chartRule } from '../monitoring/rules.ts';
import type { Scenario } from './types.ts';

/**
 * Tonight's run of the nightly report started while the orders database restarted for a minor-version
 * update: each of its three attempts was refused a connection and the Job failed. The CronJob
 * succeeded every night before, and the database is back: running the Job again, then deleting the
 * failed one (which keeps KubeJobFailed firing), is the fix.
 */

const NAMESPACE = 'shop';
const CRONJOB = 'nightly-report';
const IMAGE = 'registry.example.com/shop/report:1.4.0';
const FAILED_MINUTES_AGO = 40;

export const KUBE_JOB_FAILED = chartRule({
  group: 'kubernetes-apps',
  alert: 'KubeJobFailed',
  expr: 'kube_job_failed{job="kube-state-metrics", namespace=~".*"}  > 0',
  for: '15m',
  simulatedFor: '5s',
  labels: { severity: 'warning' },
  annotations: {
    description:
      'Job {{ $labels.namespace }}/{{ $labels.job_name }} failed to complete. Removing failed job after investigation should clear this alert{{ with $labels.cluster -}} on cluster {{ . }}{{- end }}.',
    runbook_url: 'https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubejobfailed',
    summary: 'Job failed to complete.',
  },
});

export const jobFailed: Scenario = {
  id: 'job-failed',
  summary:
    'the nightly report fails while the database restarts; job-failed runs it again and removes the failed Job',
  alertname: 'KubeJobFailed',
  runbookId: 'job-failed',
  inDefaultSet: false,
  waits: 'the runbook gives the re-run 120 s (wait-for-rerun) before it removes the failed Job',
  waitSeconds: 120,
  rules: [KUBE_JOB_FAILED],
  setup(world) {
    const { kube } = world;
    const cronJob = kube.cronJobs.get(`${NAMESPACE}/${CRONJOB}`);
    if (!cronJob) throw new Error(`simulated world: no CronJob ${NAMESPACE}/${CRONJOB}`);
    const scheduled = new Date((world.startedAt - FAILED_MINUTES_AGO * 60) * 1_000);
    const name = `${CRONJOB}-${Math.floor(scheduled.getTime() / 60_000)}`;
    const started = (offset: number) =>
      new Date(scheduled.getTime() + offset * 1_000).toISOString().replace(/\.\d+Z$/, 'Z');
    kube.addJob({
      namespace: NAMESPACE,
      name,
      outcome: 'failed',
      backoffLimit: 2,
      startedMinutesAgo: FAILED_MINUTES_AGO,
      labels: { app: CRONJOB },
      annotations: { 'batch.kubernetes.io/cronjob-scheduled-timestamp': scheduled.toISOString() },
      owner: {
        apiVersion: 'batch/v1',
        kind: 'CronJob',
        name: CRONJOB,
        uid: cronJob.metadata!.uid!,
        controller: true,
        blockOwnerDeletion: true,
      },
      containers: [
        {
          name: 'report',
          image: IMAGE,
          requests: { cpu: '100m', memory: '128Mi' },
          log: [
            `${started(1)} INFO  nightly report 1.4.0 for ${scheduled.toISOString().slice(0, 10)}`,
            `${started(2)} INFO  connecting to orders-db.shop.svc.cluster.local:5432`,
            `${started(2)} ERROR psycopg2.OperationalError: connection to server at "orders-db.shop.svc.cluster.local" (172.20.41.7), port 5432 failed: Connection refused`,
            `${started(2)} ERROR \tIs the server running on that host and accepting TCP/IP connections?`,
            `${started(2)} FATAL giving up: could not load the orders`,
            '',
          ].join('\n'),
        },
      ],
    });
    // The database is back: a run now completes.
    kube.setImageBehaviour(IMAGE, {
      terminated: { exitCode: 0, reason: 'Completed' },
      log: 'INFO  nightly report 1.4.0\nINFO  18204 orders, report written to s3://shop-reports/nightly/\n',
    });
    kube.reconcile();
    return {
      title: `KubeJobFailed ${NAMESPACE}/${name}`,
      story: [
        `Tonight's ${CRONJOB} Job started ${FAILED_MINUTES_AGO} minutes ago while orders-db restarted for an update:`,
        'each of its three attempts was refused a connection and the Job failed. The CronJob succeeded every',
        'night before and the database is back: a re-run completes, and deleting the failed Job clears the alert.',
      ],
      alertSeries: {
        metric: 'kube_job_failed',
        labels: { namespace: NAMESPACE, job_name: name, condition: 'true' },
      },
      alertValue: () => 1,
      holds: () =>
        kube.jobs
          .get(`${NAMESPACE}/${name}`)
          ?.status?.conditions?.some(
            (condition) => condition.type === 'Failed' && condition.status === 'True',
          ) === true,
      firingForMinutes: FAILED_MINUTES_AGO - 15,
    };
  },
};
