import { describe, expect, it } from 'vitest';
import { Severity, SymptomCategory } from '../../../../functions/core/alert.ts';
import { environmentClass, incidentPriority } from '../../../../functions/core/classifier/priority.ts';

describe('environmentClass', () => {
  it.each([
    ['prod', 'production'],
    ['Production', 'production'],
    ['prd', 'production'],
    ['live', 'production'],
    ['dev', 'development'],
    ['test', 'development'],
    ['sandbox', 'development'],
    ['staging', 'other'],
    ['qa', 'other'],
  ] as const)('%s is %s', (environment, kind) => {
    expect(environmentClass(environment)).toBe(kind);
  });
});

describe('incidentPriority', () => {
  it.each([
    ['critical', 'prod', 'resource-exhaustion', 'P1'],
    ['critical', 'prod', 'availability', 'P1'],
    ['high', 'prod', 'availability', 'P1'],
    ['high', 'prod', 'resource-exhaustion', 'P2'],
    ['warning', 'prod', 'availability', 'P2'],
    ['warning', 'prod', 'resource-exhaustion', 'P3'],
    ['warning', 'prod', 'capacity', 'P4'],
    ['info', 'prod', 'error-rate', 'P3'],
    // Outside production nothing is P1, in development nothing above P3.
    ['critical', 'staging', 'error-rate', 'P2'],
    ['critical', 'staging', 'latency', 'P2'],
    ['high', 'staging', 'latency', 'P3'],
    ['warning', 'staging', 'resource-exhaustion', 'P4'],
    ['critical', 'dev', 'availability', 'P3'],
    ['critical', 'dev', 'latency', 'P3'],
    ['warning', 'dev', 'availability', 'P4'],
    ['info', 'dev', 'capacity', 'P4'],
  ] as const)('%s in %s, %s → %s', (severity, environment, category, priority) => {
    expect(incidentPriority({ severity, environment, category })).toBe(priority);
  });

  it('never makes an alert less urgent for a higher severity or a more production-like environment', () => {
    const rank = (priority: string) => Number(priority.slice(1));
    const severities = [...Severity.options].reverse(); // info → critical
    const environments = ['dev', 'staging', 'prod'];
    for (const category of SymptomCategory.options) {
      for (const environment of environments) {
        const ranks = severities.map((severity) =>
          rank(incidentPriority({ severity, environment, category })),
        );
        expect(ranks).toEqual([...ranks].sort((a, b) => b - a));
      }
      for (const severity of Severity.options) {
        const ranks = environments.map((environment) =>
          rank(incidentPriority({ severity, environment, category })),
        );
        expect(ranks).toEqual([...ranks].sort((a, b) => b - a));
      }
    }
  });
});
