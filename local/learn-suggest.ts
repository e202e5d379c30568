import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import * as z from 'zod';
import { RunbookAutopilotError } from '../functions/core/errors.ts';
import {
  type RunbookHistory,
  RunbookHistory as RunbookHistorySchema,
} from '../functions/core/learning/history.ts';
import {
  type SkippedSuggestion,
  SUGGESTION_RULE_IDS,
  type Suggestion,
  sha256,
  suggestChanges,
} from '../functions/core/learning/suggestions/index.ts';
import type { Runbook } from '../functions/core/runbook/model.ts';
import { validateRunbookText } from '../functions/core/runbook/validate.ts';
import { TOOL_CATALOG } from '../functions/tools/declarations.ts';
import { cdkJsonPath, loadPolicies } from './project.ts';
import { listRunbookFiles, validateRunbookFiles } from './runbook-files.ts';

/**
 * `runbook learn suggest [ID] [--apply N]`: the learning history (from the running platform, or its
 * data directory when none runs, as `learn report` reads it) turned into concrete edits of the runbook
 * files here, each a diff with its evidence. The list is saved so `--apply N` writes exactly the edit
 * that was shown, and refuses when the file changed since.
 */

/** A mistake in how the command was used or a refusal to write: exit code 2. */
export class SuggestRefusal extends RunbookAutopilotError {
  override readonly name = 'SuggestRefusal';
}

export interface SuggestOptions {
  runbookId?: string;
  url: string;
  dataDir: string;
  runbooksDir: string;
  cwd: string;
  token?: string;
}

interface RunbookFile {
  file: string;
  display: string;
  text: string;
  runbook: Runbook;
}

const SavedSuggestions = z
  .object({
    computedAt: z.string(),
    runbookId: z.string().nullable(),
    from: z.string(),
    suggestions: z.array(
      z
        .object({
          number: z.number().int().min(1),
          runbookId: z.string(),
          file: z.string(),
          display: z.string(),
          rule: z.enum(SUGGESTION_RULE_IDS),
          title: z.string(),
          version: z.object({ from: z.string(), to: z.string(), bump: z.enum(['patch', 'minor']) }).strict(),
          baseSha256: z.string(),
          text: z.string(),
        })
        .strict(),
    ),
  })
  .strict();
type SavedSuggestions = z.infer<typeof SavedSuggestions>;

/** Where the last computed list is kept for `--apply`. */
export function savedSuggestionsFile(dataDir: string): string {
  return join(dataDir, 'learn', 'suggestions.json');
}

function runbookFiles(options: SuggestOptions): RunbookFile[] {
  const policies = loadPolicies(cdkJsonPath(options.cwd));
  const { files, missing } = listRunbookFiles([options.runbooksDir]);
  if (missing.length > 0) throw new SuggestRefusal(`no runbooks directory ${options.runbooksDir}`);
  const results = validateRunbookFiles(files, { tools: TOOL_CATALOG, policies });
  const display = (file: string) => relative(options.cwd, file) || file;
  if (options.runbookId) {
    const result = results.find((candidate) => candidate.runbook?.id === options.runbookId);
    if (!result) {
      const known = results.flatMap((candidate) => (candidate.runbook ? [candidate.runbook.id] : []));
      throw new SuggestRefusal(
        `no runbook "${options.runbookId}" in ${display(options.runbooksDir)}; known: ${known.join(', ') || 'none'}`,
      );
    }
    if (result.problems.length > 0)
      throw new SuggestRefusal(
        `${display(result.file)} does not validate (${result.problems.length} problem(s)): fix it first (runbook validate ${display(result.file)})`,
      );
  }
  return results.flatMap((result) =>
    result.runbook &&
    result.problems.length === 0 &&
    (!options.runbookId || result.runbook.id === options.runbookId)
      ? [
          {
            file: result.file,
            display: display(result.file),
            text: readFileSync(result.file, 'utf8'),
            runbook: result.runbook,
          },
        ]
      : [],
  );
}

async function historyFromServer(options: SuggestOptions, runbookId: string): Promise<RunbookHistory> {
  const response = await fetch(
    new URL(`api/learning/history/${encodeURIComponent(runbookId)}`, options.url),
    {
      headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
      signal: AbortSignal.timeout(30_000),
    },
  );
  if (response.status === 401) throw new RunbookAutopilotError(`the server at ${options.url} needs --token`);
  if (response.status === 404) {
    const body = (await response.json().catch(() => ({}))) as { error?: unknown };
    // The server does not run this runbook: it has no history of it.
    if (typeof body.error === 'string' && body.error.startsWith('no runbook'))
      return { runbookId, generatedAt: new Date().toISOString(), executions: [] };
    throw new RunbookAutopilotError(
      `the server at ${options.url} does not serve GET /api/learning/history/:runbook: update it to this version`,
    );
  }
  if (!response.ok)
    throw new RunbookAutopilotError(
      `the server at ${options.url} answered ${response.status} for ${runbookId}`,
    );
  const parsed = RunbookHistorySchema.safeParse(await response.json());
  if (!parsed.success)
    throw new RunbookAutopilotError(
      `the server at ${options.url} sent a history this version of runbook does not read (${parsed.error.issues[0]?.message}): use the same version on both sides`,
    );
  return parsed.data;
}

async function historiesFromData(options: SuggestOptions, files: readonly RunbookFile[]) {
  if (!existsSync(join(options.dataDir, 'dynamodb')))
    throw new RunbookAutopilotError(
      `no server at ${options.url} and no data in ${options.dataDir}: run npm start first`,
    );
  const [{ startLocalDatabase }, { DynamoStore }, { LearningService }, { systemClock }] = await Promise.all([
    import('../functions/adapters/local/database.ts'),
    import('../functions/adapters/aws/dynamo-store.ts'),
    import('../functions/core/services/learning.ts'),
    import('../functions/ports/clock.ts'),
  ]);
  const database = await startLocalDatabase({ path: join(options.dataDir, 'dynamodb') });
  try {
    const store = new DynamoStore({
      client: database.client,
      tableName: database.tableName,
      retentionDays: 90,
    });
    const logger = { debug() {}, info() {}, warn() {}, error() {} };
    const learning = new LearningService({ store, clock: systemClock, logger });
    const histories = new Map<string, RunbookHistory>();
    for (const file of files)
      histories.set(file.runbook.id, await learning.history(file.runbook.id, file.runbook));
    return histories;
  } finally {
    await database.stop();
  }
}

/** Each runbook's history: asked of the running server, or read from the data directory when none runs. */
async function histories(
  options: SuggestOptions,
  files: readonly RunbookFile[],
): Promise<{ from: string; histories: Map<string, RunbookHistory> }> {
  const found = new Map<string, RunbookHistory>();
  try {
    for (const file of files) found.set(file.runbook.id, await historyFromServer(options, file.runbook.id));
    return { from: `the server at ${options.url}`, histories: found };
  } catch (error) {
    if (error instanceof RunbookAutopilotError) throw error;
    return {
      from: `the data directory ${relative(options.cwd, options.dataDir) || options.dataDir}`,
      histories: await historiesFromData(options, files),
    };
  }
}

export interface ComputedSuggestions {
  computedAt: string;
  from: string;
  runbooks: Array<{
    runbookId: string;
    file: string;
    version: string;
    runs: number;
    suggestions: Array<Suggestion & { number: number }>;
    skipped: SkippedSuggestion[];
  }>;
}

/** Computes the suggestions for the runbook files and saves the list for `--apply`. */
export async function computeSuggestions(options: SuggestOptions): Promise<ComputedSuggestions> {
  const files = runbookFiles(options);
  const { from, histories: byId } = await histories(options, files);
  let number = 0;
  const runbooks = files.map((file) => {
    const history = byId.get(file.runbook.id)!;
    const { suggestions, skipped } = suggestChanges({
      file: file.display,
      text: file.text,
      runbook: file.runbook,
      history,
      tools: TOOL_CATALOG,
      policies: loadPolicies(cdkJsonPath(options.cwd)),
    });
    return {
      runbookId: file.runbook.id,
      file: file.display,
      absolute: file.file,
      version: file.runbook.version,
      runs: history.executions.length,
      suggestions: suggestions.map((suggestion) => ({ ...suggestion, number: ++number })),
      skipped,
    };
  });
  const computedAt = new Date().toISOString();
  const saved: SavedSuggestions = {
    computedAt,
    runbookId: options.runbookId ?? null,
    from,
    suggestions: runbooks.flatMap((runbook) =>
      runbook.suggestions.map((suggestion) => ({
        number: suggestion.number,
        runbookId: runbook.runbookId,
        file: runbook.absolute,
        display: runbook.file,
        rule: suggestion.rule,
        title: suggestion.title,
        version: suggestion.version,
        baseSha256: suggestion.baseSha256,
        text: suggestion.text,
      })),
    ),
  };
  const savedFile = savedSuggestionsFile(options.dataDir);
  mkdirSync(dirname(savedFile), { recursive: true });
  writeFileSync(savedFile, `${JSON.stringify(saved, null, 2)}\n`);
  return {
    computedAt,
    from,
    runbooks: runbooks.map(({ absolute: _absolute, ...runbook }) => runbook),
  };
}

/** The suggestions for a terminal: numbered, each with its evidence, expected effect and diff. */
export function formatSuggestions(computed: ComputedSuggestions, runbookId?: string): string[] {
  const lines = [`Suggested changes from ${computed.from} (${computed.computedAt})`];
  const quiet: string[] = [];
  for (const runbook of computed.runbooks) {
    if (runbook.suggestions.length === 0 && runbook.skipped.length === 0 && !runbookId) {
      quiet.push(runbook.runbookId);
      continue;
    }
    lines.push(
      '',
      `${runbook.runbookId} (${runbook.file}, version ${runbook.version}): ${runbook.runs} run(s)`,
    );
    if (runbook.runs === 0) lines.push('  no finished run in the last 90 days: nothing to learn from yet');
    else if (runbook.suggestions.length === 0) lines.push('  no change suggested');
    for (const suggestion of runbook.suggestions) {
      lines.push(
        '',
        `${String(suggestion.number).padStart(2)}. ${suggestion.title}`,
        `    rule ${suggestion.rule}; version ${suggestion.version.from} → ${suggestion.version.to} (${suggestion.version.bump})`,
        '    evidence:',
        ...suggestion.evidence.map((line) => `      - ${line}`),
        `    expected effect: ${suggestion.expectedEffect}`,
        '',
        ...suggestion.diff.trimEnd().split('\n'),
      );
    }
    for (const skipped of runbook.skipped)
      lines.push(`    not suggested: ${skipped.title} (${skipped.rule}): ${skipped.reason}`);
  }
  if (quiet.length > 0)
    lines.push('', `no change suggested for ${quiet.length} other runbook(s): ${quiet.join(', ')}`);
  return lines;
}

/** Writes suggestion `number` of the saved list to its runbook file, after checking it is still the same file. */
export function applySuggestion(options: SuggestOptions, number: number): string[] {
  const savedFile = savedSuggestionsFile(options.dataDir);
  const display = (file: string) => relative(options.cwd, file) || file;
  if (!existsSync(savedFile))
    throw new SuggestRefusal(
      `no suggestions computed yet in ${display(options.dataDir)}: run runbook learn suggest${options.runbookId ? ` ${options.runbookId}` : ''} first, then --apply N`,
    );
  let content: unknown;
  try {
    content = JSON.parse(readFileSync(savedFile, 'utf8'));
  } catch {
    content = undefined;
  }
  const parsed = SavedSuggestions.safeParse(content);
  if (!parsed.success)
    throw new SuggestRefusal(
      `${display(savedFile)} is not a suggestion list this version wrote: run runbook learn suggest again`,
    );
  const saved = parsed.data;
  const again = `runbook learn suggest${options.runbookId ? ` ${options.runbookId}` : ''}`;
  if (saved.runbookId !== (options.runbookId ?? null))
    throw new SuggestRefusal(
      `the saved suggestions (${saved.computedAt}) are for ${saved.runbookId ? `runbook ${saved.runbookId}` : 'every runbook'}, and their numbers differ: run ${again} and apply from that list`,
    );
  const suggestion = saved.suggestions.find((candidate) => candidate.number === number);
  if (!suggestion)
    throw new SuggestRefusal(
      saved.suggestions.length === 0
        ? `there is no suggestion ${number}: the saved list (${saved.computedAt}) is empty`
        : `there is no suggestion ${number}: the saved list (${saved.computedAt}) has 1 to ${saved.suggestions.length}`,
    );
  if (!existsSync(suggestion.file))
    throw new SuggestRefusal(`${suggestion.display} is gone: nothing written`);
  const current = readFileSync(suggestion.file, 'utf8');
  if (sha256(current) !== suggestion.baseSha256)
    throw new SuggestRefusal(
      `${suggestion.display} changed since suggestion ${number} was computed (${saved.computedAt}): nothing written; run ${again} and pick from the new list`,
    );
  const result = validateRunbookText(suggestion.text, {
    tools: TOOL_CATALOG,
    policies: loadPolicies(cdkJsonPath(options.cwd)),
  });
  if (result.problems.length > 0)
    throw new SuggestRefusal(
      `suggestion ${number} would leave ${suggestion.display} invalid (${result.problems.map((problem) => `${problem.path}: ${problem.message}`).join('; ')}): nothing written`,
    );
  writeFileSync(suggestion.file, suggestion.text);
  const { from, to, bump } = suggestion.version;
  return [
    `applied suggestion ${number} to ${suggestion.display}: ${suggestion.title}`,
    `version ${from} → ${to} (semver ${bump}: ${bump === 'patch' ? 'tuning, the same steps and paths' : 'a change to what a run does'})`,
    `${suggestion.display} validates; its compiled state machine is now stale: run npm run compile`,
  ];
}
