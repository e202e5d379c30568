import type { App } from 'aws-cdk-lib';
import { selectEnvironments } from '../config/load.ts';
import { loadCompiledRunbooks } from '../constructs/runbook-artifacts.ts';
import { DashboardStack } from './dashboard-stack.ts';
import { RunbookAutopilotStack } from './runbook-autopilot-stack.ts';

export const STACK_NAME_PREFIX = 'runbook-autopilot-';
/** Context key: deploy the compiled machines of another directory than statemachines/ (`-c runbook-autopilot:statemachines=DIR`). */
export const STATEMACHINES_CONTEXT_KEY = 'runbook-autopilot:statemachines';

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
  const directory = app.node.tryGetContext(STATEMACHINES_CONTEXT_KEY) as unknown;
  const runbooks = loadCompiledRunbooks(
    typeof directory === 'string' && directory !== '' ? directory : undefined,
  );
  return environments.map(([environmentName, config]) => {
    const platform = new RunbookAutopilotStack(app, stackNameOf(environmentName), {
      environmentName,
      config,
      runbooks,
    });
    // The dashboard, its sign-in and the API in front of the control function: a stack of its own.
    if (config.dashboard.enabled)
      platform.dashboard = new DashboardStack(app, `${stackNameOf(environmentName)}-dashboard`, {
        environmentName,
        config,
        platform,
      });
    return platform;
  });
}
