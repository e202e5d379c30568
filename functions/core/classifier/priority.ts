import type { Severity, SymptomCategory } from '../alert.ts';
import type { Priority } from '../records.ts';

/**
 * Incident priority (P1 most urgent) from three tables, added up:
 *
 *   points = SEVERITY_POINTS[severity] + ENVIRONMENT_POINTS[class of environment] + CATEGORY_POINTS[category]
 *   P1 when points >= 4, P2 at 3, P3 at 2, P4 at 1 or less
 *
 * then capped by the environment: only production can be P1, development never goes above P3.
 *
 * - severity: critical 3, high 2, warning 1, info 0
 * - environment: production (prod, production, prd, live) +1, best P1; development (dev, development,
 *   test, testing, sandbox, local) -1, best P3; anything else (staging, qa, uat…) 0, best P2
 * - category: availability and error-rate +1 (users feel them now); capacity -1 (a forecast); others 0
 *
 * Examples: critical prod resource-exhaustion = 4 → P1; warning prod availability = 3 → P2; critical
 * staging error-rate = 4 → capped to P2; warning dev anything ≤ 1 → P4.
 */

export const SEVERITY_POINTS: Readonly<Record<Severity, number>> = {
  critical: 3,
  high: 2,
  warning: 1,
  info: 0,
};

export const EnvironmentClass = {
  Production: 'production',
  Other: 'other',
  Development: 'development',
} as const;
export type EnvironmentClass = (typeof EnvironmentClass)[keyof typeof EnvironmentClass];

export const ENVIRONMENT_NAMES: Readonly<Record<string, EnvironmentClass>> = {
  prod: 'production',
  production: 'production',
  prd: 'production',
  live: 'production',
  dev: 'development',
  development: 'development',
  test: 'development',
  testing: 'development',
  sandbox: 'development',
  local: 'development',
};

export const ENVIRONMENT_POINTS: Readonly<Record<EnvironmentClass, number>> = {
  production: 1,
  other: 0,
  development: -1,
};

/** The most urgent priority an environment class can reach. */
export const ENVIRONMENT_BEST_PRIORITY: Readonly<Record<EnvironmentClass, Priority>> = {
  production: 'P1',
  other: 'P2',
  development: 'P3',
};

export const CATEGORY_POINTS: Readonly<Record<SymptomCategory, number>> = {
  availability: 1,
  'error-rate': 1,
  latency: 0,
  saturation: 0,
  'resource-exhaustion': 0,
  security: 0,
  configuration: 0,
  unknown: 0,
  capacity: -1,
};

/** Points to priority, most urgent first: the first row whose minimum the points reach. */
export const PRIORITY_THRESHOLDS: ReadonlyArray<{ minPoints: number; priority: Priority }> = [
  { minPoints: 4, priority: 'P1' },
  { minPoints: 3, priority: 'P2' },
  { minPoints: 2, priority: 'P3' },
  { minPoints: Number.NEGATIVE_INFINITY, priority: 'P4' },
];

const RANK: Readonly<Record<Priority, number>> = { P1: 1, P2: 2, P3: 3, P4: 4 };

/** prod, production, prd and live are production; dev, test, sandbox and local are development. */
export function environmentClass(environment: string): EnvironmentClass {
  return ENVIRONMENT_NAMES[environment.trim().toLowerCase()] ?? 'other';
}

export function incidentPriority(facts: {
  severity: Severity;
  environment: string;
  category: SymptomCategory;
}): Priority {
  const environment = environmentClass(facts.environment);
  const points =
    SEVERITY_POINTS[facts.severity] + ENVIRONMENT_POINTS[environment] + CATEGORY_POINTS[facts.category];
  const byPoints = PRIORITY_THRESHOLDS.find((row) => points >= row.minPoints)!.priority;
  const best = ENVIRONMENT_BEST_PRIORITY[environment];
  return RANK[byPoints] < RANK[best] ? best : byPoints;
}
