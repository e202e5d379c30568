import * as z from 'zod';
import { AutomationPolicy } from './automation/levels.ts';
import { EnvironmentPolicy } from './policy.ts';
import { FreezeWindow } from './runbook/model.ts';

/** A named set of people: approver groups and escalation targets. */
const People = z.array(z.email()).min(1);

/**
 * What a running deployment needs to know about its environment. On AWS, infra passes it to every
 * Lambda as JSON in RUNBOOK_AUTOPILOT_CONFIG (no secrets in it); locally it comes from cdk.json.
 */
/** `runbookParameters` in cdk.json and the runtime config. */
export const RunbookParameterValues = z
  .record(
    z.string().min(1),
    z.record(z.string().min(1), z.union([z.string(), z.number(), z.boolean(), z.array(z.string())])),
  )
  .default({});

export const RuntimeConfig = z
  .object({
    /** The environment this deployment serves (dev, staging, prod…). */
    environment: z.string().min(1),
    /** Base of the links in approval e-mails (Function URL or the local server). */
    publicBaseUrl: z.url(),
    /**
     * Where an execution can be looked at, for the links in escalations and notifications: a URL with
     * `{executionId}` (and optionally `{runbookId}`), e.g. the local dashboard or the Step Functions
     * console. Absent: messages name the execution without a link.
     */
    executionLinkTemplate: z
      .string()
      .refine((value) => value.includes('{executionId}'), 'must contain {executionId}')
      .refine(
        (value) => URL.canParse(value.replaceAll('{executionId}', 'x').replaceAll('{runbookId}', 'x')),
        'must be a URL once {executionId} and {runbookId} are filled in',
      )
      .optional(),
    /** Change-freeze windows of the whole environment, on top of each runbook's own. */
    changeFreezeWindows: z.array(FreezeWindow).default([]),
    policy: EnvironmentPolicy.default(EnvironmentPolicy.parse({})),
    approverGroups: z.record(z.string(), People).default({}),
    escalationTargets: z.record(z.string(), People).default({}),
    /** Approval links expire after this (or when the approval times out, if sooner). */
    approvalLinkTtlSeconds: z
      .number()
      .int()
      .min(60)
      .max(7 * 86_400)
      .default(3_600),
    /**
     * Approvers who have not answered after this long get one reminder (with fresh links); 0: never.
     * The design target is an answer within 5 minutes.
     */
    approvalReminderSeconds: z.number().int().min(0).max(86_400).default(300),
    /** How long incidents, executions and approvals are kept (DynamoDB TTL on AWS). */
    retentionDays: z.number().int().min(1).max(3_650).default(90),
    /** How long audit events are kept (DynamoDB TTL on AWS); one year unless the environment says. */
    auditRetentionDays: z.number().int().min(1).max(3_650).default(365),
    /** Start every execution as a dry run (rehearse in production without changing anything). */
    dryRun: z.boolean().default(false),
    /**
     * Alerts that are meant to fire and need no runbook: kube-prometheus-stack's `Watchdog` (proves the
     * pipeline works) and `InfoInhibitor` (only inhibits info alerts). Recognized, recorded as ignored,
     * never matched against runbooks.
     */
    ignoredAlerts: z.array(z.string().min(1)).default(['Watchdog', 'InfoInhibitor']),
    /**
     * Per-team values of the runbooks deployed here: runbook id → parameter name → value. They override
     * the runbook's defaults (and are overridden by a tag or label on the resource, where allowed).
     */
    runbookParameters: RunbookParameterValues,
    /** Where tools act, per deployment. */
    tools: z
      .object({
        /** Prometheus base URL for prometheus.* tools that do not name one. */
        prometheusUrl: z.url().optional(),
        /** AWS region for AWS tools that do not name one (default: the function's region). */
        defaultRegion: z.string().optional(),
        kubernetes: z
          .object({
            /** Kubeconfig file (local runtime); on AWS the in-cluster/IRSA-style config of the role. */
            kubeconfig: z.string().optional(),
            /** Cluster name (as alerts label it) to kubeconfig context. */
            contexts: z.record(z.string(), z.string()).default({}),
            /**
             * Amazon EKS clusters the tools reach without a kubeconfig (on Lambda): cluster name as
             * alerts label it → the cluster's API endpoint and CA. Requests carry an EKS token
             * (a presigned STS GetCallerIdentity) made from the function's own role; an EKS access
             * entry maps that role to Kubernetes groups (infra creates it).
             */
            eks: z
              .record(
                z.string().min(1),
                z
                  .object({
                    /** The EKS cluster's name (its `x-k8s-aws-id`); default: the key. */
                    clusterName: z
                      .string()
                      .regex(/^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$/, 'must be an EKS cluster name')
                      .optional(),
                    /** Region of the cluster; default: the function's region (AWS_REGION). */
                    region: z.string().min(1).optional(),
                    /**
                     * The API server endpoint and its base64 CA bundle, as `aws eks describe-cluster`
                     * prints them; both or neither: without them the runtime reads them with
                     * eks:DescribeCluster (and keeps them).
                     */
                    endpoint: z
                      .url()
                      .refine((url) => url.startsWith('https://'), 'must be an https URL')
                      .optional(),
                    certificateAuthorityData: z.base64().optional(),
                  })
                  .strict()
                  .refine(
                    (cluster) =>
                      (cluster.endpoint === undefined) === (cluster.certificateAuthorityData === undefined),
                    'give both endpoint and certificateAuthorityData, or neither (then eks:DescribeCluster reads them)',
                  ),
              )
              .default({}),
          })
          .strict()
          .default({ contexts: {}, eks: {} }),
        /** The local shell tool: off unless enabled, and then only allow-listed commands. */
        shell: z
          .object({ enabled: z.boolean().default(false), allow: z.array(z.string().min(1)).default([]) })
          .strict()
          .default({ enabled: false, allow: [] }),
      })
      .strict()
      .default({ kubernetes: { contexts: {}, eks: {} }, shell: { enabled: false, allow: [] } }),
    /** Alert labels that name the environment, first match wins; otherwise `environment`. */
    environmentLabels: z.array(z.string()).default(['environment', 'env']),
    /** Graduated automation: the default level, demotion and promotion rules, who approves held changes. */
    automation: AutomationPolicy.prefault({}),
  })
  .strict();
export type RuntimeConfig = z.infer<typeof RuntimeConfig>;

/** The link to an execution, when the deployment says where executions are shown. */
export function executionLink(
  config: Pick<RuntimeConfig, 'executionLinkTemplate'>,
  execution: { id: string; runbookId: string },
): string | undefined {
  if (!config.executionLinkTemplate) return undefined;
  return config.executionLinkTemplate
    .replaceAll('{executionId}', encodeURIComponent(execution.id))
    .replaceAll('{runbookId}', encodeURIComponent(execution.runbookId));
}
