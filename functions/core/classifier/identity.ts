import { hash } from 'node:crypto';
import type { Alert, AlertResource } from '../alert.ts';

/**
 * Deterministic identities: the same alert always gives the same incident id, the same incident and
 * runbook the same execution name, so a retried classifier finds what its first attempt created
 * (StartExecution is idempotent by name) instead of starting a second execution.
 */

/** Step Functions execution names: 1–80 characters of A–Z, a–z, 0–9, - and _ (CloudWatch Logs-safe). */
export const EXECUTION_NAME_MAX = 80;
export const EXECUTION_NAME_PATTERN = /^[A-Za-z0-9_-]{1,80}$/;
const RESOURCE_KEY_MAX = 256;

/** Hex SHA-256 of the parts, joined so that ('ab','c') and ('a','bc') differ; the first `length` digits. */
export function stableHash(parts: readonly string[], length = 16): string {
  // crypto.hash: the same digest as createHash().update().digest(), one call instead of an object per hash.
  return hash('sha256', parts.join('\u0000'), 'hex').slice(0, length);
}

/** `KubeNodeMemoryPressure` → `kube-node-memory-pressure`; at most `max` characters of [a-z0-9-]. */
export function slug(text: string, max: number): string {
  const kebab = text
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1-$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return kebab.slice(0, max).replace(/-+$/, '');
}

/**
 * `inc-<alert name>-<hash of source, fingerprint and start>`. The start keeps a recurrence of the same
 * alert (a new firing, days later) from reusing a resolved incident's id; a repeat of the same firing
 * keeps Alertmanager's startsAt, and a CloudWatch alarm's resolution carries its ALARM start, so both
 * compute the id of the incident they belong to.
 */
export function incidentId(alert: Pick<Alert, 'source' | 'name' | 'fingerprint' | 'startsAt'>): string {
  const readable = slug(alert.name, 40) || 'alert';
  return `inc-${readable}-${stableHash([alert.source, alert.fingerprint, alert.startsAt], 16)}`;
}

/**
 * `<runbook id>-<hash of runbook id and incident id>`: readable in the console, unique per incident
 * and runbook, at most 80 characters of the allowed set whatever the inputs.
 */
export function executionName(runbookId: string, incidentIdValue: string): string {
  const hash = stableHash([runbookId, incidentIdValue], 20);
  const prefix = runbookId
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .slice(0, EXECUTION_NAME_MAX - hash.length - 1)
    .replace(/^-+|-+$/g, '');
  return prefix === '' ? `run-${hash}` : `${prefix}-${hash}`;
}

/**
 * The key safety limits count against: `<type>/<scope…>/<id>`. Kubernetes resources (and anything with a
 * cluster) are scoped by cluster and namespace, AWS resources by account and region, so the same node
 * reported by Prometheus and by a Container Insights alarm counts once when both name its cluster.
 * E.g. `k8s-node/prod-eks/ip-10-0-1-23.eu-west-1.compute.internal`, `ec2-instance/333333333333/eu-west-1/i-0abc…`.
 */
export function resourceKey(alert: { resource: AlertResource }): string {
  const { type, id, cluster, namespace, account, region } = alert.resource;
  const scope = cluster !== undefined ? [cluster, namespace] : [account, region, namespace];
  const key = [type, ...scope.filter((part): part is string => part !== undefined && part !== ''), id].join(
    '/',
  );
  if (key.length <= RESOURCE_KEY_MAX) return key;
  return `${key.slice(0, RESOURCE_KEY_MAX - 17)}#${stableHash([key], 16)}`;
}

/** The store key of a runbook's concurrency slots (taken when an execution starts, given back when it stops). */
export function concurrencySlotKey(runbookId: string): string {
  return `slots#${runbookId}`;
}
