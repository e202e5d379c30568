import {
  describeExpectedDuration,
  describeSuccess,
  type ExecutionExplanation,
} from '../core/findings/explain.ts';
import type { Finding } from '../core/findings/finding.ts';
import { escapeHtml } from './approval-page.ts';

/**
 * The approval page's conclusions: the likely causes of the alert (each a plain sentence, its evidence
 * folded away), and beside the risk what the steps asked about will likely do. No script: <details>.
 */

const RULES: Record<string, string> = {
  time: 'came shortly before the alert',
  'shared-dependency': 'shared by several failing resources',
  history: 'came before earlier verified fixes',
};

function evidenceItem(finding: Finding): string {
  const fields = Object.entries(finding.evidence.fields)
    .map(([name, value]) => `${name}=${JSON.stringify(value)}`)
    .join(', ');
  return `<li>${escapeHtml(finding.summary)}<br><small>step ${escapeHtml(finding.evidence.stepId)} (${escapeHtml(finding.evidence.tool)}) · <code>${escapeHtml(finding.evidence.path)}</code>${fields ? ` · ${escapeHtml(fields)}` : ''}</small></li>`;
}

/** The ranked likely causes: the conclusion first, then why it ranks there, then the evidence on demand. */
export function likelyCauseSection(explanation: ExecutionExplanation): string {
  const { likelyCauses, findings, history, problems } = explanation;
  const causes = likelyCauses
    .map((cause, index) => {
      const why = cause.rules.map((rule) => RULES[rule] ?? rule).join('; ');
      return `<li class="cause" data-kind="${escapeHtml(cause.kind)}"><p class="conclusion">${index === 0 ? '<strong>' : ''}${escapeHtml(cause.conclusion)}${index === 0 ? '</strong>' : ''}</p>
        <p class="sub">score ${escapeHtml(cause.score.toFixed(2))}${why ? ` · ${escapeHtml(why)}` : ''}</p>
        <details><summary>Evidence (${cause.findings.length} finding${cause.findings.length === 1 ? '' : 's'})</summary><ul>${cause.findings.map(evidenceItem).join('')}</ul></details></li>`;
    })
    .join('');
  const base =
    history.sameSignature === 0
      ? `No earlier run of ${explanation.signature} to compare with.`
      : `Compared with ${history.sameSignature} earlier run(s) of ${explanation.signature}, ${history.verifiedRemediations} of them fixed and verified.`;
  const unreadable = problems.length
    ? `<details><summary>${problems.length} output(s) could not be read</summary><ul>${problems.map((problem) => `<li>${escapeHtml(problem.message)}</li>`).join('')}</ul></details>`
    : '';
  const empty =
    findings.length === 0
      ? 'The diagnostics that have run so far found nothing abnormal.'
      : 'No finding stands out.';
  return `<section id="likely-cause"><h2>Likely cause</h2>
    ${causes ? `<ol class="causes">${causes}</ol>` : `<p>${escapeHtml(empty)}</p>`}
    <p class="sub">From the diagnostics so far, against the alert's start (${escapeHtml(explanation.alertStartedAt)}). ${escapeHtml(base)}</p>${unreadable}</section>`;
}

/** What the steps the approval covers will likely do, and how many similar past runs say so. */
export function predictionSection(explanation: ExecutionExplanation, stepIds: readonly string[]): string {
  const wanted = new Set(stepIds);
  const rows = explanation.predictions
    .filter((prediction) => wanted.has(prediction.stepId))
    .map(
      (prediction) =>
        `<tr data-step="${escapeHtml(prediction.stepId)}"><td>${escapeHtml(prediction.name)}<br><small>${escapeHtml(prediction.stepId)}</small></td><td>${escapeHtml(describeSuccess(prediction))}</td><td>${escapeHtml(describeExpectedDuration(prediction))}</td><td>${escapeHtml(prediction.restsOn)}</td></tr>`,
    )
    .join('');
  if (!rows) return '';
  return `<section id="prediction"><h2>Prediction</h2>
    <table><thead><tr><th>Step</th><th>Success</th><th>Duration</th><th>Rests on</th></tr></thead><tbody>${rows}</tbody></table>
    <p class="sub">For ${escapeHtml(explanation.signature)}, from this runbook's recent runs; a prior fills in where runs are few.</p></section>`;
}
