import { GetStageCommand } from '@aws-sdk/client-api-gateway';
import {
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
} from '@aws-sdk/client-auto-scaling';
import { ListTagsOfResourceCommand } from '@aws-sdk/client-dynamodb';
import { DescribeTagsCommand as DescribeEc2TagsCommand } from '@aws-sdk/client-ec2';
import {
  DescribeCapacityProvidersCommand,
  DescribeServicesCommand,
  ListClustersCommand,
  ListServicesCommand,
  type Service,
} from '@aws-sdk/client-ecs';
import {
  DescribeTagsCommand as DescribeElbTagsCommand,
  type TargetGroup,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { ListTagsCommand } from '@aws-sdk/client-lambda';
import { ListTagsForResourceCommand } from '@aws-sdk/client-rds';
import { ListQueueTagsCommand } from '@aws-sdk/client-sqs';
import type { AlertResource } from '../../core/resource.ts';
import type { ToolContext } from '../../ports/tools.ts';
import type { Resolution, ResolverFamily } from '../resolve/resolution.ts';
import { withTransientRetry } from '../resolve/transient.ts';
import { findRestApi } from './apigateway.ts';
import { type AwsToolDeps, regionOf } from './deps.ts';
import { tagsOf } from './ec2.ts';
import { ecsNameOf } from './ecs.ts';
import { findTargetGroup, targetHealthOf } from './elbv2.ts';
import { callAws } from './errors.ts';
import { listForMessage } from './output.ts';
import {
  eventSourceMappingsOf,
  functionNameOfArn,
  queueAttributes,
  queueOfArn,
  queueUrlOf,
  redrivePolicyOf,
} from './sqs.ts';

/**
 * Resolution of AWS resources from an alarm's dimensions, through the APIs an engineer would use: a
 * target group → its load balancer, the ECS services that register into it (their loadBalancers), the
 * instances it routes to and their Auto Scaling group; an instance → its Auto Scaling group; an ECS
 * service → its target group and capacity provider's group; a queue → its URL, dead-letter queue and
 * consuming function; a stage → its REST API id. The resource's tags are read for parameter
 * overrides. Every failing call is a miss that says why; only an abort ends the step.
 */

const TOOL = 'resource.resolve';
/** ECS clusters and services scanned for the services behind a target group (ListServices pages of 100). */
export const MAX_SCANNED_CLUSTERS = 100;
export const MAX_SCANNED_SERVICES = 1_000;
const DESCRIBE_SERVICES_BATCH = 10;
/** DescribeAutoScalingInstances takes at most 50 instance ids. */
const AUTOSCALING_INSTANCES_BATCH = 50;
const MAX_PAGES = 10;

const TYPES = new Set([
  'target-group',
  'load-balancer',
  'ec2-instance',
  'ecs-service',
  'sqs-queue',
  'apigateway-stage',
  'lambda-function',
  'rds-instance',
  'dynamodb-table',
  'autoscaling-group',
]);

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** `arn:…:autoScalingGroup:…:autoScalingGroupName/web-asg` (or a bare name) → `web-asg`. */
export function autoScalingGroupNameOf(arnOrName: string): string {
  return /autoScalingGroupName\/(.+)$/.exec(arnOrName)?.[1] ?? arnOrName;
}

/** Shares a word with the target group's name: scanned first, so a capped scan still finds the likely ones. */
function resembles(serviceArn: string, groupName: string): boolean {
  const service = ecsNameOf(serviceArn).toLowerCase();
  const group = groupName.toLowerCase();
  return service.includes(group) || group.includes(service);
}

class AwsResolution {
  private readonly region: string | undefined;

  constructor(
    private readonly deps: AwsToolDeps,
    private readonly resolution: Resolution,
    private readonly context: ToolContext,
  ) {
    this.region = regionOf(deps, { region: resolution.resource.region });
  }

  private get resource(): AlertResource {
    return this.resolution.resource;
  }

  private describe(): string {
    return `${this.resource.type} ${this.resource.id}`;
  }

  /**
   * Runs one lookup, trying a passing failure (throttling, 5xx, a reset connection) again with backoff;
   * what still fails is a miss of `what` (an abort ends the step).
   */
  async attempt<T>(what: string, lookup: () => Promise<T>): Promise<T | undefined> {
    try {
      return await withTransientRetry(lookup, this.context, what);
    } catch (error) {
      if (this.context.signal.aborted) throw error;
      this.resolution.miss(what, message(error));
      return undefined;
    }
  }

  private call<T>(
    action: string,
    resource: string,
    send: (abortSignal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    return callAws({ tool: TOOL, action, resource, region: this.region }, this.context, send);
  }

  // --------------------------------------------------------------------------------------- load balancing

  async targetGroup(): Promise<void> {
    const reference = this.resource.arn ?? this.resource.identifiers?.TargetGroup ?? this.resource.id;
    const group = await this.attempt('targetGroupArn', () =>
      findTargetGroup(this.deps, this.context, TOOL, reference, this.region),
    );
    if (!group?.TargetGroupArn) return;
    const arn = group.TargetGroupArn;
    this.resolution.set('targetGroupArn', arn, {
      from: this.describe(),
      to: arn,
      via: 'DescribeTargetGroups',
    });
    const loadBalancer = group.LoadBalancerArns?.[0];
    if (loadBalancer)
      this.resolution.set('loadBalancerArn', loadBalancer, {
        from: `target group ${group.TargetGroupName}`,
        to: loadBalancer,
        via: 'LoadBalancerArns of DescribeTargetGroups',
      });
    else
      this.resolution.miss(
        'loadBalancerArn',
        `target group ${group.TargetGroupName} is not attached to a load balancer`,
      );
    await this.elbTags(arn);
    await this.behindTargetGroup(group);
  }

  private async behindTargetGroup(group: TargetGroup): Promise<void> {
    const arn = group.TargetGroupArn!;
    const name = group.TargetGroupName ?? arn;
    const type = group.TargetType ?? 'instance';
    if (type === 'alb') return;
    const targets = await this.attempt('instances', () =>
      targetHealthOf(this.deps, this.context, TOOL, arn, this.region),
    );
    const ids = (targets ?? []).map((target) => target.Target?.Id ?? '').filter((id) => id !== '');
    if (type === 'lambda') {
      if (ids[0])
        this.resolution.set('functionName', functionNameOfArn(ids[0]), {
          from: `target group ${name}`,
          to: ids[0],
          via: 'DescribeTargetHealth (a Lambda target)',
        });
      else if (targets)
        this.resolution.miss('functionName', `target group ${name} has no Lambda function registered`);
      return;
    }
    const services = await this.attempt('ecsService', () => this.ecsServicesBehind(arn, name));
    let autoScalingGroup: string | undefined;
    if (type === 'instance' && targets) {
      if (ids.length > 0) {
        this.resolution.set('instances', ids, {
          from: `target group ${name}`,
          to: `${ids.length} instance(s)`,
          via: 'DescribeTargetHealth',
        });
        autoScalingGroup = await this.attempt('autoScalingGroup', () =>
          this.groupOfInstances(ids, `target group ${name}`),
        );
      } else this.resolution.miss('instances', `target group ${name} has no registered targets`);
    }
    if (services && services.length === 0 && (type === 'ip' || autoScalingGroup === undefined))
      this.resolution.miss(
        'ecsService',
        this.lastScan ?? `no ECS service registers into target group ${name}`,
      );
  }

  private lastScan: string | undefined;

  /** ECS services whose loadBalancers name the target group, found by scanning the region's clusters. */
  private async ecsServicesBehind(targetGroupArn: string, groupName: string): Promise<Service[]> {
    const client = this.deps.clients.ecs(this.region);
    const clusters: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.call('ecs:ListClusters', 'clusters', (abortSignal) =>
        client.send(new ListClustersCommand({ maxResults: 100, nextToken }), { abortSignal }),
      );
      clusters.push(...(page.clusterArns ?? []));
      nextToken = page.nextToken || undefined;
    } while (nextToken && clusters.length < MAX_SCANNED_CLUSTERS);

    const candidates: Array<{ cluster: string; service: string }> = [];
    let capped = clusters.length >= MAX_SCANNED_CLUSTERS;
    for (const cluster of clusters.slice(0, MAX_SCANNED_CLUSTERS)) {
      let token: string | undefined;
      do {
        const page = await this.call('ecs:ListServices', `services of cluster ${cluster}`, (abortSignal) =>
          client.send(new ListServicesCommand({ cluster, maxResults: 100, nextToken: token }), {
            abortSignal,
          }),
        );
        for (const service of page.serviceArns ?? []) candidates.push({ cluster, service });
        token = page.nextToken || undefined;
      } while (token && candidates.length < MAX_SCANNED_SERVICES);
      if (candidates.length >= MAX_SCANNED_SERVICES) {
        capped = true;
        break;
      }
    }
    const scanned = candidates.slice(0, MAX_SCANNED_SERVICES);
    // Likely services first, then cluster by cluster (DescribeServices takes one cluster per call).
    scanned.sort(
      (a, b) =>
        Number(resembles(b.service, groupName)) - Number(resembles(a.service, groupName)) ||
        a.cluster.localeCompare(b.cluster),
    );
    const matches: Array<{ cluster: string; service: Service }> = [];
    for (let index = 0; index < scanned.length; ) {
      const cluster = scanned[index]!.cluster;
      const batch: string[] = [];
      while (
        index < scanned.length &&
        scanned[index]!.cluster === cluster &&
        batch.length < DESCRIBE_SERVICES_BATCH
      )
        batch.push(scanned[index++]!.service);
      const described = await this.call(
        'ecs:DescribeServices',
        `services of cluster ${cluster}`,
        (abortSignal) =>
          client.send(new DescribeServicesCommand({ cluster, services: batch }), { abortSignal }),
      );
      for (const service of described.services ?? [])
        if (
          (service.loadBalancers ?? []).some((balancer) => balancer.targetGroupArn === targetGroupArn) &&
          !matches.some((match) => match.service.serviceArn === service.serviceArn)
        )
          matches.push({ cluster, service });
    }
    this.lastScan = `no ECS service registers into target group ${groupName} (scanned ${scanned.length} service(s) in ${Math.min(clusters.length, MAX_SCANNED_CLUSTERS)} cluster(s)${capped ? ', stopped at the scan limit' : ''})`;
    if (matches.length === 0) return [];
    const references = matches.map(({ cluster, service }) => ({
      cluster: ecsNameOf(service.clusterArn ?? cluster),
      service: service.serviceName ?? ecsNameOf(service.serviceArn ?? ''),
    }));
    const via = `loadBalancers[].targetGroupArn of DescribeServices (${scanned.length} service(s) scanned)`;
    this.resolution.set('ecsService', references[0]!, {
      from: `target group ${groupName}`,
      to: `ECS service ${references[0]!.cluster}/${references[0]!.service}`,
      via,
    });
    this.resolution.set('ecsServices', references, {
      from: `target group ${groupName}`,
      to: `${references.length} ECS service(s)`,
      via,
    });
    return matches.map((match) => match.service);
  }

  /** The Auto Scaling group most of the instances belong to. */
  private async groupOfInstances(instanceIds: readonly string[], from: string): Promise<string | undefined> {
    const batch = instanceIds.slice(0, AUTOSCALING_INSTANCES_BATCH);
    const response = await this.call(
      'autoscaling:DescribeAutoScalingInstances',
      `instances ${listForMessage(batch)}`,
      (abortSignal) =>
        this.deps.clients
          .autoScaling(this.region)
          .send(new DescribeAutoScalingInstancesCommand({ InstanceIds: batch }), { abortSignal }),
    );
    const counts = new Map<string, number>();
    for (const member of response.AutoScalingInstances ?? [])
      if (member.AutoScalingGroupName)
        counts.set(member.AutoScalingGroupName, (counts.get(member.AutoScalingGroupName) ?? 0) + 1);
    const [group, count] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0] ?? [];
    if (!group) {
      this.resolution.miss(
        'autoScalingGroup',
        `none of ${listForMessage(batch)} is in an Auto Scaling group`,
      );
      return undefined;
    }
    this.resolution.set('autoScalingGroup', group, {
      from,
      to: `Auto Scaling group ${group}`,
      via: `DescribeAutoScalingInstances (${count} of ${batch.length} instance(s))`,
    });
    return group;
  }

  async loadBalancer(): Promise<void> {
    const arn = this.resource.arn;
    if (!arn) return;
    this.resolution.set('loadBalancerArn', arn, {
      from: this.describe(),
      to: arn,
      via: 'the alarm’s LoadBalancer dimension',
    });
    await this.elbTags(arn);
  }

  private async elbTags(arn: string): Promise<void> {
    const response = await this.attempt('tags', () =>
      this.call('elasticloadbalancing:DescribeTags', arn, (abortSignal) =>
        this.deps.clients
          .elbv2(this.region)
          .send(new DescribeElbTagsCommand({ ResourceArns: [arn] }), { abortSignal }),
      ),
    );
    const description = response?.TagDescriptions?.find((entry) => entry.ResourceArn === arn);
    if (description) this.resolution.addTags(tagsOf(description.Tags));
  }

  // ----------------------------------------------------------------------------------------------- EC2/ECS

  async instance(): Promise<void> {
    const instanceId = this.resource.id;
    this.resolution.set('instanceId', instanceId, {
      from: this.describe(),
      to: instanceId,
      via: 'the alarm’s InstanceId dimension',
    });
    await this.attempt('autoScalingGroup', () =>
      this.groupOfInstances([instanceId], `EC2 instance ${instanceId}`),
    );
    const tags: Array<{ Key?: string; Value?: string }> = [];
    await this.attempt('tags', async () => {
      let nextToken: string | undefined;
      let pages = 0;
      do {
        const page = await this.call('ec2:DescribeTags', `instance ${instanceId}`, (abortSignal) =>
          this.deps.clients.ec2(this.region).send(
            new DescribeEc2TagsCommand({
              Filters: [{ Name: 'resource-id', Values: [instanceId] }],
              MaxResults: 1_000,
              NextToken: nextToken,
            }),
            { abortSignal },
          ),
        );
        tags.push(...(page.Tags ?? []));
        nextToken = page.NextToken || undefined;
        pages += 1;
      } while (nextToken && pages < MAX_PAGES);
    });
    this.resolution.addTags(tagsOf(tags));
  }

  async ecsService(): Promise<void> {
    const cluster = this.resource.cluster ?? this.resource.identifiers?.ClusterName;
    const name = this.resource.name ?? this.resource.id;
    if (!cluster) {
      this.resolution.miss('ecsService', 'the alarm names no ClusterName');
      return;
    }
    const client = this.deps.clients.ecs(this.region);
    const response = await this.attempt('ecsService', () =>
      this.call('ecs:DescribeServices', `service ${name} in cluster ${cluster}`, (abortSignal) =>
        client.send(new DescribeServicesCommand({ cluster, services: [name], include: ['TAGS'] }), {
          abortSignal,
        }),
      ),
    );
    if (!response) return;
    const service = response.services?.find((candidate) => candidate.serviceName === name);
    if (!service) {
      const failure = response.failures?.[0];
      this.resolution.miss(
        'ecsService',
        `ECS service ${name} not found in cluster ${cluster}${failure ? ` (${failure.reason ?? 'failed'})` : ''}`,
      );
      return;
    }
    const reference = { cluster, service: name };
    this.resolution.set('ecsService', reference, {
      from: this.describe(),
      to: `ECS service ${cluster}/${name}`,
      via: 'DescribeServices',
    });
    this.resolution.set('ecsServices', [reference], {
      from: this.describe(),
      to: '1 ECS service',
      via: 'DescribeServices',
    });
    this.resolution.addTags(
      Object.fromEntries(
        (service.tags ?? []).filter((tag) => tag.key).map((tag) => [tag.key!, tag.value ?? '']),
      ),
    );
    const targetGroupArn = service.loadBalancers?.find((balancer) => balancer.targetGroupArn)?.targetGroupArn;
    if (targetGroupArn) {
      this.resolution.set('targetGroupArn', targetGroupArn, {
        from: `ECS service ${cluster}/${name}`,
        to: targetGroupArn,
        via: 'loadBalancers[].targetGroupArn of DescribeServices',
      });
      const group = await this.attempt('loadBalancerArn', () =>
        findTargetGroup(this.deps, this.context, TOOL, targetGroupArn, this.region),
      );
      const loadBalancer = group?.LoadBalancerArns?.[0];
      if (loadBalancer)
        this.resolution.set('loadBalancerArn', loadBalancer, {
          from: `target group ${group?.TargetGroupName}`,
          to: loadBalancer,
          via: 'LoadBalancerArns of DescribeTargetGroups',
        });
    }
    await this.capacityGroup(service, cluster, name);
  }

  /** The Auto Scaling group of the service's EC2 capacity provider (Fargate has none). */
  private async capacityGroup(service: Service, cluster: string, name: string): Promise<void> {
    const providers = (service.capacityProviderStrategy ?? [])
      .map((item) => item.capacityProvider ?? '')
      .filter((provider) => provider !== '' && !provider.startsWith('FARGATE'));
    if (providers.length === 0) {
      if (service.launchType === 'EC2')
        this.resolution.miss(
          'autoScalingGroup',
          `ECS service ${cluster}/${name} runs on the EC2 launch type without a capacity provider: its instances' group is not recorded on the service`,
        );
      return;
    }
    const response = await this.attempt('autoScalingGroup', () =>
      this.call(
        'ecs:DescribeCapacityProviders',
        `capacity providers ${listForMessage(providers)}`,
        (abortSignal) =>
          this.deps.clients
            .ecs(this.region)
            .send(new DescribeCapacityProvidersCommand({ capacityProviders: providers }), { abortSignal }),
      ),
    );
    const provider = response?.capacityProviders?.find((candidate) => candidate.autoScalingGroupProvider);
    const groupArn = provider?.autoScalingGroupProvider?.autoScalingGroupArn;
    if (!groupArn) {
      if (response)
        this.resolution.miss(
          'autoScalingGroup',
          `capacity providers ${listForMessage(providers)} name no Auto Scaling group`,
        );
      return;
    }
    const group = autoScalingGroupNameOf(groupArn);
    this.resolution.set('autoScalingGroup', group, {
      from: `ECS service ${cluster}/${name}`,
      to: `Auto Scaling group ${group}`,
      via: `capacity provider ${provider?.name} (DescribeCapacityProviders)`,
    });
  }

  async autoScalingGroup(): Promise<void> {
    const name = this.resource.name ?? this.resource.id;
    this.resolution.set('autoScalingGroup', name, {
      from: this.describe(),
      to: `Auto Scaling group ${name}`,
      via: 'the alarm’s AutoScalingGroupName dimension',
    });
    const response = await this.attempt('tags', () =>
      this.call('autoscaling:DescribeAutoScalingGroups', `Auto Scaling group ${name}`, (abortSignal) =>
        this.deps.clients
          .autoScaling(this.region)
          .send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }), { abortSignal }),
      ),
    );
    const group = response?.AutoScalingGroups?.find((candidate) => candidate.AutoScalingGroupName === name);
    if (group) this.resolution.addTags(tagsOf(group.Tags));
  }

  // --------------------------------------------------------------------------------- queues, functions, data

  async queue(): Promise<void> {
    const name = this.resource.name ?? this.resource.id;
    const queueUrl = await this.attempt('queueUrl', () =>
      queueUrlOf(this.deps, this.context, TOOL, name, this.region, this.resource.account),
    );
    if (!queueUrl) return;
    this.resolution.set('queueUrl', queueUrl, { from: this.describe(), to: queueUrl, via: 'GetQueueUrl' });
    const attributes = await this.attempt('deadLetterQueueUrl', () =>
      queueAttributes(this.deps, this.context, TOOL, queueUrl, this.region),
    );
    const policy = attributes ? redrivePolicyOf(attributes) : null;
    const deadLetter = policy ? queueOfArn(policy.deadLetterTargetArn) : undefined;
    if (deadLetter) {
      const url = await this.attempt('deadLetterQueueUrl', () =>
        queueUrlOf(this.deps, this.context, TOOL, deadLetter.name, this.region, deadLetter.account),
      );
      if (url)
        this.resolution.set('deadLetterQueueUrl', url, {
          from: `queue ${name}`,
          to: url,
          via: `RedrivePolicy.deadLetterTargetArn ${policy?.deadLetterTargetArn}`,
        });
    } else if (attributes) this.resolution.miss('deadLetterQueueUrl', `queue ${name} has no redrive policy`);
    const queueArn = attributes?.QueueArn;
    if (queueArn) {
      const mappings = await this.attempt('functionName', () =>
        eventSourceMappingsOf(this.deps, this.context, TOOL, queueArn, this.region),
      );
      const consumer =
        mappings?.find((mapping) => mapping.State === 'Enabled') ??
        mappings?.find((mapping) => mapping.FunctionArn);
      if (consumer?.FunctionArn)
        this.resolution.set('functionName', functionNameOfArn(consumer.FunctionArn), {
          from: `queue ${name}`,
          to: consumer.FunctionArn,
          via: `event source mapping ${consumer.UUID} (ListEventSourceMappings)`,
        });
      else if (mappings)
        this.resolution.miss('functionName', `no Lambda event source mapping reads queue ${name}`);
    }
    const tags = await this.attempt('tags', () =>
      this.call('sqs:ListQueueTags', `queue ${queueUrl}`, (abortSignal) =>
        this.deps.clients
          .sqs(this.region)
          .send(new ListQueueTagsCommand({ QueueUrl: queueUrl }), { abortSignal }),
      ),
    );
    this.resolution.addTags(tags?.Tags ?? {});
  }

  async stage(): Promise<void> {
    const apiName = this.resource.identifiers?.ApiName ?? this.resource.name;
    const stage = this.resource.identifiers?.Stage;
    if (!apiName) {
      this.resolution.miss(
        'restApiId',
        'the alarm names no ApiName (ApiId names an HTTP API, not a REST API)',
      );
      return;
    }
    const api = await this.attempt('restApiId', () =>
      findRestApi(this.deps, this.context, TOOL, apiName, this.region),
    );
    if (!api?.id) return;
    const restApiId = api.id;
    this.resolution.set('restApiId', restApiId, {
      from: this.describe(),
      to: restApiId,
      via: `GetRestApis (the REST API named ${apiName})`,
    });
    if (!stage) return;
    const response = await this.attempt('tags', () =>
      this.call('apigateway:GET', `stage ${stage} of REST API ${restApiId}`, (abortSignal) =>
        this.deps.clients
          .apiGateway(this.region)
          .send(new GetStageCommand({ restApiId, stageName: stage }), { abortSignal }),
      ),
    );
    this.resolution.addTags(response?.tags ?? {});
  }

  async lambdaFunction(): Promise<void> {
    const name = this.resource.name ?? this.resource.id;
    this.resolution.set('functionName', name, {
      from: this.describe(),
      to: name,
      via: 'the alarm’s FunctionName dimension',
    });
    const arn = this.resource.arn;
    if (!arn) return;
    const response = await this.attempt('tags', () =>
      this.call('lambda:ListTags', `function ${name}`, (abortSignal) =>
        this.deps.clients.lambda(this.region).send(new ListTagsCommand({ Resource: arn }), { abortSignal }),
      ),
    );
    this.resolution.addTags(response?.Tags ?? {});
  }

  async dbInstance(): Promise<void> {
    const arn = this.resource.arn;
    if (!arn) return;
    const response = await this.attempt('tags', () =>
      this.call('rds:ListTagsForResource', `DB instance ${this.resource.id}`, (abortSignal) =>
        this.deps.clients
          .rds(this.region)
          .send(new ListTagsForResourceCommand({ ResourceName: arn }), { abortSignal }),
      ),
    );
    this.resolution.addTags(tagsOf(response?.TagList));
  }

  async table(): Promise<void> {
    const arn = this.resource.arn;
    if (!arn) return;
    const tags: Array<{ Key?: string; Value?: string }> = [];
    await this.attempt('tags', async () => {
      let nextToken: string | undefined;
      let pages = 0;
      do {
        const page = await this.call(
          'dynamodb:ListTagsOfResource',
          `table ${this.resource.id}`,
          (abortSignal) =>
            this.deps.clients
              .dynamoDb(this.region)
              .send(new ListTagsOfResourceCommand({ ResourceArn: arn, NextToken: nextToken }), {
                abortSignal,
              }),
        );
        tags.push(...(page.Tags ?? []));
        nextToken = page.NextToken || undefined;
        pages += 1;
      } while (nextToken && pages < MAX_PAGES);
    });
    this.resolution.addTags(tagsOf(tags));
  }
}

export function awsResolver(deps: AwsToolDeps): ResolverFamily {
  return {
    name: 'aws',
    handles: (resource) => TYPES.has(resource.type),
    async resolve(resolution: Resolution, context: ToolContext): Promise<void> {
      const aws = new AwsResolution(deps, resolution, context);
      switch (resolution.resource.type) {
        case 'target-group':
          return aws.targetGroup();
        case 'load-balancer':
          return aws.loadBalancer();
        case 'ec2-instance':
          return aws.instance();
        case 'ecs-service':
          return aws.ecsService();
        case 'autoscaling-group':
          return aws.autoScalingGroup();
        case 'sqs-queue':
          return aws.queue();
        case 'apigateway-stage':
          return aws.stage();
        case 'lambda-function':
          return aws.lambdaFunction();
        case 'rds-instance':
          return aws.dbInstance();
        case 'dynamodb-table':
          return aws.table();
        default:
          return;
      }
    },
  };
}
