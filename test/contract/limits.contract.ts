import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RiskAssessment } from '../../functions/core/risk/assessment.ts';
import type { ChangeMade, LimitStore } from '../../functions/ports/limits.ts';

/**
 * The LimitStore port contract: hourly change budgets as conditional counters (what two runbooks
 * racing for the last room rely on; a refused request consumes nothing), the changes made per
 * resource, and risk assessments. `setup` runs before each test and must give an empty store.
 */

const HOUR = '2026-03-02T03:00:00.000Z';
const NEXT_HOUR = '2026-03-02T04:00:00.000Z';
const EXPIRES = '2026-03-02T05:00:00.000Z';
const SCOPE = 'k8s:prod-eu/shop';

function request(
  member: string,
  count: number,
  max: number,
  overrides: Partial<{ scope: string; windowStart: string }> = {},
) {
  return { scope: SCOPE, windowStart: HOUR, count, max, member, expiresAt: EXPIRES, ...overrides };
}

export function contractChange(overrides: Partial<ChangeMade> = {}): ChangeMade {
  return {
    resourceKey: 'k8s-deployment:prod-eu/shop/cart',
    at: '2026-03-02T03:10:00.000Z',
    executionId: 'exec-1',
    stepId: 'scale-up',
    attempt: 1,
    tool: 'k8s.scale',
    kind: 'pod',
    count: 2,
    expiresAt: '2026-03-03T03:10:00.000Z',
    ...overrides,
  };
}

export function contractAssessment(overrides: Partial<RiskAssessment> = {}): RiskAssessment {
  return {
    executionId: 'exec-1',
    target: 'step:scale-up',
    runbookId: 'scale-cart',
    environment: 'prod',
    stepId: 'scale-up',
    tool: 'k8s.scale',
    attempt: 1,
    score: 62,
    decision: 'approve-quorum-2',
    factors: [
      { factor: 'declared-risk', value: 'high', points: 30 },
      { factor: 'environment', value: 'prod', points: 20 },
      { factor: 'time-of-day', value: 'tue 03:00 Europe/Berlin: outside business hours', points: 10 },
    ],
    thresholds: { approve: 40, approveWithQuorum2: 60, refuse: 90 },
    blastRadius: { kind: 'pod', count: 2, how: 'the replica delta' },
    assessedAt: '2026-03-02T03:10:00.000Z',
    ...overrides,
  };
}

export function describeLimitStoreContract(
  name: string,
  setup: () => Promise<{ limits: LimitStore; teardown: () => Promise<void> }>,
): void {
  describe(`LimitStore contract: ${name}`, () => {
    let limits: LimitStore;
    let teardown: () => Promise<void>;

    beforeEach(async () => {
      ({ limits, teardown } = await setup());
    });
    afterEach(async () => {
      await teardown();
    });

    describe('change budgets', () => {
      it('consumes what fits and refuses what does not, leaving the window as it was', async () => {
        // Act
        const first = await limits.consumeBudget(request('exec-a#drain', 3, 5));
        const refused = await limits.consumeBudget(request('exec-b#scale', 3, 5));
        const fits = await limits.consumeBudget(request('exec-b#scale-less', 2, 5));

        // Assess
        expect(first).toEqual({ consumed: true, already: false, used: 3 });
        expect(refused).toEqual({ consumed: false, already: false, used: 3 });
        expect(fits).toEqual({ consumed: true, already: false, used: 5 });
        expect(await limits.budgetUsed(SCOPE, HOUR)).toBe(5);
      });

      it('refuses a change larger than the whole budget without writing anything', async () => {
        // Act
        const answer = await limits.consumeBudget(request('exec-a#reboot', 4, 1));

        // Assess
        expect(answer).toEqual({ consumed: false, already: false, used: 0 });
        expect(await limits.budgetUsed(SCOPE, HOUR)).toBe(0);
      });

      it('counts a change once however often it is retried', async () => {
        // Act
        await limits.consumeBudget(request('exec-a#drain#1', 2, 10));
        const again = await limits.consumeBudget(request('exec-a#drain#1', 2, 10));

        // Assess
        expect(again).toEqual({ consumed: true, already: true, used: 2 });
        expect(await limits.budgetUsed(SCOPE, HOUR)).toBe(2);
      });

      it('a retried change that was counted is still answered consumed when the window is now full', async () => {
        // Prepare
        await limits.consumeBudget(request('exec-a#scale', 2, 3));
        await limits.consumeBudget(request('exec-b#scale', 1, 3));

        // Act
        const again = await limits.consumeBudget(request('exec-a#scale', 2, 3));

        // Assess
        expect(again).toEqual({ consumed: true, already: true, used: 3 });
      });

      it('lets exactly the budget through when many changes race for it', async () => {
        // Act: twelve changes of one resource each, at once, for a budget of five
        const answers = await Promise.all(
          Array.from({ length: 12 }, (_, index) => limits.consumeBudget(request(`exec-${index}#step`, 1, 5))),
        );

        // Assess
        expect(answers.filter((answer) => answer.consumed)).toHaveLength(5);
        expect(await limits.budgetUsed(SCOPE, HOUR)).toBe(5);
      });

      it('keeps scopes and hours apart', async () => {
        // Act
        await limits.consumeBudget(request('exec-a#step', 2, 2));
        const otherScope = await limits.consumeBudget(
          request('exec-b#step', 2, 2, { scope: 'k8s:prod-eu/search' }),
        );
        const nextHour = await limits.consumeBudget(request('exec-c#step', 2, 2, { windowStart: NEXT_HOUR }));

        // Assess
        expect(otherScope.consumed).toBe(true);
        expect(nextHour.consumed).toBe(true);
        expect(await limits.budgetUsed(SCOPE, HOUR)).toBe(2);
      });

      it('gives back what a change consumed, once', async () => {
        // Prepare
        await limits.consumeBudget(request('exec-a#step', 3, 3));

        // Act
        await limits.releaseBudget({ scope: SCOPE, windowStart: HOUR, member: 'exec-a#step', count: 3 });
        await limits.releaseBudget({ scope: SCOPE, windowStart: HOUR, member: 'exec-a#step', count: 3 });
        const after = await limits.consumeBudget(request('exec-b#step', 3, 3));

        // Assess
        expect(after).toEqual({ consumed: true, already: false, used: 3 });
      });

      it('releasing in a window never used changes nothing', async () => {
        // Act
        await limits.releaseBudget({ scope: SCOPE, windowStart: HOUR, member: 'nobody', count: 2 });

        // Assess
        expect(await limits.budgetUsed(SCOPE, HOUR)).toBe(0);
      });
    });

    describe('changes per resource', () => {
      it('lists the changes to a resource since a time, oldest first, each once', async () => {
        // Prepare
        await limits.recordChange(contractChange({ at: '2026-03-01T02:00:00.000Z', executionId: 'exec-0' }));
        await limits.recordChange(contractChange({ at: '2026-03-02T03:20:00.000Z', executionId: 'exec-2' }));
        await limits.recordChange(contractChange());
        await limits.recordChange(contractChange());
        await limits.recordChange(contractChange({ resourceKey: 'k8s-deployment:prod-eu/shop/search' }));

        // Act
        const changes = await limits.listChanges(
          'k8s-deployment:prod-eu/shop/cart',
          '2026-03-02T00:00:00.000Z',
        );

        // Assess
        expect(changes.map((change) => change.executionId)).toEqual(['exec-1', 'exec-2']);
        expect(changes[0]).toEqual(contractChange());
      });
    });

    describe('risk assessments', () => {
      it('keeps the latest assessment per target and lists them in order', async () => {
        // Prepare
        await limits.putRiskAssessment(
          contractAssessment({ target: 'execution', assessedAt: '2026-03-02T03:00:00.000Z', score: 40 }),
        );
        await limits.putRiskAssessment(contractAssessment({ score: 50 }));
        await limits.putRiskAssessment(contractAssessment({ attempt: 2, outcome: 'approved by a, b' }));

        // Act
        const latest = await limits.getRiskAssessment('exec-1', 'step:scale-up');
        const all = await limits.listRiskAssessments('exec-1');

        // Assess
        expect(latest).toEqual(contractAssessment({ attempt: 2, outcome: 'approved by a, b' }));
        expect(all.map((assessment) => assessment.target)).toEqual(['execution', 'step:scale-up']);
        expect(await limits.getRiskAssessment('exec-1', 'step:other')).toBeUndefined();
        expect(await limits.listRiskAssessments('exec-2')).toEqual([]);
      });
    });
  });
}
