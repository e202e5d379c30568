import { describe, expect, it } from 'vitest';
import { RuntimeConfig } from '../../../functions/core/config.ts';
import { systemClock } from '../../../functions/ports/clock.ts';
import { TOOL_DECLARATIONS } from '../../../functions/tools/declarations.ts';
import { createToolRegistry } from '../../../functions/tools/index.ts';
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
});
