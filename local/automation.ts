import { callApi as call, type ApiTarget as ServerOptions } from './api-client.ts';

/**
 * `runbook automation …`: the automation levels of the running platform, a person's promotion (the only
 * way up, and only with evidence) and a person lowering a level. Asks the server over its API, so the
 * change is recorded with who made it and from where (cli).
 */

interface Evidence {
  runs: number;
  succeeded: number;
  lowerBound?: number;
}

interface RunbookLevelView {
  runbookId: string;
  effective: { level: string; boundBy: string; ceiling: string; environmentDefault: string; stored?: string };
  lastChange?: { cause: string; at: string; by: { id: string }; reason: string };
  evidence: Evidence;
  proposal?: { from: string; to: string; reason: string };
  noProposal?: string;
}

function percent(value: number | undefined): string {
  return value === undefined ? '—' : `${(value * 100).toFixed(0)}%`;
}

/** Every runbook's level, what bounds it, its evidence, and any promotion proposed. */
export async function automationList(options: ServerOptions): Promise<{ json: unknown; lines: string[] }> {
  const overview = (await call(options, 'GET', 'api/automation')) as unknown as {
    environment: string;
    runbooks: RunbookLevelView[];
  };
  const lines = [
    `Automation levels in ${overview.environment} (lowest of runbook ceiling, environment default, evidence)`,
    '',
    ...overview.runbooks.map((runbook) => {
      const bound =
        runbook.effective.boundBy === 'evidence'
          ? `set by ${runbook.lastChange?.cause ?? 'evidence'}${runbook.lastChange ? ` (${runbook.lastChange.by.id}, ${runbook.lastChange.at})` : ''}`
          : `bound by the ${runbook.effective.boundBy.replace('-', ' ')}`;
      return `  ${runbook.runbookId.padEnd(32)} ${runbook.effective.level.padEnd(10)} ${bound}; ${runbook.evidence.succeeded}/${runbook.evidence.runs} verified, bound ${percent(runbook.evidence.lowerBound)}`;
    }),
  ];
  const proposals = overview.runbooks.filter((runbook) => runbook.proposal);
  if (proposals.length > 0)
    lines.push(
      '',
      'Promotions proposed (apply with: runbook automation promote <runbook> --by <you>)',
      ...proposals.map(
        (runbook) =>
          `  ${runbook.runbookId}: ${runbook.proposal!.from} → ${runbook.proposal!.to}: ${runbook.proposal!.reason}`,
      ),
    );
  return { json: overview, lines };
}

/** Applies the proposed promotion, as the person named by --by. */
export async function automationPromote(
  options: ServerOptions & { runbookId: string; by: string; reason?: string },
): Promise<string[]> {
  const answer = (await call(
    options,
    'POST',
    `api/automation/${encodeURIComponent(options.runbookId)}/promote`,
    {
      by: options.by,
      channel: 'cli',
      ...(options.reason ? { reason: options.reason } : {}),
    },
  )) as { change: { from: string; to: string; reason: string } };
  return [
    `${options.runbookId}: promoted ${answer.change.from} → ${answer.change.to} by ${options.by}`,
    `  evidence: ${answer.change.reason}`,
  ];
}

/** Lowers (or sets again) a runbook's level, as the person named by --by. */
export async function automationSet(
  options: ServerOptions & { runbookId: string; level: string; by: string; reason?: string },
): Promise<string[]> {
  const answer = (await call(
    options,
    'POST',
    `api/automation/${encodeURIComponent(options.runbookId)}/level`,
    {
      level: options.level,
      by: options.by,
      channel: 'cli',
      ...(options.reason ? { reason: options.reason } : {}),
    },
  )) as { change: { from: string; to: string } };
  return [`${options.runbookId}: ${answer.change.from} → ${answer.change.to} by ${options.by}`];
}
