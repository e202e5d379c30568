import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import * as z from 'zod';
import { RuntimeConfig } from '../../functions/core/config.ts';
import { Duration } from '../../functions/core/duration.ts';
import { DEFAULT_POLICY, EnvironmentPolicy } from '../../functions/core/policy.ts';
import { FreezeWindow } from '../../functions/core/runbook/model.ts';

/**
 * One environment's deployment, as written in cdk.json under
 * `context["runbook-autopilot:environments"].<name>`. `policy`, `approverGroups` and
 * `escalationTargets` are the keys local/project.ts also reads (same shapes); everything else is
 * infra's. Parsed with zod at synth time: a bad value fails synth with one line naming the field.
 */

/** Environment names become stack, state machine and secret names: short and DNS-like. */
export const EnvironmentName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,15}$/, 'must be lowercase letters, digits and hyphens, at most 16 characters');

const AWS_REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const Region = z.string().regex(AWS_REGION, 'must be an AWS region such as eu-west-1');

const People = z.array(z.email({ error: 'must be an e-mail address' })).min(1);
const PeopleGroupName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.-]*$/i, 'must be letters, digits, dots, underscores and hyphens');

/** CloudWatch Logs accepts only these retention periods (days). */
export const LOG_RETENTION_DAYS: readonly number[] = Object.values(RetentionDays)
  .filter((value): value is number => typeof value === 'number' && value !== RetentionDays.INFINITE)
  .sort((a, b) => a - b);

const LogRetentionDays = z
  .number()
  .int()
  .refine((days) => LOG_RETENTION_DAYS.includes(days), {
    message: `must be one of the CloudWatch Logs retention periods: ${LOG_RETENTION_DAYS.join(', ')}`,
  });

/** A count threshold and the window it is counted over. */
const Threshold = (threshold: number, period: number) =>
  z
    .object({
      threshold: z.number().int().min(1).default(threshold),
      period: Duration.default(period).refine(
        (seconds) => seconds % 60 === 0 && seconds <= 86_400,
        'must be whole minutes, at most 1d (CloudWatch alarm periods)',
      ),
    })
    .strict()
    .prefault({});

export const FUNCTION_URL = 'function-url';

/** Concurrent requests an endpoint may serve: at least 1 (0 would switch it off). */
const ConcurrencyCap = z.number().int().min(1).max(1_000);

const AwsId = (prefix: string, what: string) =>
  z
    .string()
    .regex(
      new RegExp(`^${prefix}-(?:[0-9a-f]{8}|[0-9a-f]{17})$`),
      `must be ${what} id such as ${prefix}-0123456789abcdef0`,
    );

/** A list of ids: at least one, each once. */
const AwsIds = (prefix: string, what: string) =>
  z
    .array(AwsId(prefix, what))
    .min(1)
    .refine((ids) => new Set(ids).size === ids.length, 'must name each id once');

/**
 * The VPC the step runners run in, to reach private Kubernetes API endpoints (Amazon EKS) and other
 * private targets. Imported by id (synth stays offline): nothing here is created or changed.
 */
export const NetworkConfig = z
  .object({
    vpcId: AwsId('vpc', 'a VPC'),
    /** Private subnets with a route to the AWS APIs (NAT gateway or VPC endpoints). */
    subnetIds: AwsIds('subnet', 'a subnet'),
    /** Security groups of the step runners; the cluster's security group must allow them on 443. */
    securityGroupIds: AwsIds('sg', 'a security group'),
  })
  .strict();
export type NetworkConfig = z.infer<typeof NetworkConfig>;

/** Shown on the sign-in page; Cognito allows no spaces in it. */
const ProviderName = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{1,30}[A-Za-z0-9]$/,
    'must be 3-32 letters, digits, ., - or _ (no spaces), starting and ending with a letter or digit',
  );

/** Group names in the organization's directory (or Cognito) that give one role. */
const GroupNames = z.array(z.string().min(1).max(256)).min(1);

/**
 * The organization's identity provider, federated through the Cognito user pool: people sign in with
 * their usual account and their directory groups arrive in the `custom:groups` attribute.
 */
export const DashboardIdentityProvider = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('oidc'),
      /** Shown on the sign-in page (letters, digits, spaces, - and _). */
      name: ProviderName,
      issuer: z.url({ protocol: /^https$/, error: 'must be the https issuer URL of the provider' }),
      clientId: z.string().min(1),
      /** Secrets Manager secret holding the client secret (never in cdk.json or the template). */
      clientSecretName: z.string().min(1),
      scopes: z.array(z.string().min(1)).default(['openid', 'email', 'profile']),
      /** The claim listing a person's groups at the provider. */
      groupsClaim: z.string().min(1).default('groups'),
    })
    .strict(),
  z
    .object({
      type: z.literal('saml'),
      name: ProviderName,
      metadataUrl: z.url({ protocol: /^https$/, error: 'must be the https URL of the SAML metadata' }),
      /** The SAML attribute listing a person's groups. */
      groupsAttribute: z.string().min(1),
    })
    .strict(),
]);

/** The dashboard on AWS: CloudFront in front of the static page and the control API, sign-in per environment. */
export const DashboardConfig = z
  .object({
    enabled: z.boolean().default(true),
    /** Prefix of the Cognito sign-in domain (`<prefix>.auth.<region>.amazoncognito.com`); default runbook-autopilot-<env>-<account>. */
    signInDomainPrefix: z
      .string()
      .regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'must be lowercase letters, digits and hyphens (1-63)')
      .refine((prefix) => !/aws|amazon|cognito/.test(prefix), 'must not contain aws, amazon or cognito')
      .optional(),
    /** A custom domain for the dashboard and its ACM certificate (us-east-1, as CloudFront requires). */
    domainName: z
      .string()
      .regex(/^(?:[a-z0-9-]+\.)+[a-z]{2,}$/, 'must be a DNS name')
      .optional(),
    certificateArn: z
      .string()
      .regex(
        /^arn:aws[\w-]*:acm:us-east-1:\d{12}:certificate\/[\w-]+$/,
        'must be an ACM certificate ARN in us-east-1',
      )
      .optional(),
    /** Sign in with the organization's identity provider instead of Cognito's own users. */
    identityProvider: DashboardIdentityProvider.optional(),
    /** Which groups give each role; Cognito's own groups of these names always do. */
    groups: z
      .object({
        viewers: GroupNames.default(['viewers']),
        approvers: GroupNames.default(['approvers']),
        operators: GroupNames.default(['operators']),
      })
      .strict()
      .prefault({}),
    /** Countries (ISO 3166-1 alpha-2) the dashboard answers from; absent: everywhere (sign-in still required). */
    allowedCountries: z
      .array(z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code'))
      .min(1)
      .optional(),
    /** A WAF web ACL (CLOUDFRONT scope, us-east-1) in front of the dashboard. */
    webAclArn: z
      .string()
      .regex(
        /^arn:aws[\w-]*:wafv2:us-east-1:\d{12}:global\/webacl\/.+$/,
        'must be a WAFv2 web ACL ARN (global, us-east-1)',
      )
      .optional(),
    /** Requests per second the control API takes through the dashboard (API Gateway throttling). */
    apiRateLimit: z.number().int().min(1).max(10_000).default(20),
  })
  .strict()
  .refine(
    (dashboard) => (dashboard.domainName === undefined) === (dashboard.certificateArn === undefined),
    'give both domainName and certificateArn, or neither',
  );
export type DashboardConfig = z.infer<typeof DashboardConfig>;

export const EnvironmentConfig = z
  .object({
    account: z.string().regex(/^\d{12}$/, 'must be a 12-digit AWS account id'),
    region: Region,
    /**
     * Regions the step runners' tools may act in (each is named in their IAM resources); default: the
     * stack's region. A step that names another region is refused by IAM.
     */
    regions: z
      .array(Region)
      .min(1)
      .refine((regions) => new Set(regions).size === regions.length, 'must name each region once')
      .optional(),
    /**
     * Changes only on resources with this tag (aws:ResourceTag condition on every mutating action whose
     * resource IAM can check tags on: instances, Auto Scaling groups, ECS services, Lambda functions).
     */
    mutatingResourceTag: z
      .object({
        key: z.string().regex(/^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u, 'must be a tag key (1–128 characters)'),
        value: z
          .string()
          .regex(/^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u, 'must be a tag value (up to 256 characters)'),
      })
      .strict()
      .optional(),
    /**
     * Concurrent requests the public Function URLs may serve (reserved concurrency): a flood of requests
     * is throttled (429) there instead of taking the concurrency the step runners need.
     */
    reservedConcurrency: z
      .object({
        ingest: ConcurrencyCap.default(10),
        approvalWeb: ConcurrencyCap.default(5),
      })
      .strict()
      .prefault({}),
    /**
     * What synth does with a runbook whose tools cannot reach anything here (no tools.prometheusUrl, no
     * EKS cluster): `error` refuses the deployment, `warn` deploys it with a warning.
     */
    toolReachability: z.enum(['error', 'warn']).default('error'),
    /** Which risk levels need approval and what a mutating step must have (runbook validation and runtime). */
    policy: EnvironmentPolicy.default(DEFAULT_POLICY),
    /** Approver group name to e-mails: each e-mail gets an SNS subscription filtered to its own approvals. */
    approverGroups: z.record(PeopleGroupName, People).default({}),
    /** Escalation target name to e-mails; `default` hears when automation is blocked. */
    escalationTargets: z.record(PeopleGroupName, People).refine((targets) => 'default' in targets, {
      message: 'needs a "default" target: the classifier tells it when automation is blocked',
    }),
    approvals: z
      .object({
        /** Every approval requirement that applies here must ask for at least this many approvers (checked at synth). */
        minimumQuorum: z.number().int().min(1).max(10).default(1),
        /** Approval links expire after this (or when the approval times out, if sooner). */
        linkTtl: Duration.default(3_600).refine(
          (seconds) => seconds >= 60 && seconds <= 7 * 86_400,
          'must be between 1m and 7d',
        ),
        /**
         * Approvers who have not answered after this long get one reminder with fresh links (the design
         * target is an answer within 5 minutes); `off`: none, and no schedule is deployed.
         */
        reminderAfter: z
          .union([z.literal('off'), Duration])
          .default(300)
          .refine((value) => value === 'off' || value <= 86_400, 'must be at most 1d, or off'),
      })
      .strict()
      .prefault({}),
    /** Environment-wide change-freeze windows (same shape as a runbook's changeFreezeWindows). */
    changeFreezeWindows: z.array(FreezeWindow).default([]),
    /** Start every execution as a dry run. */
    dryRun: z.boolean().default(false),
    /** Powertools log level of every function. */
    logLevel: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
    retention: z
      .object({
        /** Incidents, executions, approvals (DynamoDB TTL). */
        recordsDays: z.number().int().min(1).max(3_650).default(90),
        /** The audit trail: every decision and human action (DynamoDB TTL); one year unless set. */
        auditDays: z.number().int().min(1).max(3_650).default(365),
        /** Function and state machine logs. */
        logDays: LogRetentionDays.default(RetentionDays.ONE_MONTH),
      })
      .strict()
      .prefault({}),
    /**
     * Base of the links in approval and escalation e-mails: `function-url` (the approval-web Function
     * URL) or an https URL you route to it (a custom domain in front of the Function URL).
     */
    publicBaseUrl: z
      .union([
        z.literal(FUNCTION_URL),
        z.url({ protocol: /^https$/, error: 'must be "function-url" or an https URL' }),
      ])
      .default(FUNCTION_URL),
    /** Deletion protection and RETAIN on the table, secrets, key and logs (prod). */
    protectData: z.boolean().default(false),
    stateMachines: z
      .object({
        /** Log execution input/output (alerts, step outputs) with every state machine event. */
        includeExecutionData: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    alarms: z
      .object({
        /** Escalation targets whose people get the platform's own alarms. */
        notify: z.array(z.string().min(1)).min(1).default(['default']),
        /** Messages in any dead-letter queue. */
        deadLetters: z
          .object({ threshold: z.number().int().min(1).default(1) })
          .strict()
          .prefault({}),
        /** Errors of one function. */
        handlerErrors: Threshold(1, 300),
        /** Throttled invocations of one function (Lambda counts them apart from Errors). */
        throttles: Threshold(1, 300),
        /** Failed executions of one runbook (each was rolled back and escalated). */
        failedExecutions: Threshold(1, 900),
        /** Executions of one runbook stopped (StopExecution) or timed out: no rollback, no escalation ran. */
        stoppedExecutions: Threshold(1, 900),
        /** Approvals that expired without a decision (their runbook's timeout is the SLA). */
        expiredApprovals: Threshold(1, 3_600),
      })
      .strict()
      .prefault({}),
    /** Absent: every function runs outside any VPC. Set: both step runners run in this VPC. */
    network: NetworkConfig.optional(),
    /** The dashboard and its sign-in (a stack of its own: runbook-autopilot-<env>-dashboard). */
    dashboard: DashboardConfig.prefault({}),
    /** Where tools act (RuntimeConfig.tools); the local shell is never available on AWS. */
    tools: RuntimeConfig.shape.tools,
    /** Per-team values of the runbooks' parameters in this environment (RuntimeConfig.runbookParameters). */
    runbookParameters: RuntimeConfig.shape.runbookParameters,
    /** Alerts recorded as ignored, never matched (RuntimeConfig.ignoredAlerts). */
    ignoredAlerts: RuntimeConfig.shape.ignoredAlerts,
    environmentLabels: RuntimeConfig.shape.environmentLabels,
    /** Graduated automation in this environment (RuntimeConfig.automation). */
    automation: RuntimeConfig.shape.automation,
  })
  .strict()
  .superRefine((config, context) => {
    config.automation.approverGroups.forEach((group, index) => {
      if (!(group in config.approverGroups))
        context.addIssue({
          code: 'custom',
          path: ['automation', 'approverGroups', index],
          message: `"${group}" is not one of approverGroups (${Object.keys(config.approverGroups).join(', ') || 'none'})`,
        });
    });
    config.automation.notify.forEach((target, index) => {
      if (!(target in config.escalationTargets))
        context.addIssue({
          code: 'custom',
          path: ['automation', 'notify', index],
          message: `"${target}" is not one of escalationTargets (${Object.keys(config.escalationTargets).join(', ')})`,
        });
    });
    for (const part of ['stuckSteps', 'circuitBreaker'] as const) {
      config.policy.watch[part].notify.forEach((target, index) => {
        if (!(target in config.escalationTargets))
          context.addIssue({
            code: 'custom',
            path: ['policy', 'watch', part, 'notify', index],
            message: `"${target}" is not one of escalationTargets (${Object.keys(config.escalationTargets).join(', ')})`,
          });
      });
    }
    config.alarms.notify.forEach((target, index) => {
      if (!(target in config.escalationTargets)) {
        context.addIssue({
          code: 'custom',
          path: ['alarms', 'notify', index],
          message: `"${target}" is not one of escalationTargets (${Object.keys(config.escalationTargets).join(', ')})`,
        });
      }
    });
    const regions = config.regions ?? [config.region];
    if (!regions.includes(config.region)) {
      context.addIssue({
        code: 'custom',
        path: ['regions'],
        message: `must include the stack's own region ${config.region} (the platform's functions and alarms are there)`,
      });
    }
    const defaultRegion = config.tools.defaultRegion;
    if (defaultRegion !== undefined && !regions.includes(defaultRegion)) {
      context.addIssue({
        code: 'custom',
        path: ['tools', 'defaultRegion'],
        message: `"${defaultRegion}" is not one of the regions tools may act in (${regions.join(', ')}); add it to regions`,
      });
    }
    if (config.tools.shell.enabled) {
      context.addIssue({
        code: 'custom',
        path: ['tools', 'shell', 'enabled'],
        message: 'the shell tool runs on the embedded platform only; set it to false',
      });
    }
  });
export type EnvironmentConfig = z.infer<typeof EnvironmentConfig>;

/** The regions an environment's tools may act in: `regions`, else the stack's own. */
export function regionsOf(config: Pick<EnvironmentConfig, 'region' | 'regions'>): string[] {
  return config.regions ?? [config.region];
}
