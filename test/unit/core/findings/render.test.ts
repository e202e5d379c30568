import { describe, expect, it } from 'vitest';
import { extractFindings } from '../../../../functions/core/findings/extractors.ts';
import { rankLikelyCauses } from '../../../../functions/core/findings/rank.ts';
import { likelyCauseLines } from '../../../../functions/core/findings/render.ts';
import { ALERT_STARTED_AT, rolloutHistory } from './fixtures.ts';

describe('likely cause lines', () => {
  it('one numbered line per cause with its score and evidence paths', () => {
    const { findings } = extractFindings([rolloutHistory()]);
    const lines = likelyCauseLines(rankLikelyCauses({ alertStartedAt: ALERT_STARTED_AT, findings }));
    expect(lines).toEqual([
      '1. Deployment shop/checkout was deployed (revision 7, image shop/checkout:1.4.2); that was 3 minutes before the alert started. (score 1.07; evidence: steps.k8s-rollout-history.output.revisions[0])',
    ]);
    expect(likelyCauseLines([])).toEqual(['The diagnostics found nothing abnormal.']);
  });
});
