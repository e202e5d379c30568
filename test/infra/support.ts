import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type CfnResource, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { PROJECT_ROOT } from '../../infra/constructs/handler-function.ts';
import { addEnvironmentStacks, STATEMACHINES_CONTEXT_KEY } from '../../infra/stacks/deployment.ts';
import type { RunbookAutopilotStack } from '../../infra/stacks/runbook-autopilot-stack.ts';
import { libraryStatemachinesDir } from '../support/library.ts';

export const CDK_JSON = JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as {
  context: Record<string, unknown>;
};

export type Json = Record<string, unknown>;

export interface SynthOptions {
  /** Extra context, e.g. `{ env: 'prod' }`. */
  context?: Record<string, unknown>;
  /**
   * Run esbuild for every function (the default skips it the way `cdk deploy <other stack>` does,
   * through `aws:cdk:bundling-stacks`: the NodejsFunction constructs and their template properties
   * are the real ones, only the bundle is not built).
   */
  bundle?: boolean;
  /** aws-cdk-lib's built-in CloudFormation schema and rule validation (about 5 s). */
  cloudFormationValidation?: boolean;
  /**
   * Where the cloud assembly's temporary directory is made (default: the OS's). Bundles that import the
   * runtime's AWS SDK load outside Lambda only where Node finds the repository's node_modules.
   */
  parentDirectory?: string;
}

export interface Synthesized {
  app: App;
  outdir: string;
  stacks: RunbookAutopilotStack[];
  templates: Record<string, Template>;
}

/** The CDK app as `cdk synth` builds it from cdk.json, synthesized once into a temporary directory. */
export function synthesize(options: SynthOptions = {}): Synthesized {
  if (options.parentDirectory) mkdirSync(options.parentDirectory, { recursive: true });
  const outdir = mkdtempSync(join(options.parentDirectory ?? tmpdir(), 'runbook-autopilot-cdk-'));
  const app = new App({
    outdir,
    builtinCloudFormationValidation: options.cloudFormationValidation ?? false,
    context: {
      ...CDK_JSON.context,
      // The project's tests deploy their own runbook library, not runbooks/ (the team's).
      [STATEMACHINES_CONTEXT_KEY]: libraryStatemachinesDir(),
      ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }),
      ...options.context,
    },
  });
  const stacks = addEnvironmentStacks(app);
  const assembly = app.synth();
  const templates = Object.fromEntries(
    stacks.map((stack) => [
      stack.environmentName,
      Template.fromJSON(assembly.getStackByName(stack.stackName).template as Json),
    ]),
  );
  return { app, outdir, stacks, templates };
}

/** Removes a synthesized cloud assembly (bundles are ~9 MB each). */
export function removeOutput(synthesized: Synthesized | undefined): void {
  if (synthesized) rmSync(synthesized.outdir, { recursive: true, force: true });
}

/** Resources of one type, by logical id. */
export function resourcesOf(template: Template, type: string): Record<string, Json> {
  return template.findResources(type) as Record<string, Json>;
}

export function propertiesOf(resource: Json): Json {
  return (resource.Properties ?? {}) as Json;
}

/** The logical id CloudFormation gives a construct's resource. */
export function logicalIdOf(construct: IConstruct): string {
  return Stack.of(construct).getLogicalId(construct.node.defaultChild as CfnResource);
}

export interface NagResult {
  violations: Array<{ rule: string; severity: string | undefined; paths: string[] }>;
  /** Every acknowledgement recorded in the tree: where, which rule, why, and whether a finding used it. */
  acknowledgements: Array<{ path: string; id: string; reason: string; used: boolean }>;
}

/** cdk-nag AwsSolutions over a stack, recording which acknowledgements suppressed a real finding. */
export function runNag(stack: Stack): NagResult {
  const used = new Set<string>();
  const pack = new AwsSolutionsChecks();
  const internals = pack as unknown as {
    isAcknowledged: (resource: IConstruct, ruleId: string) => boolean;
  };
  const original = internals.isAcknowledged.bind(pack);
  internals.isAcknowledged = (resource, ruleId) => {
    const acknowledged = original(resource, ruleId);
    if (acknowledged) {
      for (let current: IConstruct | undefined = resource; current; current = current.node.scope) {
        if (acknowledgedIds(current).has(ruleId)) {
          used.add(`${current.node.path}|${ruleId}`);
          break;
        }
      }
    }
    return acknowledged;
  };
  const report = pack.validateScope(stack);
  const acknowledgements: NagResult['acknowledgements'] = [];
  for (const construct of stack.node.findAll()) {
    for (const [id, reason] of acknowledgedEntries(construct)) {
      acknowledgements.push({
        path: construct.node.path,
        id,
        reason,
        used: used.has(`${construct.node.path}|${id}`),
      });
    }
  }
  return {
    violations: report.violations.map((violation) => ({
      rule: violation.ruleName,
      severity: violation.severity,
      paths: violation.violatingResources.map((resource) => resource.constructPath ?? ''),
    })),
    acknowledgements,
  };
}

function acknowledgedEntries(construct: IConstruct): Array<[string, string]> {
  return construct.node.metadata
    .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY && entry.data)
    .flatMap((entry) =>
      Object.entries(entry.data as Record<string, string>).map(
        ([id, reason]) => [id.replace(/^annotation::/i, ''), reason] as [string, string],
      ),
    );
}

function acknowledgedIds(construct: IConstruct): Set<string> {
  return new Set(acknowledgedEntries(construct).map(([id]) => id));
}

/** Deploy-time values stand in for CloudFormation references. */
export function resolvedValue(value: unknown): string {
  if (typeof value === 'string') return value;
  const object = value as Json;
  if (object['Fn::Join']) {
    const [separator, parts] = object['Fn::Join'] as [string, unknown[]];
    return parts
      .map((part) => (typeof part === 'string' ? part : 'https://abc.lambda-url.eu-west-1.on.aws/'))
      .join(separator);
  }
  if (object.Ref) return `arn:aws:sns:eu-west-1:111111111111:${String(object.Ref)}`;
  throw new Error(`unexpected value ${JSON.stringify(value)}`);
}
