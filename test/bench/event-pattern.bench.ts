import { bench, describe } from 'vitest';
import { compileEventPattern } from '../../functions/core/event-pattern.ts';

// An alert storm: 10,000 events matched against the 50 compiled patterns of the rules and runbooks in play.
const EVENT_COUNT = 10_000;

/** Deterministic pseudo-random numbers (mulberry32), so every run matches the same storm. */
function randomSource(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = randomSource(42);
const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;

const REGIONS = ['eu-west-1', 'eu-central-1', 'us-east-1', 'us-west-2'] as const;
const SERVICES = ['checkout-api', 'payments', 'search', 'inventory', 'auth', 'critical-db'] as const;
const SYMPTOMS = ['5xx-rate', 'latency-p99', 'cpu-high', 'disk-full', 'memory-pressure'] as const;
const ALARM_STATES = ['ALARM', 'OK', 'INSUFFICIENT_DATA'] as const;
const EXECUTION_STATUSES = ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'] as const;
const NAMESPACES = ['AWS/ApplicationELB', 'AWS/EC2', 'AWS/RDS', 'AWS/Lambda'] as const;
const ALERT_NAMES = ['KubeNodeDiskPressure', 'KubePodCrashLooping', 'HighErrorRate', 'TargetDown'] as const;
const SEVERITIES = ['critical', 'high', 'warning', 'info'] as const;

function cloudWatchAlarmEvent(index: number) {
  const region = pick(REGIONS);
  const alarmName = `${pick(SERVICES)}-${pick(SYMPTOMS)}`;
  return {
    version: '0',
    id: `alarm-${index}`,
    'detail-type': 'CloudWatch Alarm State Change',
    source: 'aws.cloudwatch',
    account: '123456789012',
    time: `2024-05-02T17:${String(index % 60).padStart(2, '0')}:40Z`,
    region,
    resources: [`arn:aws:cloudwatch:${region}:123456789012:alarm:${alarmName}`],
    detail: {
      alarmName,
      state: {
        value: pick(ALARM_STATES),
        reason: 'Threshold Crossed',
        timestamp: '2024-05-02T17:04:40.985+0000',
      },
      previousState: { value: pick(ALARM_STATES), reason: 'Threshold Crossed' },
      configuration: {
        metrics: [
          {
            id: 'm1',
            metricStat: {
              metric: { namespace: pick(NAMESPACES), name: 'Metric', dimensions: { Service: alarmName } },
              period: pick([60, 300, 3600]),
              stat: 'Average',
            },
            returnData: true,
          },
        ],
      },
    },
  };
}

function executionStatusEvent(index: number) {
  const region = pick(REGIONS);
  const machine = `runbook-${pick(SYMPTOMS)}`;
  return {
    version: '0',
    id: `execution-${index}`,
    'detail-type': 'Step Functions Execution Status Change',
    source: 'aws.states',
    account: '123456789012',
    time: '2024-05-02T19:42:21Z',
    region,
    resources: [`arn:aws:states:${region}:123456789012:execution:${machine}:inc-${index}`],
    detail: {
      executionArn: `arn:aws:states:${region}:123456789012:execution:${machine}:inc-${index}`,
      stateMachineArn: `arn:aws:states:${region}:123456789012:stateMachine:${machine}`,
      name: `inc-${index}`,
      status: pick(EXECUTION_STATUSES),
      startDate: 1714678941000 + index,
      stopDate: null,
      input: '{}',
      output: null,
    },
  };
}

function normalizedAlert(index: number) {
  const node = `ip-10-0-${Math.floor(random() * 8)}-${Math.floor(random() * 250)}`;
  return {
    id: `alert-${index}`,
    source: pick(['prometheus', 'cloudwatch']),
    status: pick(['firing', 'resolved']),
    severity: pick(SEVERITIES),
    labels: {
      alertname: pick(ALERT_NAMES),
      severity: pick(SEVERITIES),
      namespace: pick(['prod', 'staging']),
    },
    resource: {
      type: pick(['k8s-node', 'k8s-pod', 'ec2-instance']),
      id: node,
      ip: node.slice(3).replaceAll('-', '.'),
    },
    annotations: random() < 0.1 ? { runbook_skip: 'true' } : { summary: `Trouble on ${node}` },
    value: Math.round(random() * 1000) / 10,
  };
}

const EVENTS: unknown[] = Array.from({ length: EVENT_COUNT }, (_, index) => {
  const kind = index % 3;
  if (kind === 0) return cloudWatchAlarmEvent(index);
  if (kind === 1) return executionStatusEvent(index);
  return normalizedAlert(index);
});

/** Rule patterns (infra) and runbook applicability rules, ten shapes in five variants each. */
const PATTERNS: unknown[] = SERVICES.slice(0, 5).flatMap((service, variant) => [
  {
    source: ['aws.cloudwatch'],
    'detail-type': ['CloudWatch Alarm State Change'],
    detail: { state: { value: ['ALARM'] }, alarmName: [{ prefix: `${service}-` }] },
  },
  {
    source: ['aws.cloudwatch'],
    detail: {
      alarmName: [{ wildcard: `*-${SYMPTOMS[variant]}` }],
      previousState: { value: [{ 'anything-but': 'ALARM' }] },
    },
  },
  {
    source: ['aws.cloudwatch'],
    region: [{ 'anything-but': { prefix: 'us-' } }],
    detail: {
      configuration: {
        metrics: { metricStat: { period: [{ numeric: ['>=', 60 * (variant + 1), '<', 3600] }] } },
      },
    },
  },
  {
    source: ['aws.states'],
    'detail-type': ['Step Functions Execution Status Change'],
    detail: {
      status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
      stateMachineArn: [{ suffix: `runbook-${SYMPTOMS[variant]}` }],
    },
  },
  {
    source: ['aws.states'],
    resources: [{ wildcard: `arn:aws:states:${REGIONS[variant % REGIONS.length]}:*:execution:*` }],
    detail: { output: [null], stopDate: [{ exists: true }] },
  },
  {
    source: ['prometheus'],
    status: ['firing'],
    labels: { alertname: [ALERT_NAMES[variant % ALERT_NAMES.length]!], severity: ['critical', 'high'] },
    annotations: { runbook_skip: [{ exists: false }] },
  },
  {
    resource: { type: ['k8s-node'], ip: [{ cidr: `10.0.${variant}.0/24` }] },
    labels: { namespace: [{ 'equals-ignore-case': 'PROD' }] },
  },
  {
    $or: [
      { source: ['prometheus'], severity: ['critical'] },
      {
        source: ['aws.cloudwatch'],
        detail: { alarmName: [{ prefix: { 'equals-ignore-case': `${service.toUpperCase()}-` } }] },
      },
    ],
  },
  {
    source: ['cloudwatch', 'prometheus'],
    value: [{ numeric: ['>', 50 + variant * 10] }],
    labels: { alertname: [{ 'anything-but': ['TargetDown', 'Watchdog'] }] },
  },
  {
    account: ['123456789012'],
    'detail-type': [{ 'anything-but': { wildcard: ['*Heartbeat*', 'Scheduled*'] } }],
    time: [{ prefix: '2024-05-02T17:' }],
    detail: { state: { value: ['ALARM', 'INSUFFICIENT_DATA'] } },
  },
]);

const COMPILED = PATTERNS.map((pattern) => compileEventPattern(pattern));

function matchStorm(): number {
  let matches = 0;
  for (const event of EVENTS) {
    for (const matchesPattern of COMPILED) if (matchesPattern(event)) matches++;
  }
  return matches;
}

// A storm where nothing matches would benchmark the early exits only.
const STORM_MATCHES = matchStorm();
if (PATTERNS.length !== 50 || STORM_MATCHES === 0) {
  throw new Error(`benchmark set-up is wrong: ${PATTERNS.length} patterns, ${STORM_MATCHES} matches`);
}

describe(`event patterns: ${EVENT_COUNT} events x ${PATTERNS.length} compiled patterns (${STORM_MATCHES} matches)`, () => {
  bench('match the whole storm (one op = 500,000 matches)', () => {
    matchStorm();
  });

  bench('compile the 50 patterns', () => {
    for (const pattern of PATTERNS) compileEventPattern(pattern);
  });
});
