import type { SymptomCategory } from '../alert.ts';

/**
 * The symptom category of an alert, from its metric and its name. A table of rules tried in order, the
 * first match wins; the order settles names that say two things (`KubeMemoryOvercommit` is capacity, not
 * memory; `NodeDiskIOSaturation` is saturation, not disk; `CPUThrottlingHigh` is throttling, not CPU).
 * Rules match the text lower-cased with everything but letters and digits removed, so
 * `HTTPCode_Target_5XX_Count`, `http-code-target-5xx` and `HttpCodeTarget5xx` read the same.
 */

export interface CategoryRule {
  category: SymptomCategory;
  pattern: RegExp;
  /** What the rule recognises, for readers of the table. */
  covers: string;
}

export const CATEGORY_RULES: readonly CategoryRule[] = [
  {
    category: 'security',
    pattern: /certificate|expir|unauthori[sz]ed|accessdenied|authfail|loginfail|intrusion|guardduty/,
    covers: 'certificate expiry, authentication failures',
  },
  {
    category: 'capacity',
    pattern:
      /overcommit|quota|maxedout|toomanypods|capacity|creditbalance|burstbalance|hpareplicas|servicelimit/,
    covers: 'requests over allocatable, quotas, autoscalers at their maximum, credits and burst balance',
  },
  {
    category: 'saturation',
    pattern: /throttl|saturat|queue|backlog|oldestmessage|numberofmessages|iteratorage/,
    covers: 'throttling, saturation, queues and backlogs',
  },
  {
    category: 'availability',
    pattern:
      /crashloop|statuscheck|down(?!stream)|unavailable|unhealthy|healthyhost|notready|unreachable|notscheduled|replicasmismatch|containerwaiting|backoff|restart|flapping|degraded|jobfailed|servicefailed|diskfailure|insufficientmembers|noleader|absent/,
    covers:
      'crash loops, failed status checks, down or unreachable targets, unhealthy hosts, missing replicas',
  },
  {
    category: 'error-rate',
    pattern: /5xx|4xx|httpcode(elb|target)?[45]\d\d|error|errs|failed[a-z]*requests|failures|exceptions/,
    covers: '5xx and 4xx responses, error counts and rates',
  },
  {
    category: 'latency',
    pattern: /latency|duration|responsetime|slow|replicalag|p9[059]/,
    covers: 'latency, duration, response time, slow requests',
  },
  {
    category: 'resource-exhaustion',
    pattern:
      /memory|mem(used|available|free|util)|oomkill|disk|filesystem|inode|outoffiles|outofspace|fillingup|storage|pidpressure|filedescriptor|conntrack|swap|heap/,
    covers: 'memory, disk, filesystem, inodes, file descriptors, conntrack entries',
  },
  {
    category: 'saturation',
    pattern: /cpu|concurrent|connections|loadaverage|highusage/,
    covers: 'CPU and connection or concurrency use',
  },
  {
    category: 'configuration',
    pattern: /clock|ntp|timesync|versionmismatch|generationmismatch|rolloutstuck|misscheduled|config/,
    covers: 'clock skew, version or generation mismatches, stuck rollouts, bad configuration',
  },
];

/** Metric namespaces whose every metric has one category, for metric names that say nothing by themselves. */
export const NAMESPACE_CATEGORIES: Readonly<Record<string, SymptomCategory>> = {
  'AWS/SQS': 'saturation',
  'AWS/Kinesis': 'saturation',
};

function comparable(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]/g, '');
}

/**
 * Texts already categorized (null: no rule recognises it). Alert names and metric names come from a
 * catalog of alerting rules and metrics, so the same few recur for every alert; the table stops growing
 * at CATEGORIZED_MAX texts, after which new ones are categorized each time.
 */
const CATEGORIZED = new Map<string, SymptomCategory | null>();
const CATEGORIZED_MAX = 4_096;

/** The category one text names, or undefined when no rule recognises it. */
export function categorizeText(text: string): SymptomCategory | undefined {
  const known = CATEGORIZED.get(text);
  if (known !== undefined) return known ?? undefined;
  const subject = comparable(text);
  const category =
    subject === '' ? undefined : CATEGORY_RULES.find((rule) => rule.pattern.test(subject))?.category;
  if (CATEGORIZED.size < CATEGORIZED_MAX) CATEGORIZED.set(text, category ?? null);
  return category;
}

export interface CategorizeInput {
  /** alertname or alarm name. */
  name: string;
  /** The metric the alarm watches (CloudWatch), when there is one. */
  metricName?: string | undefined;
  namespace?: string | undefined;
}

/**
 * The metric first (an alarm's name is free text, its metric is not), then the alert's name, then the
 * metric namespace; `unknown` when nothing says.
 */
export function categorize(input: CategorizeInput): SymptomCategory {
  for (const text of [input.metricName, input.name]) {
    if (text === undefined) continue;
    const category = categorizeText(text);
    if (category) return category;
  }
  return (input.namespace && NAMESPACE_CATEGORIES[input.namespace]) || 'unknown';
}
