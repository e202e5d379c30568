import { describe, expect, it } from 'vitest';
import { declarationOf, type ToolName } from '../../../functions/tools/declarations.ts';
import { genericTools } from '../../../functions/tools/generic.ts';
import { toolRegistryOf } from '../../../functions/tools/registry.ts';
import { toolRuntime } from './generic-harness.ts';

describe('genericTools', () => {
  it('implements the generic declarations, with the local shell only in the local runtime', () => {
    // Act
    const local = toolRegistryOf(genericTools(toolRuntime({ runtime: 'local' })));
    const aws = toolRegistryOf(genericTools(toolRuntime({ runtime: 'aws' })));

    // Assess
    expect(local.names()).toEqual([
      'http.check',
      'notify.message',
      'prometheus.alert-expression',
      'prometheus.query',
      'prometheus.query-range',
      'prometheus.targets',
      'runbook.wait',
      'shell.exec',
    ]);
    expect(aws.names()).toEqual(local.names().filter((name) => name !== 'shell.exec'));
    for (const name of local.names())
      expect(local.get(name)?.declaration).toBe(declarationOf(name as ToolName));
  });

  it('offers in each runtime exactly the tools whose declaration allows that runtime', () => {
    for (const runtime of ['aws', 'local'] as const) {
      // Act
      const tools = genericTools(toolRuntime({ runtime }));

      // Assess
      for (const tool of tools) expect(tool.declaration.runtimes ?? ['aws', 'local']).toContain(runtime);
    }
  });
});
