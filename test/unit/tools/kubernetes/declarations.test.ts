import { describe, expect, it } from 'vitest';
import { schemaAt } from '../../../../functions/core/runbook/schema-paths.ts';
import { findTemplates, parseReference } from '../../../../functions/core/runbook/templates.ts';
import type { ToolDeclaration } from '../../../../functions/core/tool-catalog.ts';
import { KUBERNETES_TOOL_DECLARATIONS } from '../../../../functions/tools/declarations/kubernetes.ts';
import { TOOL_CATALOG } from '../../../../functions/tools/declarations.ts';

/**
 * The Kubernetes declarations hold together: `compensation: auto` is not a runbook's YAML, so
 * validation never reads it; these checks do what validation does for a written compensation.
 */

describe('Kubernetes tool declarations', () => {
  const declarations: readonly ToolDeclaration[] = KUBERNETES_TOOL_DECLARATIONS;
  const withInverse = declarations.filter((declaration) => declaration.compensation !== undefined);

  it.each(withInverse.map((declaration) => [declaration.name, declaration] as const))(
    '%s: its inverse exists, takes the parameters given, and reads only what the step has',
    (_name, declaration) => {
      const compensation = declaration.compensation!;
      const inverse = TOOL_CATALOG.get(compensation.tool);
      expect(inverse, compensation.tool).toBeDefined();
      const accepted = inverse!.parameters.shape as Record<string, unknown>;
      for (const key of Object.keys(compensation.parameters))
        expect(key in accepted, `${compensation.tool} ${key}`).toBe(true);
      const forward = declaration.parameters.shape as Record<string, unknown>;
      for (const reference of findTemplates(compensation.parameters).references) {
        const [scope, ...path] = reference.segments;
        if (scope === 'parameters') expect(String(path[0]) in forward, reference.expression).toBe(true);
        else {
          expect(scope, reference.expression).toBe('output');
          expect(schemaAt(declaration.output, path).found, reference.expression).toBe(true);
        }
      }
      if (compensation.skipWhenOutput) {
        const found = schemaAt(declaration.output, parseReference(compensation.skipWhenOutput)!);
        expect(found.found && found.kind === 'boolean', compensation.skipWhenOutput).toBe(true);
      }
    },
  );

  it('gives every mutating tool a dry run through the API server (dryRun=All)', () => {
    const mutating = declarations.filter((declaration) => declaration.mutating);
    expect(mutating.length).toBeGreaterThan(10);
    for (const declaration of mutating) expect(declaration.dryRun, declaration.name).toMatch(/dryRun=All/);
  });
});
