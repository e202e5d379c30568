import { APIGatewayClient } from '@aws-sdk/client-api-gateway';
import { ApplicationAutoScalingClient } from '@aws-sdk/client-application-auto-scaling';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ECSClient } from '@aws-sdk/client-ecs';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { RDSClient } from '@aws-sdk/client-rds';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { type AwsService, checkedEndpoints } from './endpoints.ts';

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
  elbv2(region?: string): ElasticLoadBalancingV2Client;
  rds(region?: string): RDSClient;
  sqs(region?: string): SQSClient;
  dynamoDb(region?: string): DynamoDBClient;
  applicationAutoScaling(region?: string): ApplicationAutoScalingClient;
  apiGateway(region?: string): APIGatewayClient;
  elastiCache(region?: string): ElastiCacheClient;
}

export interface AwsClientsOptions {
  /** Region for calls that name none (config `tools.defaultRegion`); absent: the SDK's default. */
  defaultRegion?: string;
  /**
   * A service's endpoint instead of AWS's (the embedded platform's demo points every service at its
   * simulated environment). Never set on AWS: the composition for Lambda passes none.
   */
  endpoints?: Partial<Record<AwsService, string>>;
  /** Fixed credentials instead of the SDK's chain (a simulated endpoint takes dummy ones). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

type ClientConfig = {
  region?: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
};

export { AWS_SERVICES, type AwsService } from './endpoints.ts';

/** Clients cached per region and built on first use: importing or wiring this constructs nothing. */
export function awsClients(options: AwsClientsOptions = {}): AwsClients {
  const endpoints = checkedEndpoints(options.endpoints);
  const perRegion = <Client>(service: AwsService, construct: (config: ClientConfig) => Client) => {
    const cache = new Map<string, Client>();
    const endpoint = endpoints[service];
    return (region?: string): Client => {
      const resolved = region || options.defaultRegion || undefined;
      const key = resolved ?? '';
      let client = cache.get(key);
      if (!client) {
        client = construct({
          ...(resolved ? { region: resolved } : {}),
          ...(endpoint ? { endpoint } : {}),
          ...(options.credentials ? { credentials: { ...options.credentials } } : {}),
        });
        cache.set(key, client);
      }
      return client;
    };
  };
  return {
    cloudWatch: perRegion('cloudWatch', (config) => new CloudWatchClient(config)),
    logs: perRegion('logs', (config) => new CloudWatchLogsClient(config)),
    ssm: perRegion('ssm', (config) => new SSMClient(config)),
    ec2: perRegion('ec2', (config) => new EC2Client(config)),
    autoScaling: perRegion('autoScaling', (config) => new AutoScalingClient(config)),
    ecs: perRegion('ecs', (config) => new ECSClient(config)),
    lambda: perRegion('lambda', (config) => new LambdaClient(config)),
    elbv2: perRegion('elbv2', (config) => new ElasticLoadBalancingV2Client(config)),
    rds: perRegion('rds', (config) => new RDSClient(config)),
    sqs: perRegion('sqs', (config) => new SQSClient(config)),
    dynamoDb: perRegion('dynamoDb', (config) => new DynamoDBClient(config)),
    applicationAutoScaling: perRegion(
      'applicationAutoScaling',
      (config) => new ApplicationAutoScalingClient(config),
    ),
    apiGateway: perRegion('apiGateway', (config) => new APIGatewayClient(config)),
    elastiCache: perRegion('elastiCache', (config) => new ElastiCacheClient(config)),
  };
}
