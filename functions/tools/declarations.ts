import { type ToolCatalog, toolCatalog } from '../core/tool-catalog.ts';
import { AWS_TOOL_DECLARATIONS } from './declarations/aws.ts';
import { GENERIC_TOOL_DECLARATIONS } from './declarations/generic.ts';
import { KUBERNETES_TOOL_DECLARATIONS } from './declarations/kubernetes.ts';
import { OBSERVABILITY_TOOL_DECLARATIONS } from './declarations/observability.ts';
import { RESOLVE_TOOL_DECLARATIONS } from './declarations/resolve.ts';

/**
 * Declarations of every tool a runbook can call: parameters, output, whether it changes anything, its
 * risk, its dry-run, its inverse, and the permissions it needs. Validation, the compiler, infra (IAM and
 * RBAC) and the docs read these; implementations register against the same names. One file per family
 * in declarations/.
 */
export const TOOL_DECLARATIONS = [
  ...AWS_TOOL_DECLARATIONS,
  ...KUBERNETES_TOOL_DECLARATIONS,
  ...OBSERVABILITY_TOOL_DECLARATIONS,
  ...GENERIC_TOOL_DECLARATIONS,
  ...RESOLVE_TOOL_DECLARATIONS,
] as const;

export type ToolName = (typeof TOOL_DECLARATIONS)[number]['name'];

export const TOOL_CATALOG: ToolCatalog = toolCatalog(TOOL_DECLARATIONS);

type Declaration = (typeof TOOL_DECLARATIONS)[number];

/** A declaration by name, with its parameter schema's type kept (for the implementations). */
export function declarationOf<Name extends ToolName>(name: Name): Extract<Declaration, { name: Name }> {
  const found = TOOL_DECLARATIONS.find((declaration) => declaration.name === name);
  if (!found) throw new Error(`no tool declaration "${name}"`);
  return found as Extract<Declaration, { name: Name }>;
}
