import { describe, expect, it } from 'vitest';
import {
  EXECUTION_NAME_PATTERN,
  executionName,
  incidentId,
  resourceKey,
  slug,
  stableHash,
} from '../../../../functions/core/classifier/identity.ts';
import {
  normalizeAlertmanager,
  normalizeCloudWatchAlarm,
} from '../../../../functions/core/classifier/normalize.ts';
import { sampleAlert } from '../../../support/rehearsal.ts';
import { OPTIONS, payload } from './fixtures.ts';

describe('slug', () => {
  it.each([
    ['KubeNodeMemoryPressure', 'kube-node-memory-pressure'],
    ['HTTPCode_Target_5XX_Count', 'http-code-target-5-xx-count'],
    ['shop-web-1-status-check-failed', 'shop-web-1-status-check-failed'],
    ['EC2 CPU Utilization Anomaly', 'ec2-cpu-utilization-anomaly'],
    ['***', ''],
  ])('%s → %s', (text, expected) => {
    expect(slug(text, 60)).toBe(expected);
  });

  it('stays within its length without a trailing hyphen', () => {
    expect(slug('KubeNodeMemoryPressure', 10)).toBe('kube-node');
  });
});

describe('incidentId', () => {
  it('is deterministic and readable: inc-<alert name>-<16 hex>', () => {
    const alert = sampleAlert();
    expect(incidentId(alert)).toBe(incidentId({ ...alert }));
    expect(incidentId(alert)).toMatch(/^inc-kube-node-memory-pressure-[0-9a-f]{16}$/);
  });

  it('changes with the fingerprint, the start and the source, not with anything else', () => {
    const alert = sampleAlert();
    const id = incidentId(alert);
    expect(incidentId({ ...alert, fingerprint: 'other' })).not.toBe(id);
    expect(incidentId({ ...alert, startsAt: '2026-12-01T10:00:00.000Z' })).not.toBe(id);
    expect(incidentId({ ...alert, source: 'cloudwatch' })).not.toBe(id);
    expect(
      incidentId({ ...alert, summary: 'reworded', status: 'resolved', labels: {} } as typeof alert),
    ).toBe(id);
  });

  it('gives firing and resolved the same incident, for both sources', () => {
    const [firing] = normalizeAlertmanager(payload('alertmanager-node-memory-pressure.json'), OPTIONS);
    const [resolved] = normalizeAlertmanager(payload('alertmanager-resolved.json'), OPTIONS);
    expect(incidentId(resolved!)).toBe(incidentId(firing!));
    const alarm = normalizeCloudWatchAlarm(payload('cloudwatch-alarm-ec2-status-check.json'), OPTIONS);
    const ok = normalizeCloudWatchAlarm(payload('cloudwatch-alarm-ok.json'), OPTIONS);
    expect(incidentId(ok)).toBe(incidentId(alarm));
  });

  it('matches the incident id in the Step Functions fixture', () => {
    const [alert] = normalizeAlertmanager(payload('alertmanager-node-memory-pressure.json'), OPTIONS);
    const detail = payload('stepfunctions-status-change.json').detail as { name: string; input: string };
    const input = JSON.parse(detail.input) as { execution: { incidentId: string } };
    expect(input.execution.incidentId).toBe(incidentId(alert!));
    expect(detail.name).toBe(executionName('node-memory-pressure', incidentId(alert!)));
  });
});

describe('executionName', () => {
  it('is deterministic, readable and a valid Step Functions name', () => {
    const name = executionName('node-memory-pressure', 'inc-kube-node-memory-pressure-b5a9d6551e2915b5');
    expect(name).toBe(
      executionName('node-memory-pressure', 'inc-kube-node-memory-pressure-b5a9d6551e2915b5'),
    );
    expect(name).toMatch(/^node-memory-pressure-[0-9a-f]{20}$/);
    expect(name).toMatch(EXECUTION_NAME_PATTERN);
  });

  it('differs per runbook and per incident', () => {
    const names = new Set([
      executionName('node-memory-pressure', 'inc-a'),
      executionName('node-memory-pressure', 'inc-b'),
      executionName('pod-crash-looping', 'inc-a'),
    ]);
    expect(names.size).toBe(3);
  });

  it('stays within 80 characters of the allowed set, whatever it is given', () => {
    const longest = executionName('a'.repeat(200), 'i'.repeat(500));
    expect(longest.length).toBeLessThanOrEqual(80);
    expect(longest).toMatch(EXECUTION_NAME_PATTERN);
    const odd = executionName('runbook with spaces/and:colons', 'inc');
    expect(odd).toMatch(/^runbook-with-spaces-and-colons-[0-9a-f]{20}$/);
    expect(executionName('***', 'inc')).toMatch(/^run-[0-9a-f]{20}$/);
  });
});

describe('resourceKey', () => {
  it('scopes Kubernetes resources by cluster and namespace', () => {
    expect(
      resourceKey({ resource: { type: 'k8s-pod', id: 'cart-1', namespace: 'shop', cluster: 'prod' } }),
    ).toBe('k8s-pod/prod/shop/cart-1');
    expect(resourceKey({ resource: { type: 'k8s-node', id: 'ip-10-0-1-23' } })).toBe('k8s-node/ip-10-0-1-23');
  });

  it('scopes AWS resources by account and region', () => {
    expect(
      resourceKey({
        resource: { type: 'ec2-instance', id: 'i-0a1b', account: '333333333333', region: 'eu-west-1' },
      }),
    ).toBe('ec2-instance/333333333333/eu-west-1/i-0a1b');
  });

  it('counts a node once whether Prometheus or Container Insights reports it', () => {
    const [fromPrometheus] = normalizeAlertmanager(
      payload('alertmanager-node-memory-pressure.json'),
      OPTIONS,
    );
    const fromCloudWatch = normalizeCloudWatchAlarm(
      payload('cloudwatch-alarm-container-insights-node-memory.json'),
      OPTIONS,
    );
    expect(resourceKey(fromCloudWatch)).toBe(resourceKey(fromPrometheus!));
    expect(resourceKey(fromPrometheus!)).toBe(
      'k8s-node/prod-eks-eu-west-1/ip-10-0-1-23.eu-west-1.compute.internal',
    );
  });

  it('hashes the tail of a key that would be too long', () => {
    const key = resourceKey({ resource: { type: 'alarm', id: 'x'.repeat(1_000) } });
    expect(key.length).toBe(256);
    expect(key).toMatch(/#[0-9a-f]{16}$/);
  });
});

describe('stableHash', () => {
  it('does not confuse how parts are split', () => {
    expect(stableHash(['ab', 'c'])).not.toBe(stableHash(['a', 'bc']));
    expect(stableHash(['a'], 8)).toHaveLength(8);
  });
});
