import type { Node } from 'constructs';
import type { z } from 'zod';
import { RunbookAutopilotError } from '../../functions/core/errors.ts';
import { schemaProblems } from '../../functions/core/runbook/issues.ts';
import { ENVIRONMENTS_CONTEXT_KEY } from '../../local/project.ts';
import { EnvironmentConfig, EnvironmentName } from './environment.ts';

export { ENVIRONMENTS_CONTEXT_KEY };

/** `npx cdk synth -c env=prod`: the one environment to synthesize (all when absent). */
export const ENVIRONMENT_SELECTOR_CONTEXT_KEY = 'env';

/** A bad environment configuration: the message is the one line synth prints. */
export class EnvironmentConfigError extends RunbookAutopilotError {
  override readonly name = 'EnvironmentConfigError';
}

const WHERE = `cdk.json context "${ENVIRONMENTS_CONTEXT_KEY}"`;

function quoted(value: unknown): string | undefined {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

function valueAt(data: unknown, path: readonly (string | number)[]): unknown {
  let current = data;
  for (const segment of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string | number, unknown>)[segment];
  }
  return current;
}

/** Every environment in the context, validated; the first problem becomes one line. */
export function parseEnvironments(raw: unknown): Record<string, EnvironmentConfig> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || Object.keys(raw).length === 0) {
    throw new EnvironmentConfigError(
      `${WHERE} ${raw === undefined ? 'is missing' : 'names no environment'}: name at least one environment (dev, staging, prod) with its account and region (see infra/README-deploy.md)`,
    );
  }
  const environments: Record<string, EnvironmentConfig> = {};
  for (const [name, value] of Object.entries(raw)) {
    const validName = EnvironmentName.safeParse(name);
    if (!validName.success) {
      throw new EnvironmentConfigError(
        `${WHERE}: environment name ${JSON.stringify(name)} ${validName.error.issues[0]!.message}`,
      );
    }
    const parsed = EnvironmentConfig.safeParse(value);
    if (!parsed.success)
      throw new EnvironmentConfigError(`${WHERE}.${name}${problemLine(value, parsed.error.issues)}`);
    environments[name] = parsed.data;
  }
  return environments;
}

function problemLine(value: unknown, issues: readonly z.core.$ZodIssue[]): string {
  const issue = issues[0]!;
  const [first] = schemaProblems(EnvironmentConfig, value, issues);
  const path = first?.path ?? '';
  const message = first?.message ?? issue.message;
  const got = quoted(
    valueAt(
      value,
      issue.path.filter((segment): segment is string | number => typeof segment !== 'symbol'),
    ),
  );
  const repeated = message.includes('got ') || (got?.startsWith('"') === true && message.includes(got));
  const shown = got !== undefined && !repeated ? ` (got ${got})` : '';
  return `${path ? `.${path}` : ''}: ${message}${shown}`;
}

/**
 * The environments to synthesize: the one `-c env=<name>` names, else all. Every environment is
 * validated either way (cdk.json is one reviewed file; a typo in prod fails a dev synth too).
 */
export function selectEnvironments(node: Node): Array<[string, EnvironmentConfig]> {
  const environments = parseEnvironments(node.tryGetContext(ENVIRONMENTS_CONTEXT_KEY));
  const selected: unknown = node.tryGetContext(ENVIRONMENT_SELECTOR_CONTEXT_KEY);
  if (selected === undefined)
    return Object.entries(environments).filter(([, config]) => config.policy.runsOn === 'aws');
  if (typeof selected !== 'string' || !(selected in environments)) {
    throw new EnvironmentConfigError(
      `-c ${ENVIRONMENT_SELECTOR_CONTEXT_KEY}=${String(selected)}: no such environment in ${WHERE} (known: ${Object.keys(environments).join(', ')})`,
    );
  }
  if (environments[selected]!.policy.runsOn !== 'aws')
    throw new EnvironmentConfigError(
      `-c ${ENVIRONMENT_SELECTOR_CONTEXT_KEY}=${selected}: environment "${selected}" runs on the embedded platform only (policy.runsOn: embedded in ${WHERE}); there is nothing to deploy`,
    );
  return [[selected, environments[selected]!]];
}
