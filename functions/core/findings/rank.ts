import * as z from 'zod';
import { FINDING_KINDS, FINDING_ROLES, type Finding, type FindingKind } from './finding.ts';

/**
 * Correlates one execution's findings and ranks likely causes: a change shortly before the alert,
 * a dependency (a node) several failing resources share, and what preceded verified fixes of the same
 * alert signature before. One pass over findings and history, then a bounded top-k: linear time.
 */

/** A change this long before the alert started still earns part of the time bonus. */
export const CHANGE_WINDOW_MINUTES = 60;
/** A change this little after the alert's start still counts (clocks and alert delays differ). */
export const CHANGE_GRACE_MINUTES = 2;
export const TIME_BONUS = 0.6;
export const SHARED_DEPENDENCY_BONUS = 0.3;
export const HISTORY_BONUS = 0.4;
export const DEFAULT_CAUSES = 5;

/** A past execution of the same alert signature, with the findings its diagnostics made. */
export const PastRemediation = z
  .object({
    executionId: z.string().min(1),
    verified: z.boolean().describe('its remediation verified that the alert cleared'),
    findings: z.array(z.object({ kind: z.enum(FINDING_KINDS), resource: z.string().min(1) })),
  })
  .strict();
export type PastRemediation = z.infer<typeof PastRemediation>;

export interface RankInput {
  alertStartedAt: string;
  findings: readonly Finding[];
  /** Past executions of this alert's signature (the caller filters by signature). */
  history?: readonly PastRemediation[];
  /** How many causes to return; at most DEFAULT_CAUSES unless asked. */
  limit?: number;
}

export type CorrelationRule = 'time' | 'shared-dependency' | 'history';

export interface LikelyCause {
  score: number;
  /** One sentence for the approver, in operations language. */
  conclusion: string;
  kind: FindingKind | 'shared-dependency';
  resources: string[];
  /** The rules that raised the score above the findings' own weight. */
  rules: CorrelationRule[];
  findings: Finding[];
}

interface Group {
  key: string;
  dependency: string | null;
  findings: Finding[];
}

export function rankLikelyCauses(input: RankInput): LikelyCause[] {
  const alertStart = Date.parse(input.alertStartedAt);
  const limit = Math.max(1, input.limit ?? DEFAULT_CAUSES);

  // Which resources each shared dependency has failing findings for.
  const resourcesByDependency = new Map<string, Set<string>>();
  for (const finding of input.findings)
    for (const dependency of finding.sharedDependencies) {
      const resources = resourcesByDependency.get(dependency) ?? new Set<string>();
      // The node's own findings join its group but do not count as another failing resource.
      if (!finding.resource.startsWith('Node/')) resources.add(finding.resource);
      resourcesByDependency.set(dependency, resources);
    }
  const resourcesSharing = (dependency: string) => resourcesByDependency.get(dependency)?.size ?? 0;

  const groups = new Map<string, Group>();
  for (const finding of input.findings) {
    const dependency = sharedBy(finding, resourcesSharing);
    const key = dependency ? `dependency|${dependency}` : `${finding.kind}|${finding.resource}`;
    const group = groups.get(key) ?? { key, dependency, findings: [] };
    group.findings.push(finding);
    groups.set(key, group);
  }

  const precedents = countPrecedents(input.history ?? []);
  const top: LikelyCause[] = [];
  for (const group of groups.values()) {
    const cause = scoreGroup(group, alertStart, resourcesSharing, precedents);
    insertTop(top, cause, limit);
  }
  return top;
}

/** The dependency with the most other failing resources, when at least two share it. */
function sharedBy(finding: Finding, resourcesSharing: (dependency: string) => number): string | null {
  let best: string | null = null;
  let bestCount = 1;
  for (const dependency of finding.sharedDependencies) {
    const count = resourcesSharing(dependency);
    if (count > bestCount) {
      best = dependency;
      bestCount = count;
    }
  }
  return best;
}

interface Precedents {
  verified: number;
  byFinding: Map<string, number>;
  byKind: Map<string, number>;
}

/** How many verified fixes each finding (kind and resource), and each kind, came before. */
function countPrecedents(history: readonly PastRemediation[]): Precedents {
  const byFinding = new Map<string, number>();
  const byKind = new Map<string, number>();
  let verified = 0;
  for (const past of history) {
    if (!past.verified) continue;
    verified++;
    const seenFindings = new Set<string>();
    const seenKinds = new Set<string>();
    for (const finding of past.findings) {
      seenFindings.add(`${finding.kind}|${finding.resource}`);
      seenKinds.add(finding.kind);
    }
    for (const key of seenFindings) byFinding.set(key, (byFinding.get(key) ?? 0) + 1);
    for (const kind of seenKinds) byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
  }
  return { verified, byFinding, byKind };
}

function scoreGroup(
  group: Group,
  alertStart: number,
  resourcesSharing: (dependency: string) => number,
  precedents: Precedents,
): LikelyCause {
  const rules: CorrelationRule[] = [];
  const sentences: string[] = [];
  let lead = group.findings[0] as Finding;
  for (const finding of group.findings) if (finding.weight > lead.weight) lead = finding;
  let score = lead.weight;

  // Time: the closer a change came before the alert, the likelier it caused it.
  let timeBonus = 0;
  let closest: { finding: Finding; minutes: number; bonus: number } | undefined;
  for (const finding of group.findings) {
    if (FINDING_ROLES[finding.kind] !== 'change' || finding.at === null || Number.isNaN(alertStart)) continue;
    const minutes = (alertStart - Date.parse(finding.at)) / 60_000;
    if (!(minutes >= -CHANGE_GRACE_MINUTES && minutes <= CHANGE_WINDOW_MINUTES)) continue;
    const bonus = TIME_BONUS * (1 - Math.max(0, minutes) / CHANGE_WINDOW_MINUTES);
    timeBonus = Math.max(timeBonus, bonus);
    // One change read by several tools (a workload's status in whole minutes, its rollout history to
    // the second): the weightiest read names it best and times it most precisely.
    const better =
      !closest ||
      finding.weight > closest.finding.weight ||
      (finding.weight === closest.finding.weight && bonus > closest.bonus);
    if (better) closest = { finding, minutes, bonus };
  }
  if (closest) {
    score += timeBonus;
    rules.push('time');
    lead = closest.finding;
    sentences.push(`${capitalize(closest.finding.summary)}; ${describeLead(closest.minutes)}.`);
  }

  // Across resources: several failing resources on one node point at the node.
  const resources = [...new Set(group.findings.map((finding) => finding.resource))];
  if (group.dependency) {
    const others = resourcesSharing(group.dependency);
    score += SHARED_DEPENDENCY_BONUS * Math.min(1, (others - 1) / 3 + 1 / 3);
    rules.push('shared-dependency');
    const [dependencyKind, ...name] = group.dependency.split(':');
    const failing = resources.filter((resource) => !resource.startsWith('Node/'));
    sentences.push(
      `${capitalize(dependencyKind ?? 'dependency')} ${name.join(':')} is common to ${failing.length} failing resources (${failing.slice(0, 3).join(', ')}${failing.length > 3 ? ', …' : ''}): ${lead.summary}.`,
    );
  }

  // History: what came before verified fixes of this alert before.
  if (precedents.verified > 0) {
    let best = 0;
    for (const finding of group.findings) {
      const exact = precedents.byFinding.get(`${finding.kind}|${finding.resource}`) ?? 0;
      const sameKind = precedents.byKind.get(finding.kind) ?? 0;
      best = Math.max(best, exact, sameKind / 2);
    }
    if (best > 0) {
      score += (HISTORY_BONUS * best) / precedents.verified;
      rules.push('history');
      const count = Math.ceil(best);
      sentences.push(
        `The same kind of finding came before ${count} of ${precedents.verified} verified fixes of this alert.`,
      );
    }
  }

  if (!closest && !group.dependency) sentences.unshift(`${capitalize(lead.summary)}.`);
  return {
    score: Math.round(score * 100) / 100,
    conclusion: sentences.join(' '),
    kind: group.dependency ? 'shared-dependency' : lead.kind,
    resources,
    rules,
    findings: group.findings,
  };
}

function describeLead(minutes: number): string {
  const whole = Math.round(Math.abs(minutes));
  if (minutes < 0) return `that was ${whole} minute${whole === 1 ? '' : 's'} after the alert started`;
  if (whole === 0) return 'that was when the alert started';
  return `that was ${whole} minute${whole === 1 ? '' : 's'} before the alert started`;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Keeps `top` the best `limit` causes, best first; ties keep the earlier one (the input order). */
function insertTop(top: LikelyCause[], cause: LikelyCause, limit: number): void {
  let index = top.length;
  while (index > 0 && (top[index - 1] as LikelyCause).score < cause.score) index--;
  if (index >= limit) return;
  top.splice(index, 0, cause);
  if (top.length > limit) top.pop();
}
