import * as z from 'zod';

/** Parameter and output schemas several tool families share. */

export const awsRegion = z
  .string()
  .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as eu-west-1')
  .optional();

export const instanceIds = z
  .array(z.string().regex(/^i-[0-9a-f]{8,17}$/, 'must be an EC2 instance id such as i-0abc1234def567890'))
  .min(1)
  .max(50);

export const k8sName = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a Kubernetes name (lowercase, digits, - and .)');

export const cluster = z
  .string()
  .min(1)
  .optional()
  .describe(
    'cluster name (tools.kubernetes.contexts or .eks) or kubeconfig context; default: the environment’s cluster',
  );

export const prometheus = z
  .string()
  .min(1)
  .optional()
  .describe('Prometheus base URL; default: the environment’s Prometheus');

/** `dryRun: true` in every output of a mutating tool that only checked what it would do. */
export const dryRunFlag = z.boolean().describe('true when the change was only checked, not made');

/** An ISO-8601 timestamp, or null when the API gave none. */
export const isoTimestamp = z.string().nullable();

export const stringMap = z.record(z.string(), z.string());
