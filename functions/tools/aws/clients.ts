import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ECSClient } from '@aws-sdk/client-ecs';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SSMClient } from '@aws-sdk/client-ssm';

/**
 * The SDK clients AWS tools call, one per service and region. A region left out means the factory's
 * default region, else the SDK's own (AWS_REGION, the profile, the Lambda's region).
 */
export interface AwsClients {
  cloudWatch(region?: string): CloudWatchClient;
  logs(region?: string): CloudWatchLogsClient;
  ssm(region?: string): SSMClient;
  ec2(region?: string): EC2Client;
  autoScaling(region?: string): AutoScalingClient;
  ecs(region?: string): ECSClient;
  lambda(region?: string): LambdaClient;
}

export interface AwsClientsOptions {
  /** Region for calls that name none (config `tools.defaultRegion`); absent: the SDK's default. */
  defaultRegion?: string;
}

type ClientConfig = { region?: string };

/** Clients cached per region and built on first use: importing or wiring this constructs nothing. */
export function awsClients(options: AwsClientsOptions = {}): AwsClients {
  const perRegion = <Client>(construct: (config: ClientConfig) => Client) => {
    const cache = new Map<string, Client>();
    return (region?: string): Client => {
      const resolved = region || options.defaultRegion || undefined;
      const key = resolved ?? '';
      let client = cache.get(key);
      if (!client) {
        client = construct(resolved ? { region: resolved } : {});
        cache.set(key, client);
      }
      return client;
    };
  };
  return {
    cloudWatch: perRegion((config) => new CloudWatchClient(config)),
    logs: perRegion((config) => new CloudWatchLogsClient(config)),
    ssm: perRegion((config) => new SSMClient(config)),
    ec2: perRegion((config) => new EC2Client(config)),
    autoScaling: perRegion((config) => new AutoScalingClient(config)),
    ecs: perRegion((config) => new ECSClient(config)),
    lambda: perRegion((config) => new LambdaClient(config)),
  };
}
