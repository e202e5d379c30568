import type { RuntimeConfig } from '../core/config.ts';
import type { Clock } from '../ports/clock.ts';
import type { Notifier } from '../ports/notifier.ts';
import type { ToolImplementation, ToolRegistry } from '../ports/tools.ts';

/**
 * What tool implementations need from the runtime. Each family of tools (AWS, Kubernetes, generic)
 * takes the part it uses; composition/aws.ts and composition/local.ts build these.
 */
export interface ToolRuntime {
  runtime: 'aws' | 'local';
  config: RuntimeConfig;
  clock: Clock;
  notifier: Notifier;
  fetch: typeof fetch;
}

/** A registry over implementations; refuses two implementations of one name. */
export function toolRegistryOf(implementations: readonly ToolImplementation[]): ToolRegistry {
  const byName = new Map<string, ToolImplementation>();
  for (const implementation of implementations) {
    const name = implementation.declaration.name;
    if (byName.has(name)) throw new Error(`tool "${name}" is implemented twice`);
    byName.set(name, implementation);
  }
  return { get: (name) => byName.get(name), names: () => [...byName.keys()].sort() };
}
