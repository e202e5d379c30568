import { describe, expect, it } from 'vitest';
import { RuntimeConfig } from '../../../functions/core/config.ts';
import { systemClock } from '../../../functions/ports/clock.ts';
import { TOOL_CATALOG, TOOL_DECLARATIONS } from '../../../functions/tools/declarations.ts';
import {
  createToolRegistry,
  type LazyToolFamily,
  toolFamilies,
  toolFamilyOf,
} from '../../../functions/tools/index.ts';
import { toolRegistryOf } from '../../../functions/tools/registry.ts';

const config = RuntimeConfig.parse({ environment: 'dev', publicBaseUrl: 'http://127.0.0.1:8787/' });
const notifier = { send: async () => {} };

describe('tool registry', () => {
  it('implements every declared tool on the embedded platform', () => {
    // Act
    const registry = createToolRegistry({
      runtime: 'local',
      config,
      clock: systemClock,
      notifier,
      fetch: globalThis.fetch,
    });

    // Assess
    expect(registry.names()).toEqual(TOOL_DECLARATIONS.map((declaration) => declaration.name).sort());
    for (const name of registry.names()) expect(registry.get(name)?.declaration.name).toBe(name);
  });

  it('on AWS, implements every tool except the local shell', () => {
    const registry = createToolRegistry({
      runtime: 'aws',
      config,
      clock: systemClock,
      notifier,
      fetch: globalThis.fetch,
    });
    expect(registry.get('shell.exec')).toBeUndefined();
    expect(registry.names()).toHaveLength(TOOL_DECLARATIONS.length - 1);
  });

  it('refuses two implementations of one tool', () => {
    const registry = createToolRegistry({
      runtime: 'local',
      config,
      clock: systemClock,
      notifier,
      fetch: globalThis.fetch,
    });
    const wait = registry.get('runbook.wait')!;
    expect(() => toolRegistryOf([wait, wait])).toThrow('tool "runbook.wait" is implemented twice');
  });

  it.each(['local', 'aws'] as const)(
    '%s: every family, once loaded, implements exactly its declared tools, with a pre-read where declared',
    async (runtime) => {
      // Prepare
      const toolRuntime = { runtime, config, clock: systemClock, notifier, fetch: globalThis.fetch };
      const registry = createToolRegistry(toolRuntime);
      const families = toolFamilies(toolRuntime);

      // Act: load every lazy family (what a step's first call of one of its tools does)
      const loaded = [
        ...(await Promise.all(
          (Object.keys(families) as LazyToolFamily[]).map(async (family) => ({
            family: family as string,
            implementations: await families[family](),
          })),
        )),
        {
          family: 'generic',
          implementations: registry.names().flatMap((name) => {
            const tool = registry.get(name)!;
            return toolFamilyOf(name) === 'generic' ? [tool] : [];
          }),
        },
      ];

      // Assess: together they are the registry's entries, each in its own family, with the catalog's
      // declaration and a pre-read exactly when the declaration asks for one
      const names = loaded.flatMap(({ implementations }) =>
        implementations.map((tool) => tool.declaration.name),
      );
      expect(names.sort()).toEqual(registry.names());
      for (const { family, implementations } of loaded) {
        expect(implementations.length, family).toBeGreaterThan(0);
        for (const implementation of implementations) {
          const name = implementation.declaration.name;
          expect(toolFamilyOf(name), name).toBe(family);
          expect(implementation.declaration, name).toBe(TOOL_CATALOG.get(name));
          expect(implementation.countTouched !== undefined, name).toBe(
            Boolean(implementation.declaration.blastRadius?.preRead),
          );
          expect(registry.get(name)!.countTouched !== undefined, name).toBe(
            implementation.countTouched !== undefined,
          );
        }
      }
    },
  );
});
