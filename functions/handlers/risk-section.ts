import type { RiskAssessment } from '../core/risk/assessment.ts';
import { escapeHtml } from './approval-page.ts';

const FACTOR_NAMES: Record<RiskAssessment['factors'][number]['factor'], string> = {
  'declared-risk': 'Declared risk',
  environment: 'Environment',
  'blast-radius': 'Blast radius',
  'failure-rate': 'Learned failure rate',
  'recent-changes': 'Recent changes to the resource',
  'time-of-day': 'Time of day',
  'change-freeze': 'Change freeze',
};

const DECISIONS: Record<RiskAssessment['decision'], string> = {
  autonomous: 'runs without approval',
  approve: 'needs one approval',
  'approve-quorum-2': 'needs two approvals',
  refuse: 'is refused',
};

/** The risk score of what the approver is asked to allow: the total, what it decides, every factor's points. */
export function riskSection(risk: RiskAssessment): string {
  const rows = risk.factors
    .map(
      (factor) =>
        `<tr data-factor="${escapeHtml(factor.factor)}"><td>${escapeHtml(FACTOR_NAMES[factor.factor])}</td><td>${escapeHtml(factor.value)}</td><td class="points">+${escapeHtml(factor.points)}</td></tr>`,
    )
    .join('');
  const of =
    risk.target === 'execution'
      ? 'the execution (assessed when it started)'
      : risk.stepId
        ? `step ${risk.stepId}${risk.blastRadius ? `, counted before it ran: ${risk.blastRadius.count} ${risk.blastRadius.kind}(s) (${risk.blastRadius.how})` : ''}`
        : 'what this approval covers';
  const thresholds = risk.thresholds
    ? `approve from ${risk.thresholds.approve}, two approvers from ${risk.thresholds.approveWithQuorum2}, refused from ${risk.thresholds.refuse}`
    : 'this environment sets no thresholds: the score decides nothing';
  return `<section id="risk"><h2>Risk</h2>
    <p><span class="score">${escapeHtml(risk.score)}</span> of 100 · in ${escapeHtml(risk.environment)} a change at this score <span class="decision-${escapeHtml(risk.decision)}">${escapeHtml(DECISIONS[risk.decision])}</span></p>
    <p class="sub">Of ${escapeHtml(of)}; assessed ${escapeHtml(risk.assessedAt)}; ${escapeHtml(thresholds)}.</p>
    <table><thead><tr><th>Factor</th><th>What it saw</th><th class="points">Points</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}
