import { settleParameters } from '../../core/runbook/parameters.ts';
import type { ToolImplementation } from '../../ports/tools.ts';
import type { ResolveOutput } from '../declarations/resolve.ts';
import { declarationOf } from '../declarations.ts';
import type { ToolRuntime } from '../registry.ts';
import { defineTool, throwIfAborted } from '../tool.ts';
import { Resolution, type ResolverFamily } from './resolution.ts';

/**
 * resource.resolve: runs every resolver family that knows the alert's kind of resource, then settles
 * the runbook's parameters (default, the environment's value, a tag or label on the resource). What
 * could not be resolved is listed in `unresolved`; the step itself fails only when it is aborted.
 */
export function resolveTools(
  families: readonly ResolverFamily[],
  runtime: ToolRuntime,
): ToolImplementation[] {
  return [
    defineTool(declarationOf('resource.resolve'), async (parameters, context): Promise<ResolveOutput> => {
      const resolution = new Resolution(parameters.resource, parameters.labels);
      for (const family of families) {
        throwIfAborted(context);
        if (family.handles(parameters.resource)) await family.resolve(resolution, context);
      }
      const settled = settleParameters(
        parameters.runbook,
        parameters.parameters,
        runtime.config.runbookParameters[parameters.runbook] ?? {},
        resolution.tags,
        context.execution.parameters ?? {},
      );
      return {
        resource: resolution.result(),
        parameters: settled.values,
        parameterSources: settled.sources,
        parameterNotes: settled.notes,
      };
    }),
  ];
}

export { Resolution, type ResolverFamily } from './resolution.ts';
