import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FakeKubeApi } from '../../local/demo/fake-kube-api.ts';
import { type PlatformOptions, type RunningPlatform, startPlatform } from '../../local/platform.ts';
import { compiledStatemachinesDir } from './library.ts';
import { ROOT } from './runbooks.ts';

/**
 * The embedded platform as most e2e and browser tests start it: a runbooks directory of fixtures
 * compiled once per process, port 0 on loopback, a fresh data directory (dynalite in memory unless
 * `inMemory: false`), live changes in staging, no shell tool, Kubernetes from a simulated API when
 * given, quick retries and no reminders. Everything else is the real platform.
 */
export interface EmbeddedOptions extends Partial<Omit<PlatformOptions, 'configOverrides'>> {
  runbooksDir: string;
  /** The simulated Kubernetes API the tools talk to. */
  kube?: FakeKubeApi;
  /** Where the Prometheus tools send queries. */
  prometheusUrl?: string;
  /** Merged over the test defaults (tools without contexts and without the shell). */
  configOverrides?: PlatformOptions['configOverrides'];
}

export interface Embedded extends RunningPlatform {
  dataDir: string;
  /** Stops the platform and removes its data directory (not the simulated API: its owner stops it). */
  stop(): Promise<void>;
}

export async function startEmbedded(options: EmbeddedOptions): Promise<Embedded> {
  const { kube, prometheusUrl, configOverrides, runbooksDir, ...rest } = options;
  const dataDir = rest.dataDir ?? mkdtempSync(join(tmpdir(), 'runbook-embedded-'));
  const running = await startPlatform({
    cwd: ROOT,
    runbooksDir,
    statemachinesDir: compiledStatemachinesDir(runbooksDir),
    port: 0,
    inMemory: true,
    environment: 'staging',
    live: true,
    retryIntervalMs: 20,
    reminderIntervalMs: 60_000,
    print: () => undefined,
    ...(kube ? { kubeConfigFactory: () => kube.kubeConfig() } : {}),
    ...rest,
    dataDir,
    configOverrides: {
      ...configOverrides,
      tools: {
        kubernetes: { contexts: {}, eks: {} },
        shell: { enabled: false, allow: [] },
        ...(prometheusUrl ? { prometheusUrl } : {}),
        ...configOverrides?.tools,
      },
    },
  });
  return {
    ...running,
    dataDir,
    async stop() {
      await running.stop();
      if (!rest.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
