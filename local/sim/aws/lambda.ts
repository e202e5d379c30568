import type { AwsAccount } from './account.ts';
import { latencyPercentile } from './elbv2.ts';
import { awsTime, fastUuid, hexId, uuidFrom } from './ids.ts';
import type { LogEvent } from './logs.ts';
import type { MetricSeries } from './metric-store.ts';
import { type AwsCall, AwsError, page, type ServiceDefinition } from './protocol.ts';
import { jitter, Timeline } from './timeline.ts';

/**
 * AWS Lambda: functions with published versions and aliases (an alias routes invocations to its
 * version, or splits them by weights), reserved concurrency against the account's pool (demand beyond
 * it is throttled), SQS event source mappings with a maximum concurrency, and what every invocation
 * leaves: AWS/Lambda metrics and START/END/REPORT (and ERROR) lines in the function's log group. Each
 * version has its own behaviour (error rate, duration), so pointing an alias back changes the errors.
 * API (REST-JSON): GetFunction, GetFunctionConfiguration, ListVersionsByFunction, ListAliases,
 * GetAlias, UpdateAlias, GetFunctionConcurrency, PutFunctionConcurrency, DeleteFunctionConcurrency,
 * GetAccountSettings, ListEventSourceMappings, GetEventSourceMapping, UpdateEventSourceMapping,
 * ListTags.
 */

export const ACCOUNT_CONCURRENCY = 1_000;
/** Lambda keeps this much of the account's concurrency unreserved. */
export const MINIMUM_UNRESERVED = 100;
/** An event source mapping is Updating this long after a change. */
const MAPPING_UPDATE_SECONDS = 1;

export interface VersionBehaviour {
  /** Share of invocations that fail, and how they fail in the log. */
  errorFraction: number;
  error?: { type: string; message: string; stack: string[] };
  durationMs: number;
}

export interface FunctionVersion {
  version: string;
  description: string;
  publishedAt: number;
  codeSha256: string;
  behaviour: VersionBehaviour;
}

export interface Alias {
  name: string;
  version: string;
  weights: Record<string, number>;
  description: string;
  revisionId: string;
  /** Where it pointed over time (for the logs): the newest last. */
  history: Array<{ at: number; version: string; weights: Record<string, number> }>;
}

export interface LambdaFunction {
  name: string;
  arn: string;
  runtime: string;
  handler: string;
  memoryMb: number;
  timeoutSeconds: number;
  description: string;
  createdAt: number;
  lastModified: number;
  latest: VersionBehaviour;
  versions: FunctionVersion[];
  aliases: Map<string, Alias>;
  reserved: number | null;
  tags: Record<string, string>;
  logGroup: string;
  /** Invocations a second its callers attempt (the alias they call: `invokedAlias`). */
  demand: Timeline;
  invokedAlias?: string;
  /** Set by an event source each tick instead of `demand`: batches a second and pollers running. */
  polled?: { invocations: number; concurrency: number };
  /** Share of attempts throttled, recorded each tick (the logs read it back). */
  throttled: Timeline;
  metrics: Record<'invocations' | 'errors' | 'throttles' | 'duration' | 'concurrent', MetricSeries>;
  /**
   * Invocations and Errors of each version run through an alias (dimensions FunctionName, Resource
   * `<function>:<alias>`, ExecutedVersion), keyed `<alias>:<version>`: from the first time it ran.
   */
  executed: Map<string, { invocations: MetricSeries; errors: MetricSeries }>;
  /** What each invocation logs between START and END. */
  logLine?: (version: string) => string;
}

export interface EventSourceMapping {
  uuid: string;
  functionName: string;
  sourceArn: string;
  batchSize: number;
  maximumConcurrency: number | null;
  state: 'Enabled' | 'Updating' | 'Disabled';
  updatingUntil?: number;
  lastModified: number;
}

const OK: VersionBehaviour = { errorFraction: 0.0015, durationMs: 230 };

export class LambdaModel {
  readonly functions = new Map<string, LambdaFunction>();
  readonly mappings = new Map<string, EventSourceMapping>();

  constructor(private readonly account: AwsAccount) {
    const day = 86_400;
    const start = account.startedAt;
    const checkout = this.add({
      name: 'checkout-api',
      description: 'Checkout API: prices a cart, reserves stock, creates the order',
      runtime: 'nodejs20.x',
      memoryMb: 1024,
      timeoutSeconds: 10,
      createdAt: start - 300 * day,
      tags: { team: 'checkout', environment: 'staging' },
      invocations: 12,
      reserved: 50,
      versions: [
        { version: '5', description: 'release 2026.10.02: gift cards', publishedAt: start - 40 * day },
        { version: '6', description: 'release 2026.11.13: split shipments', publishedAt: start - 12 * day },
        {
          version: '7',
          description: 'release 2026.11.22: multi-currency prices',
          publishedAt: start - 3 * day,
        },
      ],
      alias: { name: 'live', version: '7', description: 'what API Gateway calls' },
    });
    checkout.logLine = () => 'priced cart and created order';
    // Its few errors in a good week: the inventory service's occasional 503.
    const inventory503 = {
      type: 'InventoryUnavailableError',
      message: 'inventory service answered 503 (reserve stock)',
      stack: [
        '    at reserveStock (/var/task/inventory.js:58:11)',
        '    at async Runtime.handler (/var/task/index.js:31:5)',
      ],
    };
    checkout.latest = { ...checkout.latest, error: inventory503 };
    for (const version of checkout.versions)
      version.behaviour = { ...version.behaviour, error: inventory503 };
    const worker = this.add({
      name: 'order-worker',
      description: 'Consumes order-events: writes orders to the warehouse system',
      runtime: 'python3.12',
      memoryMb: 512,
      timeoutSeconds: 30,
      createdAt: start - 200 * day,
      tags: { team: 'orders', environment: 'staging' },
      invocations: 0,
      reserved: null,
      versions: [
        { version: '3', description: 'retry warehouse 429s', publishedAt: start - 60 * day },
        { version: '4', description: 'batch item failures', publishedAt: start - 21 * day },
      ],
      behaviour: { errorFraction: 0, durationMs: 2_000 },
    });
    worker.logLine = () => 'processed a batch of order events';
    this.mappings.set('a6f3b8e1-2c4d-4e5f-8a9b-0c1d2e3f4a5b', {
      uuid: 'a6f3b8e1-2c4d-4e5f-8a9b-0c1d2e3f4a5b',
      functionName: worker.name,
      sourceArn: account.arn('sqs', 'order-events'),
      batchSize: 10,
      maximumConcurrency: 5,
      state: 'Enabled',
      lastModified: start - 21 * day,
    });
  }

  private add(options: {
    name: string;
    description: string;
    runtime: string;
    memoryMb: number;
    timeoutSeconds: number;
    createdAt: number;
    tags: Record<string, string>;
    invocations: number;
    reserved: number | null;
    versions: Array<{ version: string; description: string; publishedAt: number }>;
    alias?: { name: string; version: string; description: string };
    behaviour?: VersionBehaviour;
  }): LambdaFunction {
    const dimensions = { FunctionName: options.name };
    const define = (metricName: string, extra: Parameters<AwsAccount['metrics']['define']>[1]) =>
      this.account.metrics.define({ namespace: 'AWS/Lambda', metricName, dimensions }, extra);
    const behaviour = options.behaviour ?? OK;
    const invocations = define('Invocations', {
      kind: 'count',
      unit: 'Count',
      initial: options.invocations,
      noise: 0.04,
    });
    const fn: LambdaFunction = {
      name: options.name,
      arn: this.account.arn('lambda', `function:${options.name}`),
      runtime: options.runtime,
      handler: options.runtime.startsWith('python') ? 'app.handler' : 'index.handler',
      memoryMb: options.memoryMb,
      timeoutSeconds: options.timeoutSeconds,
      description: options.description,
      createdAt: options.createdAt,
      lastModified: options.versions.at(-1)?.publishedAt ?? options.createdAt,
      latest: behaviour,
      versions: options.versions.map((version) => ({
        ...version,
        codeSha256: Buffer.from(hexId(`${options.name}-${version.version}`, 64), 'hex').toString('base64'),
        behaviour: { ...behaviour },
      })),
      aliases: new Map(),
      executed: new Map(),
      reserved: options.reserved,
      tags: options.tags,
      logGroup: `/aws/lambda/${options.name}`,
      demand: new Timeline(options.invocations),
      throttled: new Timeline(0),
      metrics: {
        invocations,
        errors: define('Errors', {
          kind: 'ratio',
          unit: 'Count',
          of: invocations,
          initial: behaviour.errorFraction,
        }),
        throttles: define('Throttles', { kind: 'count', unit: 'Count' }),
        duration: define('Duration', {
          kind: 'gauge',
          unit: 'Milliseconds',
          initial: behaviour.durationMs,
          noise: 0.05,
          sampleSeconds: 5,
          percentile: latencyPercentile,
        }),
        concurrent: define('ConcurrentExecutions', {
          kind: 'gauge',
          unit: 'Count',
          initial: (options.invocations * behaviour.durationMs) / 1_000,
          noise: 0.1,
          sampleSeconds: 5,
        }),
      },
    };
    if (options.alias) {
      fn.aliases.set(options.alias.name, {
        name: options.alias.name,
        version: options.alias.version,
        weights: {},
        description: options.alias.description,
        revisionId: uuidFrom(`${options.name}-${options.alias.name}-0`),
        history: [{ at: options.createdAt, version: options.alias.version, weights: {} }],
      });
      fn.invokedAlias = options.alias.name;
    }
    this.functions.set(fn.name, fn);
    this.account.logs
      .group(fn.logGroup, options.createdAt, 14)
      .addSource((from, to) => this.invocationLogs(fn, from, to));
    return fn;
  }

  /** A function by name, partial or full ARN (a qualifier is allowed on the ARN). */
  function(reference: string): LambdaFunction | undefined {
    const name = reference.startsWith('arn:')
      ? (reference.split(':')[6] ?? reference)
      : reference.split(':')[0]!;
    return this.functions.get(name);
  }

  version(fn: LambdaFunction, version: string): FunctionVersion | undefined {
    return fn.versions.find((candidate) => candidate.version === version);
  }

  /** Points an alias (at `at`, in the past for a scenario's history) and renews its revision. */
  pointAlias(
    fn: LambdaFunction,
    alias: Alias,
    version: string,
    weights: Record<string, number>,
    at: number,
  ): void {
    alias.version = version;
    alias.weights = { ...weights };
    alias.revisionId = uuidFrom(`${fn.name}-${alias.name}-${alias.history.length}-${at}`);
    while (alias.history.length > 0 && alias.history.at(-1)!.at > at) alias.history.pop();
    alias.history.push({ at, version, weights: { ...weights } });
  }

  /** The version an invocation through the alias ran, at `time`: by the alias's weights then. */
  private versionAt(fn: LambdaFunction, time: number, pick: number): string {
    const alias = fn.invokedAlias ? fn.aliases.get(fn.invokedAlias) : undefined;
    if (!alias) return '$LATEST';
    const state = [...alias.history].reverse().find((entry) => entry.at <= time) ?? alias.history[0]!;
    let cumulative = 0;
    for (const [version, weight] of Object.entries(state.weights)) {
      cumulative += weight;
      if (pick < cumulative) return version;
    }
    return state.version;
  }

  private behaviourOf(fn: LambdaFunction, version: string): VersionBehaviour {
    return version === '$LATEST' ? fn.latest : (this.version(fn, version)?.behaviour ?? fn.latest);
  }

  /** Concurrency a function may use now: its reservation, else the account's unreserved pool. */
  allowedConcurrency(fn: LambdaFunction): number {
    return fn.reserved ?? this.unreserved();
  }

  unreserved(): number {
    const reserved = [...this.functions.values()].reduce((sum, fn) => sum + (fn.reserved ?? 0), 0);
    return ACCOUNT_CONCURRENCY - reserved;
  }

  tick(now: number): void {
    for (const mapping of this.mappings.values())
      if (mapping.state === 'Updating' && now >= (mapping.updatingUntil ?? now)) mapping.state = 'Enabled';
    for (const fn of this.functions.values()) {
      const alias = fn.invokedAlias ? fn.aliases.get(fn.invokedAlias) : undefined;
      const shares: Array<[string, number]> = alias
        ? [
            [alias.version, 1 - Object.values(alias.weights).reduce((sum, weight) => sum + weight, 0)],
            ...Object.entries(alias.weights),
          ]
        : [['$LATEST', 1]];
      const errorFraction = shares.reduce(
        (sum, [version, share]) => sum + share * this.behaviourOf(fn, version).errorFraction,
        0,
      );
      const durationMs = shares.reduce(
        (sum, [version, share]) => sum + share * this.behaviourOf(fn, version).durationMs,
        0,
      );
      let invocations: number;
      let throttles = 0;
      let concurrency: number;
      if (fn.polled) {
        invocations = fn.polled.invocations;
        concurrency = fn.polled.concurrency;
      } else {
        const attempts = fn.demand.at(now);
        const demand = (attempts * durationMs) / 1_000;
        const allowed = this.allowedConcurrency(fn);
        const throttledShare = demand > allowed && demand > 0 ? (demand - allowed) / demand : 0;
        invocations = attempts * (1 - throttledShare);
        throttles = attempts * throttledShare;
        concurrency = Math.min(demand, allowed);
        fn.throttled.set(now, throttledShare);
      }
      fn.metrics.invocations.record(now, invocations);
      fn.metrics.errors.record(now, errorFraction);
      if (alias) this.recordExecutedVersions(fn, alias, shares, invocations, now);
      fn.metrics.throttles.record(now, throttles);
      fn.metrics.duration.record(now, durationMs);
      fn.metrics.concurrent.record(now, concurrency);
    }
  }

  /**
   * The alias's invocations split by the version each ran (as Lambda reports invocations through an
   * alias: FunctionName, Resource and ExecutedVersion); a version the alias no longer routes to gets none.
   */
  private recordExecutedVersions(
    fn: LambdaFunction,
    alias: Alias,
    shares: Array<[string, number]>,
    invocations: number,
    now: number,
  ): void {
    const routed = new Set<string>();
    for (const [version, share] of shares) {
      if (share <= 0) continue;
      const key = `${alias.name}:${version}`;
      routed.add(key);
      let series = fn.executed.get(key);
      if (!series) {
        const dimensions = {
          FunctionName: fn.name,
          Resource: `${fn.name}:${alias.name}`,
          ExecutedVersion: version,
        };
        const count = this.account.metrics.define(
          { namespace: 'AWS/Lambda', metricName: 'Invocations', dimensions },
          { kind: 'count', unit: 'Count', noise: 0.04, since: now },
        );
        series = {
          invocations: count,
          errors: this.account.metrics.define(
            { namespace: 'AWS/Lambda', metricName: 'Errors', dimensions },
            { kind: 'ratio', unit: 'Count', of: count, since: now },
          ),
        };
        fn.executed.set(key, series);
      }
      // A backdated tick (a scenario's past) may come after the first one: the series began then.
      for (const each of [series.invocations, series.errors])
        if (now < (each.options.since ?? now)) each.options.since = now;
      series.invocations.record(now, invocations * share);
      series.errors.record(now, this.behaviourOf(fn, version).errorFraction);
    }
    for (const [key, series] of fn.executed)
      if (key.startsWith(`${alias.name}:`) && !routed.has(key)) series.invocations.record(now, 0);
  }

  /** START, the function's own line (or its error), END and REPORT for every invocation in [from, to). */
  private *invocationLogs(fn: LambdaFunction, from: number, to: number): Generator<LogEvent> {
    const python = fn.runtime.startsWith('python');
    const streams = new Map<string, string>();
    // A stream per version and quarter hour, as Lambda's execution environments come and go.
    const streamOf = (second: number, version: string) => {
      const key = `${version}/${Math.floor(second / 900)}`;
      let stream = streams.get(key);
      if (!stream) {
        stream = `${new Date(second * 1_000).toISOString().slice(0, 10).replace(/-/g, '/')}/[${version}]${hexId(`${fn.name}-stream-${key}`, 32)}`;
        streams.set(key, stream);
      }
      return stream;
    };
    for (let second = Math.floor(from); second < to; second += 1) {
      const rate = fn.polled
        ? fn.metrics.invocations.level.at(second)
        : fn.demand.at(second) * (1 - fn.throttled.at(second));
      const count = Math.floor(rate) + (jitter(`${fn.name}-count`, second) * 0.5 + 0.5 < rate % 1 ? 1 : 0);
      for (let index = 0; index < count; index += 1) {
        const start = second + (index + 0.5) / Math.max(count, 1) - 0.5 / Math.max(count, 1) + 0.01;
        const pick = jitter(`${fn.name}-version-${index}`, second) * 0.5 + 0.5;
        const version = this.versionAt(fn, start, pick);
        const behaviour = this.behaviourOf(fn, version);
        const requestId = fastUuid(`${fn.name}-${second}-${index}`);
        const stream = streamOf(second, version);
        const failed = jitter(`${fn.name}-fails-${index}`, second) * 0.5 + 0.5 < behaviour.errorFraction;
        const duration =
          behaviour.durationMs * (0.7 + 0.6 * (jitter(`${fn.name}-duration-${index}`, second) * 0.5 + 0.5));
        const at = (offset: number) => start + offset / 1_000;
        const stamp = (offset: number) => new Date(Math.round(at(offset) * 1_000)).toISOString();
        yield { stream, time: at(0), message: `START RequestId: ${requestId} Version: ${version}` };
        if (failed && behaviour.error) {
          const { type, message, stack } = behaviour.error;
          yield {
            stream,
            time: at(duration - 2),
            message: python
              ? `[ERROR] ${type}: ${message}\nTraceback (most recent call last):\n${stack.join('\n')}`
              : `${stamp(duration - 2)}\t${requestId}\tERROR\tInvoke Error \t${JSON.stringify({ errorType: type, errorMessage: message, stack: [`${type}: ${message}`, ...stack] })}`,
          };
        } else if (fn.logLine && index % 4 === 0) {
          yield {
            stream,
            time: at(duration / 2),
            message: python
              ? `[INFO]\t${stamp(duration / 2)}\t${requestId}\t${fn.logLine(version)}`
              : `${stamp(duration / 2)}\t${requestId}\tINFO\t${fn.logLine(version)}`,
          };
        }
        yield { stream, time: at(duration), message: `END RequestId: ${requestId}` };
        yield {
          stream,
          time: at(duration + 0.5),
          message: `REPORT RequestId: ${requestId}\tDuration: ${duration.toFixed(2)} ms\tBilled Duration: ${Math.ceil(duration)} ms\tMemory Size: ${fn.memoryMb} MB\tMax Memory Used: ${Math.round(fn.memoryMb * 0.19 + (index % 7))} MB\t`,
        };
      }
    }
  }
}

// ------------------------------------------------------------------------------------------------ API

const ROUTES = [
  { method: 'GET', path: '/2015-03-31/functions/{FunctionName}', operation: 'GetFunction' },
  {
    method: 'GET',
    path: '/2015-03-31/functions/{FunctionName}/configuration',
    operation: 'GetFunctionConfiguration',
  },
  {
    method: 'GET',
    path: '/2015-03-31/functions/{FunctionName}/versions',
    operation: 'ListVersionsByFunction',
  },
  { method: 'GET', path: '/2015-03-31/functions/{FunctionName}/aliases', operation: 'ListAliases' },
  { method: 'GET', path: '/2015-03-31/functions/{FunctionName}/aliases/{Name}', operation: 'GetAlias' },
  { method: 'PUT', path: '/2015-03-31/functions/{FunctionName}/aliases/{Name}', operation: 'UpdateAlias' },
  {
    method: 'GET',
    path: '/2019-09-30/functions/{FunctionName}/concurrency',
    operation: 'GetFunctionConcurrency',
  },
  {
    method: 'PUT',
    path: '/2017-10-31/functions/{FunctionName}/concurrency',
    operation: 'PutFunctionConcurrency',
  },
  {
    method: 'DELETE',
    path: '/2017-10-31/functions/{FunctionName}/concurrency',
    operation: 'DeleteFunctionConcurrency',
  },
  { method: 'GET', path: '/2016-08-19/account-settings', operation: 'GetAccountSettings' },
  { method: 'GET', path: '/2015-03-31/event-source-mappings', operation: 'ListEventSourceMappings' },
  { method: 'GET', path: '/2015-03-31/event-source-mappings/{UUID}', operation: 'GetEventSourceMapping' },
  { method: 'PUT', path: '/2015-03-31/event-source-mappings/{UUID}', operation: 'UpdateEventSourceMapping' },
  { method: 'GET', path: '/2017-03-31/tags/{Resource}', operation: 'ListTags' },
];

function notFound(what: string): AwsError {
  return new AwsError('ResourceNotFoundException', what, 404);
}

function configuration(account: AwsAccount, fn: LambdaFunction, version = '$LATEST') {
  const published =
    version === '$LATEST' ? undefined : fn.versions.find((candidate) => candidate.version === version);
  return {
    FunctionName: fn.name,
    FunctionArn: version === '$LATEST' ? fn.arn : `${fn.arn}:${version}`,
    Runtime: fn.runtime,
    Role: `arn:aws:iam::${account.accountId}:role/${fn.name}`,
    Handler: fn.handler,
    CodeSize: 1_843_201,
    Description: published?.description ?? fn.description,
    Timeout: fn.timeoutSeconds,
    MemorySize: fn.memoryMb,
    LastModified: awsTime(published?.publishedAt ?? fn.lastModified),
    CodeSha256: published?.codeSha256 ?? fn.versions.at(-1)?.codeSha256 ?? '',
    Version: version,
    TracingConfig: { Mode: 'PassThrough' },
    RevisionId: uuidFrom(`${fn.name}-${version}-revision`),
    State: 'Active',
    LastUpdateStatus: 'Successful',
    PackageType: 'Zip',
    Architectures: ['arm64'],
    EphemeralStorage: { Size: 512 },
    SnapStart: { ApplyOn: 'None', OptimizationStatus: 'Off' },
    RuntimeVersionConfig: {
      RuntimeVersionArn: `arn:aws:lambda:${account.region}::runtime:${hexId(fn.runtime, 64)}`,
    },
    LoggingConfig: { LogFormat: 'Text', LogGroup: fn.logGroup },
  };
}

function aliasOutput(fn: LambdaFunction, alias: Alias) {
  return {
    AliasArn: `${fn.arn}:${alias.name}`,
    Name: alias.name,
    FunctionVersion: alias.version,
    Description: alias.description,
    ...(Object.keys(alias.weights).length > 0
      ? { RoutingConfig: { AdditionalVersionWeights: alias.weights } }
      : {}),
    RevisionId: alias.revisionId,
  };
}

function mappingOutput(account: AwsAccount, mapping: EventSourceMapping) {
  const fn = account.lambda.functions.get(mapping.functionName)!;
  return {
    UUID: mapping.uuid,
    BatchSize: mapping.batchSize,
    MaximumBatchingWindowInSeconds: 0,
    EventSourceArn: mapping.sourceArn,
    FunctionArn: fn.arn,
    LastModified: new Date(Math.round(mapping.lastModified * 1_000)),
    State: mapping.state,
    StateTransitionReason: 'USER_INITIATED',
    FunctionResponseTypes: ['ReportBatchItemFailures'],
    ...(mapping.maximumConcurrency === null
      ? {}
      : { ScalingConfig: { MaximumConcurrency: mapping.maximumConcurrency } }),
    EventSourceMappingArn: account.arn('lambda', `event-source-mapping:${mapping.uuid}`),
  };
}

function markerPage<T>(items: T[], query: URLSearchParams, scope: string) {
  const raw = query.get('MaxItems');
  const size = raw === null ? 50 : Number(raw);
  if (!Number.isInteger(size) || size < 1 || size > 10_000)
    throw new AwsError('InvalidParameterValueException', `MaxItems must be between 1 and 10000, not ${raw}`);
  return page(items, query.get('Marker') ?? undefined, size, scope, 'InvalidParameterValueException');
}

export function lambdaService(account: AwsAccount): ServiceDefinition {
  const model = account.lambda;
  const functionOf = (call: AwsCall) => {
    const reference = call.pathParameters.FunctionName ?? '';
    const fn = model.function(reference);
    if (!fn)
      throw notFound(
        `Function not found: ${reference.startsWith('arn:') ? reference : account.arn('lambda', `function:${reference}`)}`,
      );
    return fn;
  };
  return {
    name: 'lambda',
    protocol: 'rest-json',
    routes: ROUTES,
    handle(call: AwsCall) {
      const body = call.input;
      const now = call.now;
      switch (call.operation) {
        case 'GetFunction':
        case 'GetFunctionConfiguration': {
          const fn = functionOf(call);
          const qualifier =
            call.query.get('Qualifier') ?? call.pathParameters.FunctionName?.split(':').at(-1);
          let version = '$LATEST';
          if (qualifier && qualifier !== fn.name && qualifier !== '$LATEST') {
            const alias = fn.aliases.get(qualifier);
            version = alias ? alias.version : qualifier;
            if (!alias && !model.version(fn, qualifier))
              throw notFound(`Function not found: ${fn.arn}:${qualifier}`);
          }
          const config = configuration(account, fn, version);
          if (call.operation === 'GetFunctionConfiguration') return { body: config };
          return {
            body: {
              Configuration: config,
              Code: {
                RepositoryType: 'S3',
                Location: `https://awslambda-eu-west-1-tasks.s3.eu-west-1.amazonaws.com/snapshots/${account.accountId}/${fn.name}-${hexId(fn.name, 36)}`,
              },
              Tags: fn.tags,
              ...(fn.reserved === null ? {} : { Concurrency: { ReservedConcurrentExecutions: fn.reserved } }),
            },
          };
        }
        case 'ListVersionsByFunction': {
          const fn = functionOf(call);
          const all = [
            configuration(account, fn),
            ...fn.versions.map((version) => configuration(account, fn, version.version)),
          ];
          const { items, next } = markerPage(all, call.query, `lambda:versions:${fn.name}`);
          return { body: { Versions: items, ...(next ? { NextMarker: next } : {}) } };
        }
        case 'ListAliases': {
          const fn = functionOf(call);
          const version = call.query.get('FunctionVersion');
          const aliases = [...fn.aliases.values()].filter(
            (alias) => version === null || alias.version === version,
          );
          const { items, next } = markerPage(aliases, call.query, `lambda:aliases:${fn.name}`);
          return {
            body: {
              Aliases: items.map((alias) => aliasOutput(fn, alias)),
              ...(next ? { NextMarker: next } : {}),
            },
          };
        }
        case 'GetAlias': {
          const fn = functionOf(call);
          const alias = fn.aliases.get(call.pathParameters.Name ?? '');
          if (!alias) throw notFound(`Alias not found: ${fn.arn}:${call.pathParameters.Name}`);
          return { body: aliasOutput(fn, alias) };
        }
        case 'UpdateAlias': {
          const fn = functionOf(call);
          const alias = fn.aliases.get(call.pathParameters.Name ?? '');
          if (!alias) throw notFound(`Alias not found: ${fn.arn}:${call.pathParameters.Name}`);
          if (body.RevisionId !== undefined && body.RevisionId !== alias.revisionId)
            throw new AwsError(
              'PreconditionFailedException',
              'The Revision Id provided does not match the latest Revision Id. Call the GetAlias API to retrieve the latest Revision Id',
              412,
            );
          const version = body.FunctionVersion === undefined ? alias.version : String(body.FunctionVersion);
          if (version !== '$LATEST' && !model.version(fn, version))
            throw notFound(`Function not found: ${fn.arn}:${version}`);
          const routing = body.RoutingConfig as
            | { AdditionalVersionWeights?: Record<string, number> }
            | undefined;
          const weights =
            routing === undefined ? alias.weights : { ...(routing.AdditionalVersionWeights ?? {}) };
          const total = Object.values(weights).reduce((sum, weight) => sum + weight, 0);
          if (total >= 1 || Object.values(weights).some((weight) => weight < 0))
            throw new AwsError(
              'InvalidParameterValueException',
              'The sum of the additional version weights must be less than 1.0',
              400,
            );
          if (body.Description !== undefined) alias.description = String(body.Description);
          const before = alias.version;
          model.pointAlias(fn, alias, version, weights, now);
          account.note(
            `lambda: UpdateAlias ${fn.name}:${alias.name} ${before} → ${version}${total > 0 ? ` (+ weights ${JSON.stringify(weights)})` : ''}`,
          );
          return { body: aliasOutput(fn, alias) };
        }
        case 'GetFunctionConcurrency': {
          const fn = functionOf(call);
          return { body: fn.reserved === null ? {} : { ReservedConcurrentExecutions: fn.reserved } };
        }
        case 'PutFunctionConcurrency': {
          const fn = functionOf(call);
          const value = Number(body.ReservedConcurrentExecutions);
          if (!Number.isInteger(value) || value < 0)
            throw new AwsError(
              'InvalidParameterValueException',
              'ReservedConcurrentExecutions must be a non-negative integer',
              400,
            );
          const unreservedAfter = model.unreserved() + (fn.reserved ?? 0) - value;
          if (unreservedAfter < MINIMUM_UNRESERVED)
            throw new AwsError(
              'InvalidParameterValueException',
              `Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [${MINIMUM_UNRESERVED}].`,
              400,
            );
          const before = fn.reserved;
          fn.reserved = value;
          account.note(`lambda: PutFunctionConcurrency ${fn.name} ${before ?? 'none'} → ${value}`);
          return { body: { ReservedConcurrentExecutions: value } };
        }
        case 'DeleteFunctionConcurrency': {
          const fn = functionOf(call);
          fn.reserved = null;
          account.note(
            `lambda: DeleteFunctionConcurrency ${fn.name}: the function shares the unreserved pool`,
          );
          return { status: 204, body: undefined };
        }
        case 'GetAccountSettings':
          return {
            body: {
              AccountLimit: {
                TotalCodeSize: 80_530_636_800,
                CodeSizeUnzipped: 262_144_000,
                CodeSizeZipped: 52_428_800,
                ConcurrentExecutions: ACCOUNT_CONCURRENCY,
                UnreservedConcurrentExecutions: model.unreserved(),
              },
              AccountUsage: { TotalCodeSize: 23_914_388, FunctionCount: model.functions.size },
            },
          };
        case 'ListEventSourceMappings': {
          const source = call.query.get('EventSourceArn');
          const fnName = call.query.get('FunctionName');
          const fn = fnName === null ? undefined : model.function(fnName);
          const mappings = [...model.mappings.values()].filter(
            (mapping) =>
              (source === null || mapping.sourceArn === source) &&
              (fnName === null || mapping.functionName === fn?.name),
          );
          const { items, next } = markerPage(mappings, call.query, `lambda:mappings:${source}:${fnName}`);
          return {
            body: {
              EventSourceMappings: items.map((mapping) => mappingOutput(account, mapping)),
              ...(next ? { NextMarker: next } : {}),
            },
          };
        }
        case 'GetEventSourceMapping':
        case 'UpdateEventSourceMapping': {
          const mapping = model.mappings.get(call.pathParameters.UUID ?? '');
          if (!mapping)
            throw notFound(
              `The resource you requested does not exist. (Service: Lambda, Status Code: 404, Request ID: ${uuidFrom(String(now))})`,
            );
          if (call.operation === 'GetEventSourceMapping') return { body: mappingOutput(account, mapping) };
          if (mapping.state === 'Updating')
            throw new AwsError(
              'ResourceInUseException',
              `Cannot update the event source mapping because it is in use (state Updating). UUID: ${mapping.uuid}`,
              400,
            );
          const scaling = body.ScalingConfig as { MaximumConcurrency?: number } | undefined;
          if (scaling !== undefined) {
            const value = scaling.MaximumConcurrency;
            if (value !== undefined && (!Number.isInteger(value) || value < 2 || value > 1_000))
              throw new AwsError(
                'InvalidParameterValueException',
                'ScalingConfig.MaximumConcurrency must be between 2 and 1000',
                400,
              );
            const before = mapping.maximumConcurrency;
            mapping.maximumConcurrency = value ?? null;
            account.note(
              `lambda: UpdateEventSourceMapping ${mapping.uuid} MaximumConcurrency ${before ?? 'none'} → ${value ?? 'none'}`,
            );
          }
          if (body.BatchSize !== undefined) mapping.batchSize = Number(body.BatchSize);
          mapping.state = 'Updating';
          mapping.updatingUntil = now + MAPPING_UPDATE_SECONDS;
          mapping.lastModified = now;
          return { status: 202, body: mappingOutput(account, mapping) };
        }
        case 'ListTags': {
          const arn = call.pathParameters.Resource ?? '';
          const fn = model.function(arn);
          if (!fn || !arn.startsWith('arn:')) throw notFound(`Function not found: ${arn}`);
          return { body: { Tags: fn.tags } };
        }
        default:
          return undefined;
      }
    },
  };
}
