import { bench, describe } from 'vitest';
import { Finding } from '../../functions/core/findings/finding.ts';
import { rankLikelyCauses } from '../../functions/core/findings/rank.ts';

// Linear in findings: 100,000 should take about ten times 10,000 (README quotes figures with the machine).
function findings(count: number): Finding[] {
  return Array.from({ length: count }, (_, index) =>
    Finding.parse({
      kind: index % 3 === 0 ? 'recent-deployment' : 'oom-killed',
      resource: `Deployment/shop/service-${index % 5_000}`,
      sharedDependencies: [`node:node-${index % 50}`],
      at: new Date(Date.parse('2024-05-01T12:00:00Z') - (index % 90) * 60_000).toISOString(),
      observedAt: '2024-05-01T12:10:00Z',
      weight: (index % 10) / 10,
      summary: 'something happened',
      evidence: { stepId: 's', tool: 't', path: 'steps.s.output.x', fields: {} },
    }),
  );
}
const small = findings(10_000);
const large = findings(100_000);
const history = Array.from({ length: 100 }, (_, index) => ({
  executionId: `e${index}`,
  verified: index % 2 === 0,
  findings: [{ kind: 'oom-killed' as const, resource: `Deployment/shop/service-${index}` }],
}));

describe('ranking likely causes', () => {
  bench('rank 10,000 findings', () => {
    rankLikelyCauses({ alertStartedAt: '2024-05-01T12:00:00Z', findings: small, history });
  });
  bench('rank 100,000 findings', () => {
    rankLikelyCauses({ alertStartedAt: '2024-05-01T12:00:00Z', findings: large, history });
  });
});
