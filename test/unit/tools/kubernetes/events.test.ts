import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AslErrorName } from '../../../../functions/core/errors.ts';
import type { EventsOutput } from '../../../../functions/tools/kubernetes/events.ts';
import { type Cluster, NOW, rejectionOf, startCluster } from './harness.ts';

/** k8s.events against the fake API: field selectors, both event styles, paging, tallies. */

let cluster: Cluster;
let pod: string;

const minutesBefore = (minutes: number) => new Date(NOW.getTime() - minutes * 60_000).toISOString();

beforeEach(async () => {
  cluster = await startCluster();
  const { api } = cluster;
  api.addNode({ name: 'node-a' });
  api.addDeployment({ namespace: 'shop', name: 'cart', replicas: 2, containers: [{ name: 'cart' }] });
  const object = api.podsMatching('shop', { matchLabels: { app: 'cart' } })[0]!;
  pod = object.metadata!.name!;
  api.addEvent({
    object,
    type: 'Normal',
    reason: 'Pulled',
    message: 'Container image pulled',
    lastSeenMinutesAgo: 30,
  });
  api.addEvent({
    object,
    type: 'Warning',
    reason: 'BackOff',
    message: 'Back-off restarting failed container cart in pod',
    count: 14,
    firstSeenMinutesAgo: 25,
    lastSeenMinutesAgo: 1,
  });
  // events.k8s.io style: eventTime and a series, no count or timestamps.
  api.addEvent({
    object,
    type: 'Warning',
    reason: 'Unhealthy',
    message: 'Readiness probe failed: HTTP probe failed with statuscode: 503',
    count: 6,
    firstSeenMinutesAgo: 20,
    lastSeenMinutesAgo: 2,
    series: true,
  });
  // Another pod's event, which must not show up.
  const other = api.podsMatching('shop', { matchLabels: { app: 'cart' } })[1]!;
  api.addEvent({ object: other, type: 'Warning', reason: 'BackOff', message: 'other pod' });
});

afterEach(async () => {
  await cluster.stop();
});

describe('k8s.events', () => {
  it('lists an object’s events newest first, counts warnings and tallies reasons', async () => {
    // Act
    const output = (await cluster.run('k8s.events', {
      kind: 'Pod',
      name: pod,
      namespace: 'shop',
    })) as EventsOutput;

    // Assess
    expect(output.events.map((event) => event.reason)).toEqual(['BackOff', 'Unhealthy', 'Pulled']);
    expect(output.events[0]).toEqual({
      type: 'Warning',
      reason: 'BackOff',
      message: 'Back-off restarting failed container cart in pod',
      object: `Pod/${pod}`,
      count: 14,
      firstSeen: minutesBefore(25),
      lastSeen: minutesBefore(1),
      source: 'kubelet',
    });
    expect(output.events[1]).toMatchObject({
      count: 6,
      firstSeen: minutesBefore(20),
      lastSeen: minutesBefore(2),
    });
    expect(output).toMatchObject({ total: 3, warnings: 2, warningCount: 20, truncated: false });
    expect(output.reasons).toEqual([
      { reason: 'BackOff', type: 'Warning', events: 1, count: 14, lastSeen: minutesBefore(1) },
      { reason: 'Unhealthy', type: 'Warning', events: 1, count: 6, lastSeen: minutesBefore(2) },
      { reason: 'Pulled', type: 'Normal', events: 1, count: 1, lastSeen: minutesBefore(30) },
    ]);
    const [list] = cluster.api.requestsTo('GET', '/api/v1/namespaces/shop/events');
    expect(list?.query.fieldSelector).toBe(
      `involvedObject.kind=Pod,involvedObject.name=${pod},involvedObject.namespace=shop`,
    );
  });

  it('filters by type, reason and age, and limits what it lists but not what it counts', async () => {
    // Act
    const warnings = (await cluster.run('k8s.events', {
      kind: 'Pod',
      name: pod,
      namespace: 'shop',
      type: 'Warning',
      limit: 1,
    })) as EventsOutput;
    const recent = (await cluster.run('k8s.events', {
      kind: 'Pod',
      name: pod,
      namespace: 'shop',
      sinceMinutes: 5,
    })) as EventsOutput;
    const backOff = (await cluster.run('k8s.events', {
      kind: 'Pod',
      name: pod,
      namespace: 'shop',
      reason: 'BackOff',
    })) as EventsOutput;

    // Assess
    expect(warnings.events.map((event) => event.reason)).toEqual(['BackOff']);
    expect(warnings.total).toBe(2);
    expect(recent.events.map((event) => event.reason)).toEqual(['BackOff', 'Unhealthy']);
    expect(backOff.events).toHaveLength(1);
    expect(cluster.api.requestsTo('GET', '/api/v1/namespaces/shop/events')[0]?.query.fieldSelector).toContain(
      'type=Warning',
    );
  });

  it('finds a node’s events across namespaces (they live in default, with no involvedObject namespace)', async () => {
    // Prepare
    cluster.api.addEvent({
      object: cluster.api.nodes.get('node-a')!,
      type: 'Warning',
      reason: 'NodeNotReady',
      message: 'Node node-a status is now: NodeNotReady',
      source: 'node-controller',
    });

    // Act
    const output = (await cluster.run('k8s.events', { kind: 'Node', name: 'node-a' })) as EventsOutput;

    // Assess
    expect(output).toMatchObject({ namespace: null, total: 1, warnings: 1 });
    expect(output.events[0]).toMatchObject({
      reason: 'NodeNotReady',
      object: 'Node/node-a',
      source: 'node-controller',
    });
    const [list] = cluster.api.requestsTo('GET', '/api/v1/events');
    expect(list?.query.fieldSelector).toBe(
      'involvedObject.kind=Node,involvedObject.name=node-a,involvedObject.namespace=',
    );
  });

  it('reads pages until the API has no more, and stops (truncated) after 1,000 events', async () => {
    // Prepare
    const object = cluster.api.pods.get(`shop/${pod}`)!;
    for (let index = 0; index < 1_100; index += 1)
      cluster.api.addEvent({ object, type: 'Warning', reason: 'FailedMount', message: `attempt ${index}` });

    // Act
    const output = (await cluster.run('k8s.events', {
      kind: 'Pod',
      name: pod,
      namespace: 'shop',
    })) as EventsOutput;

    // Assess
    const pages = cluster.api.requestsTo('GET', '/api/v1/namespaces/shop/events');
    expect(pages).toHaveLength(4);
    expect(pages.map((page) => page.query.limit)).toEqual(['250', '250', '250', '250']);
    expect(pages[1]?.query.continue).toBeTruthy();
    expect(output.total).toBe(1_000);
    expect(output.truncated).toBe(true);
  });

  it('is AccessDenied with the RBAC rule it needs when events may not be listed', async () => {
    // Prepare
    cluster.api.forbid({ verb: 'list', resource: 'events', group: '' });

    // Act
    const error = await rejectionOf(cluster.run('k8s.events', { kind: 'Pod', name: pod, namespace: 'shop' }));

    // Assess
    expect(error.name).toBe(AslErrorName.ToolAccessDenied);
    expect(error.message).toContain('the role needs "list" on "events" in API group "" in namespace "shop"');
  });

  it('refuses a kind or reason that could not be a field selector value', () => {
    // Assess
    const parameters = cluster.tools.get('k8s.events')!.declaration.parameters;
    expect(parameters.safeParse({ kind: 'pod,x=y', name: 'a' }).success).toBe(false);
    expect(parameters.safeParse({ kind: 'Pod', name: 'a', reason: 'BackOff,type=Normal' }).success).toBe(
      false,
    );
  });
});
