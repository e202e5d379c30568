import type { AlarmDefinition } from '../aws/alarms.ts';
import type { AlertRule } from '../monitoring/rules.ts';
import type { World } from '../world.ts';

/**
 * A scenario: one thing going wrong in the simulated environment, what notices it (a
 * kube-prometheus-stack rule in the cluster's Prometheus, or a CloudWatch alarm in the AWS account),
 * and the runbook that should take the alert. A scenario is one module in this directory plus one
 * line in index.ts.
 */
export type Scenario = PrometheusScenario | CloudWatchScenario;

interface ScenarioBase {
  /** What `--scenario` takes: lowercase words joined by dashes. */
  id: string;
  /** One line for `runbook demo --list-scenarios`. */
  summary: string;
  /** The alert it raises (the rule's name). */
  alertname: string;
  /** The runbook meant for that alert (the classifier decides; the demo says when it chose another). */
  runbookId: string;
  /** Part of the default demo (kept short: each default scenario adds its runbook's waits). */
  inDefaultSet: boolean;
  /** The runbook's waits on the expected path, for the terminal (before `--wait-scale`). */
  waits: string;
  waitSeconds: number;
}

/** A fault in the cluster that a Prometheus rule notices; Alertmanager sends the alert. */
export interface PrometheusScenario extends ScenarioBase {
  source?: 'prometheus';
  /** The alerting rules that notice it (shared rules may appear in several scenarios: loaded once). */
  rules: AlertRule[];
  /**
   * Breaks the healthy cluster (called after the cluster is seeded and before monitoring starts, so
   * the history its models describe is backfilled) and says how to recognise its alert.
   */
  setup(world: World): ScenarioInstance;
}

/** A fault in the AWS account that a CloudWatch alarm notices; EventBridge delivers its state changes. */
export interface CloudWatchScenario extends ScenarioBase {
  source: 'cloudwatch';
  /** No Prometheus rule: CloudWatch notices it. */
  rules: [];
  /** The alarms it needs in the account (an alarm shared by scenarios is defined once). */
  alarms: AlarmDefinition[];
  /**
   * What it breaks (`ecs:shop/checkout`, `rds:orders-db`…): two scenarios that break the same thing
   * would undo each other's story, so they are not played together.
   */
  breaks: string[];
  /** Breaks the baseline account (`world.aws`), its past included, and names the alarm that fires. */
  setup(world: World): CloudWatchInstance;
}

export interface CloudWatchInstance {
  title: string;
  story: string[];
  /** The alarm that goes to ALARM (one of `alarms`). */
  alarm: string;
  /** Whether the fault is still there (tests of the fix, without the platform). */
  holds: () => boolean;
}

export interface ScenarioInstance {
  /** The title line in the terminal. */
  title: string;
  /** What is going on, a few lines. */
  story: string[];
  /**
   * The series the rule's expression keeps for this scenario's alert: its metric name and the labels
   * that single it out. The alert's labels are that series' labels as Prometheus stores them, plus the
   * rule's labels and the external labels (the fallback builds them this way; with Prometheus, the
   * alert Alertmanager holds is recognised by them).
   */
  alertSeries: { metric: string; labels: Record<string, string> };
  /**
   * The labels the rule's aggregation keeps (`sum by (namespace, pod)`, `sum without (…)`), when it does
   * not keep the series' own: the fallback gives its alert only these (and the rule's and external ones).
   */
  alertLabelsKept?: string[];
  /**
   * The labels every alert of the scenario carries, when it raises several (one per replica): the demo
   * follows whichever comes first. Default: the series' labels the rule keeps.
   */
  alertMatch?: Record<string, string>;
  /** `$value` for the annotations when the fallback renders them. */
  alertValue: () => number;
  /** Whether the rule's condition holds now (the fallback's stand-in for rule evaluation). */
  holds: () => boolean;
  /** How long ago the alert started, as the fallback's Alertmanager tells it. */
  firingForMinutes: number;
}
