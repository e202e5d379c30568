import type { ApprovalView } from '../core/services/approvals.ts';
import { likelyCauseSection, predictionSection } from './explain-section.ts';
import { riskSection } from './risk-section.ts';

/** Server-rendered approval pages: no script, escaped everywhere, readable on a phone at 3 a.m. */

export function escapeHtml(value: unknown): string {
  return String(value).replace(
    /[&<>"']/g,
    (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char]!,
  );
}

const STYLE = `
  body { font: 16px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; background: #f5f6f8; color: #1c2128; }
  main { max-width: 860px; margin: 0 auto; padding: 24px 16px 64px; }
  h1 { font-size: 1.4rem; margin: 0 0 4px; }
  .sub { color: #57606a; margin: 0 0 20px; }
  section { background: #fff; border: 1px solid #d8dee4; border-radius: 8px; padding: 16px; margin: 0 0 16px; overflow-x: auto; }
  h2 { font-size: 1.05rem; margin: 0 0 10px; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
  dt { color: #57606a; } dd { margin: 0; overflow-wrap: anywhere; }
  table { border-collapse: collapse; width: 100%; font-size: .93rem; }
  th, td { text-align: left; vertical-align: top; padding: 6px 8px; border-top: 1px solid #eaeef2; overflow-wrap: anywhere; }
  th { color: #57606a; font-weight: 600; }
  pre { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; font-size: .82rem; max-height: 14em; overflow: auto; }
  .risk-high, .risk-critical { color: #a40e26; font-weight: 600; } .risk-medium { color: #9a6700; font-weight: 600; }
  .status { font-weight: 600; } .status-failed, .status-timed-out { color: #a40e26; } .status-succeeded { color: #1a7f37; }
  textarea { width: 100%; box-sizing: border-box; min-height: 4em; font: inherit; padding: 8px; }
  .actions { display: flex; gap: 12px; margin-top: 12px; flex-wrap: wrap; }
  button { font: inherit; font-weight: 600; padding: 10px 20px; border-radius: 6px; border: 1px solid transparent; cursor: pointer; }
  .approve { background: #1a7f37; color: #fff; } .reject { background: #fff; color: #a40e26; border-color: #a40e26; }
  .notice { padding: 12px 16px; border-radius: 8px; margin-bottom: 16px; }
  .ok { background: #dafbe1; } .warn { background: #fff8c5; } .bad { background: #ffebe9; }
  .score { font-size: 1.6rem; font-weight: 700; } .points { text-align: right; white-space: nowrap; }
  .decision-approve, .decision-approve-quorum-2 { color: #9a6700; font-weight: 600; } .decision-refuse { color: #a40e26; font-weight: 600; }
  .causes { margin: 0; padding-left: 1.4em; } .cause { margin-bottom: 10px; } .conclusion { margin: 0; } .cause .sub { margin: 2px 0 4px; font-size: .88rem; }
  details summary { cursor: pointer; color: #57606a; } details ul { margin: 6px 0 0; padding-left: 1.2em; font-size: .9rem; }
  .beside { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 0 16px; }
`;

export function layout(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body><main>${body}</main></body></html>`;
}

export function preview(value: unknown): string {
  if (value === undefined || value === null) return '';
  const text = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
  return text.length > 4_000 ? `${text.slice(0, 4_000)}\n…` : text;
}

export function approvalPage(
  view: ApprovalView,
  formAction: string,
  message?: { kind: 'ok' | 'warn' | 'bad'; text: string },
  formToken?: string,
): string {
  const { approval, execution } = view;
  const approvals = approval.decisions.filter((decision) => decision.decision === 'approve').length;
  const target =
    approval.target.kind === 'phase' ? `phase ${approval.target.id}` : `step ${approval.target.id}`;
  const plan = approval.plan
    .map(
      (step) =>
        `<tr><td>${escapeHtml(step.name)}<br><small>${escapeHtml(step.id)}</small></td><td>${escapeHtml(step.tool)}</td><td class="risk-${escapeHtml(step.risk)}">${escapeHtml(step.risk)}</td><td><pre>${escapeHtml(preview(step.parameters))}</pre></td></tr>`,
    )
    .join('');
  const steps = view.steps
    .filter((step) => step.kind !== 'compensation')
    .map(
      (step) =>
        `<tr><td>${escapeHtml(step.name)}<br><small>${escapeHtml(step.stepId)}</small></td><td class="status status-${escapeHtml(step.status)}">${escapeHtml(step.status)}</td><td>${step.durationMs === undefined ? '' : `${(step.durationMs / 1000).toFixed(1)}s`}</td><td>${rawResult(step)}</td></tr>`,
    )
    .join('');
  const decisions = approval.decisions
    .map(
      (decision) =>
        `<li>${escapeHtml(decision.approver)} — <strong>${escapeHtml(decision.decision)}</strong> at ${escapeHtml(decision.at)}${decision.comment ? `: “${escapeHtml(decision.comment)}”` : ''}</li>`,
    )
    .join('');
  const form = view.canDecide
    ? `<section><h2>Your decision</h2>
        <form method="post" action="${escapeHtml(formAction)}">${formToken ? `<input type="hidden" name="csrf" value="${escapeHtml(formToken)}">` : ''}
          <label for="comment">Comment (optional; shown to the team and in the record)</label>
          <textarea id="comment" name="comment" maxlength="2000"></textarea>
          <div class="actions">
            <button class="approve" type="submit" name="decision" value="approve">Approve</button>
            <button class="reject" type="submit" name="decision" value="reject">Reject</button>
          </div>
        </form></section>`
    : `<div class="notice warn">${
        view.alreadyDecided
          ? `You decided: <strong>${escapeHtml(view.alreadyDecided)}</strong>.`
          : view.replaced
            ? 'This request was asked again (the platform restarted or the step was retried): use the link in the newest e-mail.'
            : approval.status === 'pending'
              ? 'This request has expired.'
              : `This request is <strong>${escapeHtml(approval.status)}</strong>.`
      }</div>`;
  const body = `
    ${message ? `<div class="notice ${message.kind}">${escapeHtml(message.text)}</div>` : ''}
    <h1>Approve ${escapeHtml(target)} of ${escapeHtml(approval.runbookId)}?</h1>
    <p class="sub">For ${escapeHtml(view.approver)} · ${escapeHtml(approval.environment)} · risk <span class="risk-${escapeHtml(approval.risk)}">${escapeHtml(approval.risk)}</span> · ${approvals} of ${approval.quorum} approval(s) · expires ${escapeHtml(approval.expiresAt)}</p>
    ${form}
    <section><h2>Alert</h2><dl>
      <dt>Alert</dt><dd>${escapeHtml(approval.alert.name)} (${escapeHtml(approval.alert.severity)}, ${escapeHtml(approval.alert.status)})</dd>
      <dt>Summary</dt><dd>${escapeHtml(approval.alert.summary)}</dd>
      <dt>Resource</dt><dd>${escapeHtml(approval.alert.resource.type)} ${escapeHtml(approval.alert.resource.id)}</dd>
      <dt>Since</dt><dd>${escapeHtml(approval.alert.startsAt)}</dd>
      <dt>Execution</dt><dd>${escapeHtml(approval.executionId)}${execution ? ` (${escapeHtml(execution.status)}${execution.dryRun ? ', dry run' : ''})` : ''}</dd>
    </dl></section>
    ${view.explanation ? likelyCauseSection(view.explanation) : ''}
    ${besideRisk(view)}
    <section><h2>What will run</h2><table><thead><tr><th>Step</th><th>Tool</th><th>Risk</th><th>Parameters</th></tr></thead><tbody>${plan}</tbody></table></section>
    <section id="raw-outputs"><h2>What the runbook found so far</h2>${steps ? `<table><thead><tr><th>Step</th><th>Status</th><th>Took</th><th>Result</th></tr></thead><tbody>${steps}</tbody></table>` : '<p>No step has run yet.</p>'}</section>
    ${decisions ? `<section><h2>Decisions</h2><ul>${decisions}</ul></section>` : ''}`;
  return layout(`Approve ${approval.runbookId}?`, body);
}

/** The risk and, beside it, the prediction for the steps the approval covers. */
function besideRisk(view: ApprovalView): string {
  const risk = view.risk ? riskSection(view.risk) : '';
  const prediction = view.explanation
    ? predictionSection(
        view.explanation,
        view.approval.plan.map((step) => step.id),
      )
    : '';
  return risk && prediction ? `<div class="beside">${risk}${prediction}</div>` : `${risk}${prediction}`;
}

/** A step's raw result, folded away: the likely cause above is what the approver reads first. */
function rawResult(step: ApprovalView['steps'][number]): string {
  if (step.error) return `<pre>${escapeHtml(preview(`${step.error.name}: ${step.error.message}`))}</pre>`;
  const text = preview(step.output);
  if (!text) return '';
  return `<details><summary>Raw output</summary><pre>${escapeHtml(text)}</pre></details>`;
}

export function refusalPage(text: string): string {
  return layout(
    'Approval',
    `<div class="notice bad">${escapeHtml(text)}</div><p>If you still need to act, open the execution from the dashboard or ask the on-call engineer.</p>`,
  );
}
