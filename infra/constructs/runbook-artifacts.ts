import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type StateMachineDefinition, walkStates } from '../../functions/core/compiler/asl.ts';
import { RunbookAutopilotError } from '../../functions/core/errors.ts';
import { Substitution } from '../../functions/core/execution-contract.ts';
import { CATALOG_FILE, parseRunbookCatalog } from '../../functions/core/runbook/catalog.ts';
import type { Runbook } from '../../functions/core/runbook/model.ts';

/** What statemachines/ holds that infra cannot deploy (stale, hand-edited or missing files). */
export class RunbookArtifactError extends RunbookAutopilotError {
  override readonly name = 'RunbookArtifactError';
}

/**
 * The repository's statemachines/ (resolved here rather than from handler-function.ts: the `runbook
 * rbac` command reads what this module reads, and the CLI must not load aws-cdk-lib).
 */
export const STATEMACHINES_DIR = join(
  resolve(dirname(fileURLToPath(import.meta.url)), '../..'),
  'statemachines',
);
const ASL_SUFFIX = '.asl.json';
const SUBSTITUTION_NAMES: readonly string[] = Object.values(Substitution);

/** One runbook as it is deployed: its committed definition (the exact bytes) and what its tasks run. */
export interface CompiledRunbook {
  id: string;
  /** statemachines/<id>.asl.json */
  file: string;
  definition: StateMachineDefinition;
  runbook: Runbook;
  /** The `${…}` variables the definition uses (CDK fills them with Lambda ARNs). */
  substitutions: Substitution[];
  /** Tools each Lambda variant runs for this runbook (steps and compensations; approvals run none). */
  tools: Record<Substitution, string[]>;
}

/** The function a Task state invokes (`Resource` or, for `.waitForTaskToken`, `Parameters.FunctionName`). */
function invokedFunction(state: { Resource: string; Parameters?: Record<string, unknown> }): string {
  const name = state.Parameters?.FunctionName;
  return typeof name === 'string' ? name : state.Resource;
}

function toolOf(payload: Record<string, unknown>): string | undefined {
  const step = payload.step as { tool?: unknown } | undefined;
  const compensation = payload.compensation as { tool?: unknown } | undefined;
  const tool = step?.tool ?? compensation?.tool;
  return typeof tool === 'string' ? tool : undefined;
}

/** The tools of the health signals a task reads (a change's baseline, a wait's end, the verification). */
function watchToolsOf(payload: Record<string, unknown>): string[] {
  const signals = (payload.watch as { signals?: Array<{ tool?: unknown }> } | undefined)?.signals ?? [];
  return signals.flatMap((signal) => (typeof signal.tool === 'string' ? [signal.tool] : []));
}

/** Reads one compiled machine and what its tasks invoke. */
export function compiledRunbook(file: string, runbook: Runbook): CompiledRunbook {
  const text = readFileSync(file, 'utf8');
  const definition = JSON.parse(text) as StateMachineDefinition;
  const used = [...new Set([...text.matchAll(/\$\{([^}]*)\}/g)].map((match) => match[1]!))].sort();
  const unknown = used.filter((name) => !SUBSTITUTION_NAMES.includes(name));
  if (unknown.length > 0) {
    throw new RunbookArtifactError(
      `${file}: unknown substitution(s) ${unknown.map((name) => `\${${name}}`).join(', ')}; infra fills only ${SUBSTITUTION_NAMES.map((name) => `\${${name}}`).join(', ')} (recompile with npm run compile)`,
    );
  }
  return {
    id: runbook.id,
    file,
    definition,
    runbook,
    substitutions: used as Substitution[],
    tools: runnerToolsOf(definition),
  };
}

/**
 * The tools each Lambda variant runs in a compiled machine: the `step.tool` or `compensation.tool` of
 * every Task state that invokes that variant, and the tools of the health signals it reads (a change
 * reads its runbook's baseline, so the mutating runner may read them too; approvals run none). Pure: infra derives IAM from it, and
 * `runbook rbac` the Kubernetes RBAC.
 */
export function runnerToolsOf(definition: StateMachineDefinition): Record<Substitution, string[]> {
  const tools: Record<Substitution, Set<string>> = {
    [Substitution.ReadOnlyRunner]: new Set(),
    [Substitution.MutatingRunner]: new Set(),
    [Substitution.ApprovalRequest]: new Set(),
  };
  for (const [, state] of walkStates(definition)) {
    if (state.Type !== 'Task') continue;
    const target = /^\$\{(.+)\}$/.exec(invokedFunction(state))?.[1] as Substitution | undefined;
    if (!target || !(target in tools) || target === Substitution.ApprovalRequest) continue;
    const parameters = (state.Parameters ?? {}) as Record<string, unknown>;
    const payload = (parameters.Payload ?? parameters) as Record<string, unknown>;
    const tool = toolOf(payload);
    if (tool) tools[target].add(tool);
    for (const watched of watchToolsOf(payload)) tools[target].add(watched);
  }
  return {
    [Substitution.ReadOnlyRunner]: [...tools[Substitution.ReadOnlyRunner]].sort(),
    [Substitution.MutatingRunner]: [...tools[Substitution.MutatingRunner]].sort(),
    [Substitution.ApprovalRequest]: [],
  };
}

/**
 * Every runbook in statemachines/runbooks.json (the catalog the classifier bundles) with its compiled
 * machine. A machine without a catalog entry, or the reverse, means statemachines/ is stale.
 */
export function loadCompiledRunbooks(dir = STATEMACHINES_DIR): CompiledRunbook[] {
  const catalogFile = join(dir, CATALOG_FILE);
  if (!existsSync(catalogFile)) {
    throw new RunbookArtifactError(`${catalogFile} is missing: run npm run compile`);
  }
  const runbooks = parseRunbookCatalog(JSON.parse(readFileSync(catalogFile, 'utf8')));
  const files = readdirSync(dir)
    .filter((name) => name.endsWith(ASL_SUFFIX))
    .map((name) => name.slice(0, -ASL_SUFFIX.length));
  const catalogued = new Set(runbooks.map((runbook) => runbook.id));
  const orphan = files.find((id) => !catalogued.has(id));
  if (orphan) {
    throw new RunbookArtifactError(
      `${join(dir, `${orphan}${ASL_SUFFIX}`)} has no entry in ${catalogFile}: run npm run compile (or delete the stale machine)`,
    );
  }
  return [...runbooks]
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((runbook) => {
      const file = join(dir, `${runbook.id}${ASL_SUFFIX}`);
      if (!existsSync(file)) {
        throw new RunbookArtifactError(
          `${file} is missing for runbook ${runbook.id} in ${catalogFile}: run npm run compile`,
        );
      }
      return compiledRunbook(file, runbook);
    });
}
