import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from './handler-function.ts';

/**
 * The dashboard as a static site: the embedded platform's own page and script (local/dashboard), laid
 * out as its server serves them (`/`, `/assets/…`), plus `dashboard-config.json`, which tells the page
 * where it runs and how to sign in. `cdk deploy` uploads exactly these files; the browser test serves
 * them too.
 */

const DASHBOARD_DIR = join(PROJECT_ROOT, 'local', 'dashboard');
const require = createRequire(import.meta.url);

/** Site path → source file. */
export function dashboardFiles(): Record<string, string> {
  return {
    'index.html': join(DASHBOARD_DIR, 'index.html'),
    'assets/dashboard.js': join(DASHBOARD_DIR, 'dashboard.js'),
    'assets/charts.js': join(DASHBOARD_DIR, 'charts.js'),
    'assets/dashboard.css': join(DASHBOARD_DIR, 'dashboard.css'),
    'assets/mermaid.min.js': require.resolve('mermaid/dist/mermaid.min.js'),
  };
}

/** Copies the site into a fresh directory (an asset CDK hashes and uploads). */
export function stageDashboard(into: string = mkdtempSync(join(tmpdir(), 'runbook-dashboard-'))): string {
  for (const [path, source] of Object.entries(dashboardFiles())) {
    mkdirSync(join(into, path, '..'), { recursive: true });
    copyFileSync(source, join(into, path));
  }
  return into;
}

/** What `dashboard-config.json` holds on AWS: no outbox, and the sign-in (Cognito's hosted UI). */
export interface DashboardSiteConfig {
  embedded: false;
  environment: string;
  signIn: { authority: string; clientId: string; scopes: string[] };
}

/**
 * The page's Content-Security-Policy: its own script and styles only, API calls to its own origin,
 * and the token request to the sign-in domain (authorization code with PKCE).
 */
export function dashboardContentSecurityPolicy(signInOrigin: string): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    `connect-src 'self' ${signInOrigin}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "object-src 'none'",
  ].join('; ');
}
