import type { ServiceOptions } from '../demo/fake-kube-api.ts';
import { GI, type Host, MI, NodeFilesystem, Volume } from './host.ts';
import type { World } from './world.ts';

/**
 * The healthy cluster every scenario starts from: three EKS nodes in eu-west-1, the system and
 * monitoring workloads a kube-prometheus-stack cluster runs (with the chart's object names, since
 * alerts carry them), and a small shop (cart, checkout, frontend, an orders database with a volume,
 * a nightly report job). Scenarios break one thing each on top of it.
 */

export const DEMO_CLUSTER = 'staging-eks-eu-west-1';
export const DEMO_CONTEXT = 'demo-target-staging';
export const DEMO_REGION = 'eu-west-1';
export const DEMO_ACCOUNT = '222222222222';
export const DEMO_ENVIRONMENT = 'staging';

export interface DemoNode {
  name: string;
  ip: string;
  zone: string;
  instanceId: string;
}

/** The nodes by the part they play in the default scenarios. */
export const DEMO_NODES = {
  memory: {
    name: 'ip-10-0-1-23.eu-west-1.compute.internal',
    ip: '10.0.1.23',
    zone: 'eu-west-1a',
    instanceId: 'i-0a1c3e5f7b9d24681',
  },
  disk: {
    name: 'ip-10-0-2-141.eu-west-1.compute.internal',
    ip: '10.0.2.141',
    zone: 'eu-west-1b',
    instanceId: 'i-0b2d4f6a8c0e13579',
  },
  spare: {
    name: 'ip-10-0-3-87.eu-west-1.compute.internal',
    ip: '10.0.3.87',
    zone: 'eu-west-1c',
    instanceId: 'i-0c3e5a7b9d1f24680',
  },
} as const satisfies Record<string, DemoNode>;

/** kube-prometheus-stack's object names (release `kube-prometheus-stack` in `monitoring`). */
export const MONITORING = {
  namespace: 'monitoring',
  kubeStateMetrics: 'kube-prometheus-stack-kube-state-metrics',
  nodeExporter: 'kube-prometheus-stack-prometheus-node-exporter',
  prometheus: 'prometheus-kube-prometheus-stack-prometheus',
  alertmanager: 'alertmanager-kube-prometheus-stack-alertmanager',
  kubeletService: 'kube-prometheus-stack-kubelet',
  operator: 'kube-prometheus-stack-operator',
} as const;

export const ROOT_DISK_BYTES = 50 * GI;

/** A root filesystem: `freeFraction` free, growing by `bytesPerSecond` (journald), some reclaimable. */
export function rootFilesystem(
  world: World,
  options: { freeFraction: number; bytesPerSecond: number; journalBytes: number } = {
    freeFraction: 0.71,
    bytesPerSecond: 0,
    journalBytes: 0.6 * GI,
  },
  reclaimable: { rotatedLogBytes: number; unusedImageBytes: number; unusedImages: number } = {
    rotatedLogBytes: 40 * MI,
    unusedImageBytes: 0.4 * GI,
    unusedImages: 3,
  },
): NodeFilesystem {
  return new NodeFilesystem(
    '/dev/nvme0n1p1',
    'xfs',
    '/',
    ROOT_DISK_BYTES,
    (1 - options.freeFraction) * ROOT_DISK_BYTES,
    options.bytesPerSecond,
    world.startedAt,
    { journalBytes: options.journalBytes, imagesInUse: 41, ...reclaimable },
  );
}

/** A node of the general-purpose node group (m6i.xlarge) with its root, EFI and /run filesystems. */
export function addWorkerNode(world: World, node: DemoNode): Host {
  const host = world.addNode(
    { ...node, instanceType: 'm6i.xlarge', cpus: 4, memoryBytes: 16 * GI },
    {
      labels: {
        'topology.kubernetes.io/region': DEMO_REGION,
        'eks.amazonaws.com/nodegroup': 'general-purpose',
        'demo.runbook-autopilot/target': 'true',
      },
    },
  );
  const nothingToReclaim = {
    journalBytes: 0,
    rotatedLogBytes: 0,
    unusedImageBytes: 0,
    imagesInUse: 0,
    unusedImages: 0,
  };
  host.filesystems.push(
    rootFilesystem(world),
    new NodeFilesystem(
      '/dev/nvme0n1p128',
      'vfat',
      '/boot/efi',
      10 * MI,
      1.3 * MI,
      0,
      world.startedAt,
      nothingToReclaim,
    ),
    new NodeFilesystem('tmpfs', 'tmpfs', '/run', 3.1 * GI, 4.6 * MI, 0, world.startedAt, {
      ...nothingToReclaim,
    }),
  );
  return host;
}

/** node-exporter runs in the host network: its pod IP is the node's. */
export function nodeExporterInHostNetwork(world: World): void {
  const { kube } = world;
  for (const pod of kube.podsMatching(MONITORING.namespace, {
    matchLabels: { 'app.kubernetes.io/name': 'prometheus-node-exporter' },
  })) {
    kube.edit(kube.pods, `${MONITORING.namespace}/${pod.metadata!.name}`, (object) => {
      object.spec!.hostNetwork = true;
      object.status!.podIP = object.status!.hostIP;
    });
  }
}

export function seedCluster(world: World): void {
  const { kube } = world;
  for (const node of Object.values(DEMO_NODES)) addWorkerNode(world, node);
  const everyNode = Object.values(DEMO_NODES).map((node) => node.name);

  kube.addDaemonSet({
    namespace: 'kube-system',
    name: 'kube-proxy',
    labels: { 'k8s-app': 'kube-proxy' },
    containers: [
      { name: 'kube-proxy', requests: { cpu: '100m', memory: '40Mi' }, usage: { cpu: '3m', memory: '38Mi' } },
    ],
  });
  kube.addDaemonSet({
    namespace: 'kube-system',
    name: 'aws-node',
    labels: { 'k8s-app': 'aws-node' },
    containers: [
      { name: 'aws-node', requests: { cpu: '25m', memory: '64Mi' }, usage: { cpu: '4m', memory: '66Mi' } },
    ],
  });
  kube.addDeployment({
    namespace: 'kube-system',
    name: 'coredns',
    replicas: 2,
    nodes: [DEMO_NODES.disk.name, DEMO_NODES.spare.name],
    labels: { 'k8s-app': 'kube-dns' },
    containers: [
      {
        name: 'coredns',
        image: '602401143452.dkr.ecr.eu-west-1.amazonaws.com/eks/coredns:v1.11.3-eksbuild.1',
        requests: { cpu: '100m', memory: '70Mi' },
        limits: { memory: '170Mi' },
        usage: { cpu: '4m', memory: '21Mi' },
      },
    ],
  });

  kube.addDaemonSet({
    namespace: MONITORING.namespace,
    name: MONITORING.nodeExporter,
    labels: { 'app.kubernetes.io/name': 'prometheus-node-exporter' },
    containers: [
      {
        name: 'node-exporter',
        image: 'quay.io/prometheus/node-exporter:v1.8.2',
        requests: { cpu: '10m', memory: '32Mi' },
        usage: { cpu: '2m', memory: '24Mi' },
      },
    ],
  });
  nodeExporterInHostNetwork(world);
  kube.addDeployment({
    namespace: MONITORING.namespace,
    name: MONITORING.kubeStateMetrics,
    replicas: 1,
    nodes: [DEMO_NODES.spare.name],
    labels: { 'app.kubernetes.io/name': 'kube-state-metrics' },
    containers: [
      {
        name: 'kube-state-metrics',
        image: 'registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.13.0',
        requests: { cpu: '10m', memory: '64Mi' },
        usage: { cpu: '5m', memory: '58Mi' },
      },
    ],
  });
  kube.addStatefulSet({
    namespace: MONITORING.namespace,
    name: MONITORING.prometheus,
    replicas: 1,
    nodes: [DEMO_NODES.spare.name],
    labels: { 'app.kubernetes.io/name': 'prometheus' },
    containers: [
      {
        name: 'prometheus',
        image: 'quay.io/prometheus/prometheus:v2.54.1',
        requests: { cpu: '200m', memory: '1Gi' },
        usage: { cpu: '150m', memory: '1200Mi' },
      },
    ],
  });
  kube.addDeployment({
    namespace: MONITORING.namespace,
    name: MONITORING.operator,
    replicas: 1,
    nodes: [DEMO_NODES.spare.name],
    labels: {
      app: MONITORING.operator,
      'app.kubernetes.io/name': 'kube-prometheus-stack-prometheus-operator',
    },
    containers: [
      {
        name: 'kube-prometheus-stack',
        image: 'quay.io/prometheus-operator/prometheus-operator:v0.76.2',
        requests: { cpu: '10m', memory: '64Mi' },
        usage: { cpu: '4m', memory: '41Mi' },
      },
    ],
  });
  kube.addStatefulSet({
    namespace: MONITORING.namespace,
    name: MONITORING.alertmanager,
    replicas: 1,
    nodes: [DEMO_NODES.disk.name],
    labels: { 'app.kubernetes.io/name': 'alertmanager' },
    containers: [
      {
        name: 'alertmanager',
        image: 'quay.io/prometheus/alertmanager:v0.27.0',
        requests: { cpu: '10m', memory: '64Mi' },
        usage: { cpu: '2m', memory: '31Mi' },
      },
    ],
  });

  // cart: no memory limit, and a session cache that never evicts.
  kube.addDeployment({
    namespace: 'shop',
    name: 'cart',
    replicas: 3,
    nodes: everyNode,
    containers: [
      {
        name: 'cart',
        image: 'registry.example.com/shop/cart:2.14.0',
        requests: { cpu: '250m', memory: '512Mi' },
        limits: { cpu: '1' },
        usage: { cpu: '180m', memory: '1100Mi' },
      },
    ],
  });
  kube.addPdb({ namespace: 'shop', name: 'cart', matchLabels: { app: 'cart' }, maxUnavailable: 1 });
  kube.addDeployment({
    namespace: 'shop',
    name: 'checkout',
    replicas: 3,
    nodes: everyNode,
    containers: [
      {
        name: 'checkout',
        image: 'registry.example.com/shop/checkout:3.18.2',
        requests: { cpu: '200m', memory: '384Mi' },
        limits: { cpu: '1', memory: '768Mi' },
        usage: { cpu: '120m', memory: '400Mi' },
      },
    ],
  });
  kube.addPdb({ namespace: 'shop', name: 'checkout', matchLabels: { app: 'checkout' }, minAvailable: 2 });
  kube.addDeployment({
    namespace: 'shop',
    name: 'frontend',
    replicas: 2,
    nodes: [DEMO_NODES.disk.name, DEMO_NODES.spare.name],
    containers: [
      {
        name: 'frontend',
        image: 'registry.example.com/shop/frontend:5.2.1',
        requests: { cpu: '100m', memory: '256Mi' },
        limits: { cpu: '500m' },
        usage: { cpu: '60m', memory: '210Mi' },
      },
    ],
  });
  kube.addPdb({ namespace: 'shop', name: 'frontend', matchLabels: { app: 'frontend' }, minAvailable: 1 });
  kube.addResourceQuota({
    namespace: 'shop',
    name: 'shop-quota',
    hard: { 'requests.cpu': '12', 'requests.memory': '24Gi', pods: '60' },
  });
  kube.addHorizontalPodAutoscaler({
    namespace: 'shop',
    name: 'frontend',
    target: { kind: 'Deployment', name: 'frontend' },
    minReplicas: 2,
    maxReplicas: 6,
    demand: 2,
    cpu: { target: 70, current: 60 },
  });

  kube.addStorageClass({ name: 'gp3', allowVolumeExpansion: true, isDefault: true });
  kube.addStatefulSet({
    namespace: 'shop',
    name: 'orders-db',
    replicas: 1,
    nodes: [DEMO_NODES.spare.name],
    containers: [
      {
        name: 'postgres',
        image: 'registry.example.com/shop/postgres:16.4',
        requests: { cpu: '250m', memory: '1Gi' },
        limits: { memory: '2Gi' },
        usage: { cpu: '90m', memory: '780Mi' },
      },
    ],
    // Its pod mounts the claim data-orders-db-0, as the StatefulSet controller makes it.
    volumeClaimTemplates: [{ name: 'data', size: '20Gi', used: '7.4Gi' }],
  });
  world.attachVolume(
    'shop',
    'data-orders-db-0',
    'orders-db-0',
    new Volume(20 * GI, 7.4 * GI, 0, world.startedAt),
  );

  kube.addCronJob({
    namespace: 'shop',
    name: 'nightly-report',
    schedule: '0 2 * * *',
    containers: [
      {
        name: 'report',
        image: 'registry.example.com/shop/report:1.4.0',
        requests: { cpu: '100m', memory: '128Mi' },
      },
    ],
    jobs: [{ outcome: 'succeeded', minutesAgo: 6 * 60 }],
  });
  kube.reconcile();
  // The cluster has run for a while: its pods (and so their series) are days old, not seconds.
  for (const pod of kube.pods.values())
    if (pod.status?.phase === 'Running') world.backdatePod(pod, world.startedAt - SEEDED_POD_AGE_SECONDS);

  // The orders database's schema migration, a Helm pre-upgrade hook of the last release: the Job stays
  // until the next upgrade replaces it (hook-delete-policy before-hook-creation), under a name of its own.
  kube.addJob({
    namespace: 'shop',
    name: 'orders-db-migrate',
    outcome: 'succeeded',
    startedMinutesAgo: SEEDED_POD_AGE_SECONDS / 60,
    labels: { 'app.kubernetes.io/name': 'orders-db-migrate', 'app.kubernetes.io/instance': 'shop' },
    annotations: { 'helm.sh/hook': 'pre-upgrade', 'helm.sh/hook-delete-policy': 'before-hook-creation' },
    containers: [
      {
        name: 'migrate',
        image: 'registry.example.com/shop/orders-migrations:3.18.2',
        requests: { cpu: '100m', memory: '128Mi' },
      },
    ],
  });

  // The Services the chart and the shop's manifests create: alerts name them (TargetDown's `service`,
  // the scrape targets' `service` label) and resolution follows their selectors to the pods.
  for (const service of BASELINE_SERVICES) kube.addService(service);
  // checkout serves its own metrics, scraped through its ServiceMonitor (what TargetDown watches).
  world.addServiceMonitor({ namespace: 'shop', service: 'checkout', port: 8080, endpoint: 'http-metrics' });
}

/** The baseline's Services: kube-prometheus-stack's (the chart's names and selectors), CoreDNS's, the shop's. */
const BASELINE_SERVICES: ServiceOptions[] = [
  {
    namespace: 'kube-system',
    name: 'kube-dns',
    selector: { 'k8s-app': 'kube-dns' },
    ports: [
      { name: 'dns-tcp', port: 53 },
      { name: 'metrics', port: 9153 },
    ],
  },
  {
    namespace: MONITORING.namespace,
    name: MONITORING.kubeStateMetrics,
    selector: { 'app.kubernetes.io/name': 'kube-state-metrics' },
    ports: [{ name: 'http', port: 8080 }],
  },
  {
    namespace: MONITORING.namespace,
    name: MONITORING.nodeExporter,
    selector: { 'app.kubernetes.io/name': 'prometheus-node-exporter' },
    ports: [{ name: 'http-metrics', port: 9100 }],
  },
  {
    namespace: MONITORING.namespace,
    name: 'kube-prometheus-stack-prometheus',
    selector: { 'app.kubernetes.io/name': 'prometheus' },
    ports: [
      { name: 'http-web', port: 9090 },
      { name: 'reloader-web', port: 8080 },
    ],
  },
  {
    namespace: MONITORING.namespace,
    name: 'kube-prometheus-stack-alertmanager',
    selector: { 'app.kubernetes.io/name': 'alertmanager' },
    ports: [
      { name: 'http-web', port: 9093 },
      { name: 'reloader-web', port: 8080 },
    ],
  },
  {
    namespace: MONITORING.namespace,
    name: MONITORING.operator,
    selector: { app: MONITORING.operator },
    ports: [{ name: 'https', port: 443, targetPort: 10250 }],
  },
  ...['cart', 'checkout', 'frontend'].map((app) => ({
    namespace: 'shop',
    name: app,
    selector: { app },
    ports: [
      { name: 'http', port: 80, targetPort: 8080 },
      { name: 'http-metrics', port: 8080 },
    ],
  })),
  {
    namespace: 'shop',
    name: 'orders-db',
    selector: { app: 'orders-db' },
    ports: [{ name: 'postgres', port: 5432 }],
  },
];

/** How long the seeded pods have run (scenarios backdate theirs further where the story needs it). */
export const SEEDED_POD_AGE_SECONDS = 2 * 86_400;
