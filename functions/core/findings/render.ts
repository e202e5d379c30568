import type { LikelyCause } from './rank.ts';

/** Likely causes as plain lines for the approval page and notifications; the caller escapes for HTML. */
export function likelyCauseLines(causes: readonly LikelyCause[]): string[] {
  if (causes.length === 0) return ['The diagnostics found nothing abnormal.'];
  return causes.map((cause, index) => {
    const evidence = [...new Set(cause.findings.map((finding) => finding.evidence.path))].join(', ');
    return `${index + 1}. ${cause.conclusion} (score ${cause.score.toFixed(2)}; evidence: ${evidence})`;
  });
}
