import { stringify } from 'yaml';

/**
 * Alerting rules as kube-prometheus-stack ships them (group, expression, labels, annotations with
 * runbook_url), with their `for:` shortened so a scenario fires in seconds, and, where a range window
 * would hold an alert for minutes after the fix, that window shortened too. Each rule keeps the chart's
 * own `for:` and expression beside the ones used, so the difference is visible and tested.
 */

export interface AlertRule {
  /** The chart's rule group (kubernetes-apps, node-exporter, …). */
  group: string;
  alert: string;
  /** The expression evaluated: the chart's, with the windows in `shortenedWindows` replaced. */
  expr: string;
  /** The `for:` used here (seconds-scale). */
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** What the chart ships, for reference and for the test that checks only durations changed. */
  upstream: { alert: string; expr: string; for: string };
  /** Why this rule differs from the chart's beyond durations (a name or matcher a runbook needs). */
  deviation?: string;
}

/**
 * A rule from the chart's definition: `windows` maps range windows of the expression to shorter ones
 * (`{ '5m': '10s' }` turns `[5m]` into `[10s]`); nothing else in the expression changes.
 */
export function chartRule(
  rule: Omit<AlertRule, 'expr' | 'for' | 'upstream'> & {
    expr: string;
    for: string;
    /** The `for:` to use in the simulation. */
    simulatedFor: string;
    windows?: Record<string, string>;
    /** A rule that is not the chart's as is: the chart's alert it derives from, and why. */
    derivedFrom?: { alert: string; expr: string; why: string };
  },
): AlertRule {
  let expr = rule.expr;
  for (const [from, to] of Object.entries(rule.windows ?? {})) expr = expr.split(`[${from}]`).join(`[${to}]`);
  return {
    group: rule.group,
    alert: rule.alert,
    expr,
    for: rule.simulatedFor,
    labels: rule.labels,
    annotations: rule.annotations,
    upstream: {
      alert: rule.derivedFrom?.alert ?? rule.alert,
      expr: rule.derivedFrom?.expr ?? rule.expr,
      for: rule.for,
    },
    ...(rule.derivedFrom ? { deviation: rule.derivedFrom.why } : {}),
  };
}

/** The rules file: one group per chart group, evaluated every `interval`; a rule used twice appears once. */
export function renderRuleFile(rules: AlertRule[], interval = '1s'): string {
  const groups = new Map<string, AlertRule[]>();
  const seen = new Set<string>();
  for (const rule of rules) {
    const key = `${rule.group}/${rule.alert}/${rule.expr}`;
    if (seen.has(key)) continue;
    seen.add(key);
    groups.set(rule.group, [...(groups.get(rule.group) ?? []), rule]);
  }
  return stringify(
    {
      groups: [...groups.entries()].map(([name, members]) => ({
        name,
        interval,
        rules: members.map((rule) => ({
          alert: rule.alert,
          expr: rule.expr,
          for: rule.for,
          labels: rule.labels,
          annotations: rule.annotations,
        })),
      })),
    },
    { lineWidth: 0 },
  );
}
