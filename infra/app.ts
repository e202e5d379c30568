import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { RunbookAutopilotError } from '../functions/core/errors.ts';
import { addEnvironmentStacks } from './stacks/deployment.ts';

// The CDK app: `npx cdk synth|deploy` (every environment) or `-c env=<name>` (one). Wiring only.
const app = new App();
try {
  addEnvironmentStacks(app);
} catch (error) {
  // A bad cdk.json or stale statemachines/: one line, no stack trace.
  if (!(error instanceof RunbookAutopilotError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
