import { existsSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

/**
 * Debian's Chromium, driven by playwright-core, for the dashboard and approval page tests. The flags keep
 * it from reaching the network on its own (updates, sync, QUIC); each test gets a fresh profile.
 */

export const CHROMIUM = '/usr/bin/chromium';

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
] as const;

export interface BrowserOptions {
  viewport?: { width: number; height: number } | null;
  /** Flags beyond CHROMIUM_FLAGS (e.g. --host-resolver-rules for a rebinding DNS). */
  extraFlags?: string[];
  acceptDownloads?: boolean;
}

/** Fails with what to install when Chromium is missing, rather than with Playwright's launch error. */
export function requireChromium(): void {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} is missing: the browser tests drive Debian's Chromium. Install it with ` +
        '`apt-get update && apt-get install -y chromium` (as root), then run the tests again.',
    );
}

/** A headless Chromium with a fresh profile under `parentDir` (removed with it). */
export async function launchChromium(
  parentDir: string,
  options: BrowserOptions = {},
): Promise<BrowserContext> {
  requireChromium();
  // Playwright refuses --user-data-dir in `args`; a persistent context is how a fresh profile of ours is used.
  return chromium.launchPersistentContext(mkdtempSync(join(parentDir, 'profile-')), {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_FLAGS, ...(options.extraFlags ?? [])],
    viewport: options.viewport === undefined ? { width: 1280, height: 900 } : options.viewport,
    ...(options.acceptDownloads ? { acceptDownloads: true } : {}),
  });
}
