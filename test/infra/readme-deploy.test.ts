import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { WEBHOOK_BODY_LIMIT } from '../../functions/handlers/ingest.ts';
import { EnvironmentConfig } from '../../infra/config/environment.ts';
import { PROJECT_ROOT } from '../../infra/constructs/handler-function.ts';

const README = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');

describe('README: deploying to AWS', () => {
  it('gives an Alertmanager webhook_configs snippet that sends the bearer token to the ingest route', () => {
    // Prepare
    const snippet = /```yaml\n([\s\S]*?)```/.exec(README.slice(README.indexOf('### Alertmanager')))?.[1];

    // Act
    const config = parse(snippet ?? '') as {
      receivers: Array<{
        webhook_configs: Array<{ url: string; http_config: { authorization: Record<string, string> } }>;
      }>;
    };

    // Assess
    const webhook = config.receivers[0]!.webhook_configs[0]!;
    expect(new URL(webhook.url.replace('<id>', 'abc')).pathname).toBe('/webhooks/alertmanager');
    expect(webhook.http_config.authorization.type).toBe('Bearer');
    expect(webhook.http_config.authorization.credentials_file).toMatch(/^\/etc\/alertmanager\/secrets\//);
    expect(WEBHOOK_BODY_LIMIT).toBe(1024 * 1024);
    expect(README).toContain('Bodies over 1 MB are refused');
  });

  it('documents every environment key cdk.json accepts', () => {
    for (const key of Object.keys(EnvironmentConfig.shape)) {
      expect(README, key).toMatch(new RegExp(`^\\|[^|]*\`${key}[.\`]`, 'm'));
    }
  });

  it('gives the deploy commands', () => {
    for (const command of ['npx cdk synth -c env=prod', 'npx cdk deploy -c env=prod', 'npx cdk bootstrap']) {
      expect(README).toContain(command);
    }
  });
});
