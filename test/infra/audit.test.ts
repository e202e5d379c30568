import type { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GlobalIndex, TABLE_DESIGN } from '../../functions/adapters/aws/table-design.ts';
import { RuntimeConfig } from '../../functions/core/config.ts';
import { EnvironmentConfig } from '../../infra/config/environment.ts';
import { ENVIRONMENTS_CONTEXT_KEY, parseEnvironments } from '../../infra/config/load.ts';
import {
  AUDIT_DENIED_ACTIONS,
  type FunctionKey,
  type RunbookAutopilotStack,
  STORE_ACTIONS,
} from '../../infra/stacks/runbook-autopilot-stack.ts';
import {
  CDK_JSON,
  type Json,
  logicalIdOf,
  propertiesOf,
  removeOutput,
  resourcesOf,
  type Synthesized,
  synthesize,
} from './support.ts';

/**
 * The audit trail as deployed: its indexes (per resource, per actor) and TTL on the table, its
 * retention per environment carried to every function, and IAM that lets the writers append only.
 */

const CONFIGS = parseEnvironments(CDK_JSON.context[ENVIRONMENTS_CONTEXT_KEY]);
/** The functions that record audit events (every one with the store). */
const WRITERS: FunctionKey[] = [
  'classifier',
  'stepRunnerReadOnly',
  'stepRunnerMutating',
  'approvalRequest',
  'approvalWeb',
  'control',
  'learningRecorder',
];

let synthesized: Synthesized;
beforeAll(() => {
  synthesized = synthesize();
}, 120_000);
afterAll(() => removeOutput(synthesized));

function deployment(environment: string): { stack: RunbookAutopilotStack; template: Template } {
  const stack = synthesized.stacks.find((candidate) => candidate.environmentName === environment)!;
  return { stack, template: synthesized.templates[environment]! };
}

function statementsOf(template: Template, roleLogicalId: string): Json[] {
  return Object.values(resourcesOf(template, 'AWS::IAM::Policy'))
    .filter((policy) => (propertiesOf(policy).Roles as Json[]).some((role) => role.Ref === roleLogicalId))
    .flatMap((policy) => (propertiesOf(policy).PolicyDocument as { Statement: Json[] }).Statement);
}

function runtimeConfig(environment: string, key: FunctionKey): RuntimeConfig {
  const { stack, template } = deployment(environment);
  const resource = template.toJSON().Resources[logicalIdOf(stack.functions[key].function)] as Json;
  const variables = (propertiesOf(resource).Environment as { Variables: Json }).Variables;
  // As the function reads it: parsed with the runtime's schema (the stack leaves defaults out).
  return RuntimeConfig.parse(
    JSON.parse(render(variables.RUNBOOK_AUTOPILOT_CONFIG).replace(/<[^>]+>/g, 'https://fn.example/')),
  );
}

/** A template value with CloudFormation functions replaced by readable markers (the Function URL is one). */
function render(value: unknown): string {
  if (typeof value === 'string') return value;
  const object = value as Json;
  if (object['Fn::Join']) {
    const [separator, parts] = object['Fn::Join'] as [string, unknown[]];
    return parts.map(render).join(separator);
  }
  if (object['Fn::GetAtt']) return `<${(object['Fn::GetAtt'] as string[]).join('.')}>`;
  if (object.Ref) return `<${object.Ref as string}>`;
  return JSON.stringify(value);
}

const actionsOf = (statement: Json): string[] =>
  Array.isArray(statement.Action) ? (statement.Action as string[]) : [String(statement.Action)];

describe.each(['dev', 'staging', 'prod'])('the audit trail in the %s stack', (environment) => {
  it('indexes audit events per resource (gsi3) and per actor (gsi4), KEYS_ONLY, and expires them by TTL', () => {
    // Act
    const [table] = Object.values(resourcesOf(deployment(environment).template, 'AWS::DynamoDB::Table'));
    const properties = propertiesOf(table!);
    // Assess
    expect(properties.TimeToLiveSpecification).toEqual({
      AttributeName: TABLE_DESIGN.ttlAttribute,
      Enabled: true,
    });
    const indexes = properties.GlobalSecondaryIndexes as Json[];
    for (const index of [GlobalIndex.byResource, GlobalIndex.byActor]) {
      expect(indexes).toContainEqual({
        IndexName: index.name,
        KeySchema: [
          { AttributeName: index.partitionKey, KeyType: 'HASH' },
          { AttributeName: index.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      });
    }
    expect(GlobalIndex.byActor.holds).toMatch(/AUDIT#ACTOR#/);
    expect(GlobalIndex.byResource.holds).toMatch(/AUDIT#RESOURCE#/);
  });

  it('keeps audit events as long as cdk.json says for this environment, in every writer', () => {
    // Prepare
    const days = CONFIGS[environment]!.retention.auditDays;
    // Act / Assess
    for (const key of WRITERS) expect(runtimeConfig(environment, key).auditRetentionDays).toBe(days);
  });

  it('lets every writer append audit items but never update or delete them (IAM deny on AUDIT# keys)', () => {
    // Prepare
    const { stack, template } = deployment(environment);
    const [tableId] = Object.keys(resourcesOf(template, 'AWS::DynamoDB::Table'));
    for (const key of WRITERS) {
      // Act
      const statements = statementsOf(template, logicalIdOf(stack.functions[key].role));
      const deny = statements.find((statement) => statement.Sid === 'AuditTrailAppendOnly');
      const allowed = statements.filter((statement) => statement.Effect === 'Allow').flatMap(actionsOf);
      // Assess
      expect(deny, key).toEqual({
        Sid: 'AuditTrailAppendOnly',
        Effect: 'Deny',
        Action: [...AUDIT_DENIED_ACTIONS],
        Resource: { 'Fn::GetAtt': [tableId, 'Arn'] },
        Condition: { 'ForAnyValue:StringLike': { 'dynamodb:LeadingKeys': ['AUDIT#*'] } },
      });
      expect(allowed).toEqual(expect.arrayContaining([...STORE_ACTIONS]));
      // Nothing else could overwrite an item unconditionally in bulk.
      expect(allowed).not.toContain('dynamodb:BatchWriteItem');
      expect(allowed.some((action) => action.startsWith('dynamodb:PartiQL'))).toBe(false);
    }
    // The ingest function has no store at all, so nothing to deny.
    const ingest = statementsOf(template, logicalIdOf(stack.functions.ingest.role));
    expect(ingest.flatMap(actionsOf).some((action) => action.startsWith('dynamodb:'))).toBe(false);
  });
});

describe('audit retention per environment', () => {
  it('is one year unless an environment sets it; cdk.json keeps prod at 365 days and dev shorter', () => {
    // Act
    const defaults = EnvironmentConfig.parse({
      account: '444444444444',
      region: 'us-east-1',
      escalationTargets: { default: ['oncall@example.com'] },
    });
    // Assess
    expect(defaults.retention.auditDays).toBe(365);
    expect(CONFIGS.prod!.retention.auditDays).toBe(365);
    expect(CONFIGS.dev!.retention.auditDays).toBeLessThan(365);
    expect(runtimeConfig('prod', 'control').auditRetentionDays).toBe(365);
  });

  it('refuses a retention that is not a whole number of days from 1 to 3650, naming the field', () => {
    // Act
    const refused = EnvironmentConfig.safeParse({
      account: '444444444444',
      region: 'us-east-1',
      escalationTargets: { default: ['oncall@example.com'] },
      retention: { auditDays: 0 },
    });
    // Assess
    expect(refused.success).toBe(false);
    expect(refused.error?.issues[0]?.path).toEqual(['retention', 'auditDays']);
  });
});
