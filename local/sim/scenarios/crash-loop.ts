import { DEMO_NODES } from '../cluster.ts';
import { chartRule } from '../monitoring/rules.ts';
import { isCrashLooping } from '../world.ts';
import type { Scenario } from './types.ts';

/**
 * One of three checkout replicas crash-loops: the catalog cache in its emptyDir volume was cut short
 * by an interrupted write, and it exits reading it. The other two serve; a new pod gets an empty
 * volume and rebuilds the cache, so replacing that one pod is the fix.
 */

/** The crash loop began this long before the world started (CrashLoopBackOff restarts every 5 min). */
const CRASHING_FOR_SECONDS = 70 * 60;

export const KUBE_POD_CRASH_LOOPING = chartRule({
  group: 'kubernetes-apps',
  alert: 'KubePodCrashLooping',
  expr: 'max_over_time(kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff", job="kube-state-metrics", namespace=~".*"}[5m]) >= 1',
  for: '15m',
  simulatedFor: '5s',
  // Five minutes of max_over_time would keep the alert firing that long after the pod is replaced.
  windows: { '5m': '10s' },
  labels: { severity: 'warning' },
  annotations: {
    description:
      'Pod {{ $labels.namespace }}/{{ $labels.pod }} ({{ $labels.container }}) is in waiting state (reason: "CrashLoopBackOff"){{ with $labels.cluster -}} on cluster {{ . }}{{- end }}.',
    runbook_url: 'https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping',
    summary: 'Pod is crash looping.',
  },
});

export const crashLoop: Scenario = {
  id: 'crash-loop',
  summary: 'one checkout pod crash-loops on a truncated cache file; pod-crash-looping evicts it',
  alertname: 'KubePodCrashLooping',
  runbookId: 'pod-crash-looping',
  inDefaultSet: true,
  waits: 'the runbook gives the replacement pod 180 s (wait-for-replacement) before it checks the workload',
  waitSeconds: 180,
  rules: [KUBE_POD_CRASH_LOOPING],
  setup(world) {
    const { kube } = world;
    const crashStart = world.startedAt - CRASHING_FOR_SECONDS;
    const crashing = world.podOn('shop', 'checkout', DEMO_NODES.spare.name);
    const name = crashing.metadata!.name!;
    // The pod was rescheduled just before its cache was cut short; it has crashed ever since.
    world.backdatePod(crashing, crashStart - 120);
    const restarts = (time: number) => (time < crashStart ? 0 : 1 + Math.floor((time - crashStart) / 300));
    kube.edit(kube.pods, `shop/${name}`, (pod) => {
      const at = new Date();
      pod.status!.conditions = (pod.status!.conditions ?? []).map((condition) =>
        condition.type === 'Ready' || condition.type === 'ContainersReady'
          ? { ...condition, status: 'False', reason: 'ContainersNotReady', lastTransitionTime: at }
          : condition,
      );
      pod.status!.containerStatuses = (pod.status!.containerStatuses ?? []).map((status) => ({
        ...status,
        ready: false,
        started: false,
        restartCount: restarts(world.startedAt),
        state: {
          waiting: {
            reason: 'CrashLoopBackOff',
            message: `back-off 5m0s restarting failed container=checkout pod=${name}_shop(${pod.metadata!.uid})`,
          },
        },
        lastState: {
          terminated: {
            exitCode: 1,
            reason: 'Error',
            startedAt: new Date(at.getTime() - 2_400),
            finishedAt: new Date(at.getTime() - 900),
          },
        },
      }));
    });
    world.setRestartModel(crashing, 'checkout', restarts);
    kube.setPodUsage('shop', name, 'checkout', { cpu: '1m', memory: '12Mi' });
    const started = (offset: number) =>
      new Date((world.startedAt - 140 + offset) * 1_000).toISOString().replace(/\.\d+Z$/, 'Z');
    kube.setPodLog('shop', name, 'checkout', {
      current: '',
      previous: [
        `${started(0)} INFO  checkout 3.18.2 starting (build 7c1e9a4)`,
        `${started(0.2)} INFO  connecting to payments at payments.shop.svc:8443`,
        `${started(0.4)} INFO  loading catalog cache /var/cache/checkout/catalog.bin`,
        `${started(1.3)} ERROR catalog cache /var/cache/checkout/catalog.bin: unexpected EOF after 48201216 of 61440000 bytes (file truncated)`,
        `${started(1.3)} FATAL cannot serve without a catalog cache; exiting with status 1`,
        '',
      ].join('\n'),
    });
    kube.reconcile();
    return {
      title: `KubePodCrashLooping shop/${name}`,
      story: [
        'One of three checkout replicas crashes at start: the catalog cache in its emptyDir volume was',
        'cut short by an interrupted write, and it exits reading it. The other two serve. A new pod gets an',
        'empty volume and rebuilds the cache, so replacing that one pod is the fix.',
      ],
      alertSeries: {
        metric: 'kube_pod_container_status_waiting_reason',
        labels: { namespace: 'shop', pod: name, container: 'checkout', reason: 'CrashLoopBackOff' },
      },
      alertValue: () => 1,
      holds: () => {
        const pod = world.pod('shop', name);
        return pod !== undefined && isCrashLooping(pod);
      },
      firingForMinutes: 12,
    };
  },
};
