import type { CoreV1Event, CoreV1EventList } from '@kubernetes/client-node';
import type { ToolImplementation } from '../../ports/tools.ts';
import type { EventReason, EventsOutput, KubernetesEvent } from '../declarations/kubernetes.ts';
import { declarationOf } from '../declarations.ts';
import { defineTool } from '../tool.ts';
import { isoOf } from './objects.ts';
import { type KubernetesSession, type KubernetesToolDeps, openSession } from './session.ts';

/** k8s.events, and the event reading k8s.describe and k8s.pods share. */

/** Events are read in pages of this many… */
const EVENT_PAGE = 250;
/** …and at most this many pages: an object with more events has a storm, and its newest are enough. */
const MAX_EVENT_PAGES = 4;

export interface EventQuery {
  /** The involved object; without kind and name, every event of the namespace (with the other filters). */
  kind?: string;
  name?: string;
  /** The involved object's namespace; undefined for a cluster-scoped object (its events are in `default`). */
  namespace?: string;
  type?: 'Normal' | 'Warning';
  reason?: string;
}

/**
 * Events as kubectl describe finds them: core/v1 events whose involvedObject is the object, by field
 * selector (namespaced objects in their namespace; cluster-scoped ones across namespaces with an empty
 * involvedObject.namespace). Paged; `truncated` when there were more than MAX_EVENT_PAGES pages.
 */
export async function listEvents(
  session: KubernetesSession,
  query: EventQuery,
): Promise<{ events: CoreV1Event[]; truncated: boolean }> {
  const { namespace } = query;
  const fieldSelector = [
    ...(query.kind ? [`involvedObject.kind=${query.kind}`] : []),
    ...(query.name ? [`involvedObject.name=${query.name}`] : []),
    ...(query.name ? [`involvedObject.namespace=${namespace ?? ''}`] : []),
    ...(query.type ? [`type=${query.type}`] : []),
    ...(query.reason ? [`reason=${query.reason}`] : []),
  ].join(',');
  const events: CoreV1Event[] = [];
  let next: string | undefined;
  for (let page = 0; page < MAX_EVENT_PAGES; page += 1) {
    const request = { fieldSelector, limit: EVENT_PAGE, ...(next ? { _continue: next } : {}) };
    const list: CoreV1EventList = await session.request(
      { verb: 'list', resource: 'events', ...(namespace ? { namespace } : {}) },
      (options) =>
        namespace
          ? session.core.listNamespacedEvent({ namespace, ...request }, options)
          : session.core.listEventForAllNamespaces(request, options),
    );
    events.push(...list.items);
    next = list.metadata?._continue || undefined;
    if (!next) return { events, truncated: false };
  }
  return { events, truncated: true };
}

/** An event as runbooks read it; old-style (count, timestamps) and events.k8s.io-style (series, eventTime) alike. */
export function eventSummary(event: CoreV1Event): KubernetesEvent {
  const firstSeen =
    isoOf(event.firstTimestamp) ?? isoOf(event.eventTime) ?? isoOf(event.metadata?.creationTimestamp);
  const lastSeen = isoOf(event.series?.lastObservedTime) ?? isoOf(event.lastTimestamp) ?? firstSeen;
  return {
    type: event.type ?? 'Normal',
    reason: event.reason ?? '',
    message: (event.message ?? '').trim(),
    object: `${event.involvedObject.kind ?? ''}/${event.involvedObject.name ?? ''}`,
    count: event.series?.count ?? event.count ?? 1,
    firstSeen,
    lastSeen,
    source: event.source?.component || event.reportingComponent || null,
  };
}

/** Newest first (by when they were last seen). */
export function newestFirst(a: KubernetesEvent, b: KubernetesEvent): number {
  return (b.lastSeen ?? '').localeCompare(a.lastSeen ?? '') || a.reason.localeCompare(b.reason);
}

/** One entry per reason (and type), the most frequent first. */
export function tallyReasons(events: readonly KubernetesEvent[]): EventReason[] {
  const byReason = new Map<string, EventReason>();
  for (const event of events) {
    const key = `${event.type}/${event.reason}`;
    const entry = byReason.get(key) ?? {
      reason: event.reason,
      type: event.type,
      events: 0,
      count: 0,
      lastSeen: null,
    };
    entry.events += 1;
    entry.count += event.count;
    if ((event.lastSeen ?? '') > (entry.lastSeen ?? '')) entry.lastSeen = event.lastSeen;
    byReason.set(key, entry);
  }
  return [...byReason.values()].sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
}

export function eventTools(deps: KubernetesToolDeps): ToolImplementation[] {
  const events = defineTool(declarationOf('k8s.events'), async (parameters, context) => {
    const session = await openSession(deps, 'k8s.events', parameters.cluster, context);
    const { kind, name, namespace, type, reason, sinceMinutes, limit } = parameters;
    const listed = await listEvents(session, {
      kind,
      name,
      ...(namespace ? { namespace } : {}),
      ...(type ? { type } : {}),
      ...(reason ? { reason } : {}),
    });
    const since =
      sinceMinutes === undefined
        ? undefined
        : new Date(deps.runtime.clock.now().getTime() - sinceMinutes * 60_000).toISOString();
    const matched = listed.events
      .map(eventSummary)
      .filter((event) => since === undefined || (event.lastSeen ?? '') >= since)
      .sort(newestFirst);
    const warnings = matched.filter((event) => event.type === 'Warning');
    const output: EventsOutput = {
      kind,
      name,
      namespace: namespace ?? null,
      events: matched.slice(0, limit),
      total: matched.length,
      warnings: warnings.length,
      warningCount: warnings.reduce((sum, event) => sum + event.count, 0),
      reasons: tallyReasons(matched),
      truncated: listed.truncated,
    };
    return output;
  });
  return [events];
}

export type { EventsOutput, KubernetesEvent } from '../declarations/kubernetes.ts';
