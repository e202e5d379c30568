import type { App } from 'aws-cdk-lib';
import { selectEnvironments } from '../config/load.ts';
import { loadCompiledRunbooks } from '../constructs/runbook-artifacts.ts';
import { RunbookAutopilotStack } from './runbook-autopilot-stack.ts';

export const STACK_NAME_PREFIX = 'runbook-autopilot-';

/** The stack name of an environment: `runbook-autopilot-<env>`. */
export function stackNameOf(environment: string): string {
  return `${STACK_NAME_PREFIX}${environment}`;
}

/**
 * One stack per environment in cdk.json (or only the one `-c env=<name>` selects), all deploying the
 * same compiled runbooks. Throws EnvironmentConfigError / RunbookArtifactError with one line.
 */
export function addEnvironmentStacks(app: App): RunbookAutopilotStack[] {
  const environments = selectEnvironments(app.node);
  const runbooks = loadCompiledRunbooks();
  return environments.map(
    ([environmentName, config]) =>
      new RunbookAutopilotStack(app, stackNameOf(environmentName), { environmentName, config, runbooks }),
  );
}
