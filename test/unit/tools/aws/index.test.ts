import { describe, expect, it } from 'vitest';
import { AWS_TOOL_PREFIXES, awsClients, awsTools } from '../../../../functions/tools/aws/index.ts';
import { TOOL_DECLARATIONS } from '../../../../functions/tools/declarations.ts';
import { toolRegistryOf } from '../../../../functions/tools/registry.ts';
import { testRuntime } from './tool-context.ts';

describe('awsTools', () => {
  const implementations = awsTools({ clients: awsClients(), runtime: testRuntime() });

  it('implements every AWS declaration exactly once, against the declaration itself', () => {
    const awsDeclarations = TOOL_DECLARATIONS.filter((declaration) =>
      AWS_TOOL_PREFIXES.some((prefix) => declaration.name.startsWith(prefix)),
    );

    expect(implementations.map((tool) => tool.declaration.name).sort()).toEqual(
      awsDeclarations.map((declaration) => declaration.name).sort(),
    );
    for (const tool of implementations) {
      expect(TOOL_DECLARATIONS).toContain(tool.declaration);
    }
    expect(() => toolRegistryOf(implementations)).not.toThrow();
  });

  it('declares an IAM action for every AWS tool', () => {
    for (const tool of implementations) {
      expect(tool.declaration.permissions.iam?.length, tool.declaration.name).toBeGreaterThan(0);
    }
  });
});
