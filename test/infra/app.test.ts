import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ENVIRONMENTS_CONTEXT_KEY } from '../../infra/config/load.ts';
import { PROJECT_ROOT } from '../../infra/constructs/handler-function.ts';
import { CDK_JSON } from './support.ts';

const run = promisify(execFile);

/**
 * infra/app.ts as the CDK CLI runs it: a process of its own, context in CDK_CONTEXT_JSON (which is
 * how `cdk synth -c …` hands cdk.json and -c values to the app), output in CDK_OUTDIR.
 */
async function synthApp(context: Record<string, unknown>) {
  const outdir = mkdtempSync(join(tmpdir(), 'runbook-autopilot-app-'));
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'infra/app.ts'], {
      cwd: PROJECT_ROOT,
      env: {
        PATH: process.env.PATH,
        CDK_OUTDIR: outdir,
        CDK_CONTEXT_JSON: JSON.stringify(context),
        // The built-in CloudFormation validation is covered by stack.test.ts.
        CDK_VALIDATION: 'false',
      },
    });
    return { code: 0, stdout, stderr, outdir };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    rmSync(outdir, { recursive: true, force: true });
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr, outdir };
  }
}

const environments = CDK_JSON.context[ENVIRONMENTS_CONTEXT_KEY] as Record<string, Record<string, unknown>>;

describe('infra/app.ts', () => {
  it('fails synth with one clear line for a bad environment value', async () => {
    // Prepare
    const bad = structuredClone(environments);
    bad.prod!.region = 'eu-west';

    // Act
    const result = await synthApp({ ...CDK_JSON.context, [ENVIRONMENTS_CONTEXT_KEY]: bad });

    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'cdk.json context "runbook-autopilot:environments".prod.region: must be an AWS region such as eu-west-1 (got "eu-west")\n',
    );
    expect(result.stdout).toBe('');
  });

  it('fails with one line for an environment cdk.json does not define', async () => {
    const result = await synthApp({ ...CDK_JSON.context, env: 'qa' });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      '-c env=qa: no such environment in cdk.json context "runbook-autopilot:environments" (known: dev, staging, prod)\n',
    );
  });

  it('synthesizes the selected environment with cdk-nag gating the synth', async () => {
    // Act: bundling skipped for speed (bundling.test.ts runs it)
    const result = await synthApp({ ...CDK_JSON.context, env: 'staging', 'aws:cdk:bundling-stacks': [] });

    // Assess
    expect(result.stderr).not.toMatch(/AwsSolutions|Error/);
    expect(result.code).toBe(0);
    const manifest = JSON.parse(readFileSync(join(result.outdir, 'manifest.json'), 'utf8')) as {
      artifacts: Record<string, { type: string }>;
    };
    const stacks = Object.entries(manifest.artifacts)
      .filter(([, artifact]) => artifact.type === 'aws:cloudformation:stack')
      .map(([name]) => name);
    // The platform and, on its own stack, its dashboard
    expect(stacks.sort()).toEqual(['runbook-autopilot-staging', 'runbook-autopilot-staging-dashboard']);
    expect(existsSync(join(result.outdir, 'runbook-autopilot-staging.template.json'))).toBe(true);
    // The validation plugins (cdk-nag among them) ran and reported nothing
    expect(
      JSON.parse(readFileSync(join(result.outdir, 'validation-report.json'), 'utf8')).pluginReports,
    ).toEqual([]);
    rmSync(result.outdir, { recursive: true, force: true });
  });
});
