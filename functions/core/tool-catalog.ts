import type { z } from 'zod';
import type { BlastRadiusDeclaration } from './limits/blast-radius.ts';
import type { RiskLevel } from './policy.ts';

/** A Kubernetes RBAC rule a tool needs (infra and docs derive Roles from these). */
export interface KubernetesPermission {
  apiGroup: string;
  resources: string[];
  verbs: string[];
}

/** What a tool is allowed to touch; infra derives least-privilege policies from this. */
export interface ToolPermissions {
  /** IAM actions (never a `*` action on a mutating service). */
  iam?: string[];
  kubernetes?: KubernetesPermission[];
  /** Outbound HTTP to an endpoint the step names (Prometheus, HTTP checks). */
  http?: boolean;
  /** Runs a local process (embedded platform only). */
  localProcess?: boolean;
}

/**
 * The declaration of a tool: everything validation, the compiler, infra and the docs need to know,
 * without the code that runs it. Implementations are registered against the same name.
 */
export interface ToolDeclaration<Params extends z.ZodObject = z.ZodObject> {
  name: string;
  description: string;
  parameters: Params;
  /**
   * What the tool returns. Validation resolves every `steps.<id>.output…` path against it (with "did you
   * mean"), the docs list it, and the tools' tests check real outputs against it.
   */
  output: z.ZodType;
  /** Changes the system it touches. Mutating steps run under the remediation role, behind checkpoints. */
  mutating: boolean;
  /** The lowest risk a step using this tool may declare. */
  risk: RiskLevel;
  /** What the tool does under dry-run, in one line. */
  dryRun: string;
  /**
   * The inverse a step gets with `compensation: auto`. Parameter values may reference the compensated
   * step's resolved parameters (`{{ parameters.x }}`) and its output (`{{ output.x }}`).
   */
  compensation?: {
    tool: string;
    parameters: Record<string, unknown>;
    description: string;
    /** A field of the step's output that, when true, means there is nothing to undo (the state was already so). */
    skipWhenOutput?: string;
  };
  permissions: ToolPermissions;
  /** Parameters that hold PromQL: validation parses them with Prometheus' own grammar. */
  promql?: readonly string[];
  /**
   * Mutating tools: what running the same step again does after an interruption (the platform stopped
   * while the change was in flight). `no-op`: the change is made once per execution and step (an
   * absolute value, a state that is already so, or a change key the target keeps); `repeats`: a second
   * run changes the system again, so a resume asks the operator first.
   */
  onRepeat?: { effect: 'no-op' | 'repeats'; how: string };
  /**
   * A read-only tool that shows the target's current state, for an operator deciding whether to repeat
   * an interrupted change (`repeats` tools). Parameter values may reference the step's `{{ parameters.x }}`.
   */
  inspectWith?: { tool: string; parameters: Record<string, unknown> };
  /**
   * Mutating tools: how to count what one call touches (instances, pods, tasks…), checked before the
   * change runs against the runbook's blast-radius limit and the environment's change budget.
   */
  blastRadius?: BlastRadiusDeclaration;
  /** Runtimes the tool can run in; default both. The local shell is `['local']`. */
  runtimes?: ReadonlyArray<'aws' | 'local'>;
}

/** Read access to declarations by name. */
export interface ToolCatalog {
  get(name: string): ToolDeclaration | undefined;
  names(): string[];
}

export function toolCatalog(declarations: readonly ToolDeclaration[]): ToolCatalog {
  const byName = new Map(declarations.map((declaration) => [declaration.name, declaration]));
  return {
    get: (name) => byName.get(name),
    names: () => [...byName.keys()].sort(),
  };
}
