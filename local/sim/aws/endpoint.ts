import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { World } from '../world.ts';
import type { AwsAccount } from './account.ts';
import { apiGatewayService } from './apigateway.ts';
import { applicationAutoScalingService } from './application-autoscaling.ts';
import { autoScalingService } from './autoscaling.ts';
import { cloudWatchService } from './cloudwatch.ts';
import { dynamoDbService } from './dynamodb.ts';
import { ec2Service } from './ec2.ts';
import { ecsService } from './ecs.ts';
import { elastiCacheService } from './elasticache.ts';
import { elbv2Service } from './elbv2.ts';
import { lambdaService } from './lambda.ts';
import { logsService } from './logs.ts';
import {
  type AwsCall,
  AwsError,
  isForm,
  isSigned,
  matchRoute,
  type Protocol,
  readBody,
  type ServiceDefinition,
  sendAnswer,
  sendError,
  signatureScope,
} from './protocol.ts';
import { rdsService } from './rds.ts';
import { sqsService } from './sqs.ts';
import { SsmRunCommand } from './ssm.ts';

/**
 * The simulated account's single HTTP endpoint on 127.0.0.1: the demo points every AWS client of the
 * platform here. A request is recognised the way AWS's front ends tell services apart: the
 * `X-Amz-Target` prefix (AWS JSON), the `Action`/`Version` of a form body (Query and EC2 Query, with
 * the SigV4 scope's service as a fallback), or the REST path (Lambda, API Gateway). Every request must
 * be SigV4-signed (by anyone: nothing is checked against a key). Each service answers within a rate
 * (a token bucket), beyond which it throttles with its own error code, as AWS does. A service or an
 * operation it does not simulate gets that protocol's "unknown operation" error: nothing reaches AWS.
 * Scenarios inject faults per service and operation: failNext (throttling or a 5xx, N times), slowDown.
 */

export interface AwsRequest {
  at: string;
  /** The service's signing name, e.g. `ssm`, `elasticloadbalancing`; `unknown` when not recognised. */
  service: string;
  operation: string;
  /** The request: JSON body, form parameters, or for REST the method and path with the body. */
  body: unknown;
  status: number;
}

export interface EndpointOptions {
  /** Calls a second each service answers before it throttles (a burst of twice that); default 50. */
  requestsPerSecond?: number;
}

/**
 * A fault injected into the account (as FakeKubeApi's failNext): the next `times` matching calls are
 * answered with an error instead of the service's answer. `throttle` is the service's own throttling
 * error (what its rate limit answers); a status is a server error such as 500 or 503.
 */
export interface InjectedAwsFailure {
  /** The service's signing name: `apigateway`, `ec2`, `monitoring`, `elasticloadbalancing`…; default any. */
  service?: string;
  /** The API operation, e.g. `GetStage`, `DescribeInstances`; default any of the service's. */
  operation?: string;
  error: 'throttle' | { status: number; code?: string; message?: string };
  /** How many matching calls fail; default 1. */
  times?: number;
}

/** Matching calls are answered only after `ms` (a slow service: steps time out). */
export interface InjectedAwsDelay {
  service?: string;
  operation?: string;
  ms: number;
}

/** The error codes AWS answers server errors with: 503 means "try again", anything else an internal failure. */
const SERVER_ERRORS: Record<number, string> = { 503: 'ServiceUnavailable' };

function faultMatches(rule: { service?: string; operation?: string }, service: string, operation: string) {
  return (
    (rule.service === undefined || rule.service === service) &&
    (rule.operation === undefined || rule.operation === operation)
  );
}

/** What each service answers when a caller exceeds its rate. */
const THROTTLE: Record<string, { code: string; status: number; queryCode?: string }> = {
  ec2: { code: 'RequestLimitExceeded', status: 503 },
  lambda: { code: 'TooManyRequestsException', status: 429 },
  apigateway: { code: 'TooManyRequestsException', status: 429 },
  sqs: { code: 'RequestThrottled', status: 400, queryCode: 'RequestThrottled' },
  monitoring: { code: 'Throttling', status: 400, queryCode: 'Throttling' },
  dynamodb: { code: 'ThrottlingException', status: 400 },
  elasticloadbalancing: { code: 'Throttling', status: 400 },
  autoscaling: { code: 'Throttling', status: 400 },
  rds: { code: 'Throttling', status: 400 },
  elasticache: { code: 'Throttling', status: 400 },
};

const REQUESTS_KEPT = 5_000;

export class AwsEndpoint {
  readonly requests: AwsRequest[] = [];
  readonly services: ServiceDefinition[];
  /** Called with each signed call to a simulated service before it is answered (a scenario's trigger). */
  onRequest: ((call: { service: string; operation: string }) => void) | undefined;
  private readonly failures: Array<InjectedAwsFailure & { times: number }> = [];
  private readonly delays: InjectedAwsDelay[] = [];
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly rate: number;

  private constructor(
    private readonly account: AwsAccount,
    private readonly ssm: SsmRunCommand,
    private readonly server: Server,
    readonly url: string,
    options: EndpointOptions,
  ) {
    this.rate = options.requestsPerSecond ?? 50;
    this.services = [
      ssm.service(),
      cloudWatchService(account),
      logsService(account),
      ec2Service(account),
      autoScalingService(account),
      ecsService(account),
      lambdaService(account),
      elbv2Service(account),
      rdsService(account),
      sqsService(account),
      dynamoDbService(account),
      applicationAutoScalingService(account),
      apiGatewayService(account),
      elastiCacheService(account),
    ];
  }

  static async start(world: World, options: EndpointOptions = {}): Promise<AwsEndpoint> {
    let endpoint: AwsEndpoint | undefined;
    const server = createServer((request, response) => {
      endpoint!.handle(request, response).catch((error: unknown) => {
        if (!response.headersSent)
          sendError(response, 'json', new AwsError('InternalFailure', String(error), 500));
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    endpoint = new AwsEndpoint(
      world.aws,
      new SsmRunCommand(world),
      server,
      `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      options,
    );
    return endpoint;
  }

  async stop(): Promise<void> {
    this.ssm.stop();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The next `times` (default 1) matching calls fail with the injected error. */
  failNext(failure: InjectedAwsFailure): this {
    this.failures.push({ ...failure, times: failure.times ?? 1 });
    return this;
  }

  /** Matching calls are answered `ms` later, until the delay is cleared. */
  slowDown(delay: InjectedAwsDelay): this {
    this.delays.push(delay);
    return this;
  }

  /** Removes every injected failure and delay. */
  clearFaults(): void {
    this.failures.length = 0;
    this.delays.length = 0;
  }

  /** The error a matching injected failure answers (and counts down), or undefined. */
  private injected(service: string, operation: string): AwsError | undefined {
    const failure = this.failures.find((candidate) => faultMatches(candidate, service, operation));
    if (!failure) return undefined;
    failure.times -= 1;
    if (failure.times <= 0) this.failures.splice(this.failures.indexOf(failure), 1);
    if (failure.error === 'throttle') return this.throttled(service);
    const { status } = failure.error;
    const code = failure.error.code ?? SERVER_ERRORS[status] ?? 'InternalFailure';
    return new AwsError(code, failure.error.message ?? `injected ${status} ${code}`, status);
  }

  /** The service's own throttling error. */
  private throttled(service: string): AwsError {
    const throttle = THROTTLE[service] ?? { code: 'ThrottlingException', status: 400 };
    return new AwsError(
      throttle.code,
      'Rate exceeded',
      throttle.status,
      throttle.queryCode ? { queryCode: throttle.queryCode } : {},
    );
  }

  /** Takes a token from the service's bucket; false when it is empty. */
  private admit(service: string, now: number): boolean {
    const bucket = this.buckets.get(service) ?? { tokens: this.rate * 2, at: now };
    bucket.tokens = Math.min(this.rate * 2, bucket.tokens + (now - bucket.at) * this.rate);
    bucket.at = now;
    this.buckets.set(service, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  private record(service: string, operation: string, body: unknown, status: number): void {
    this.requests.push({ at: new Date().toISOString(), service, operation, body, status });
    if (this.requests.length > REQUESTS_KEPT) this.requests.splice(0, this.requests.length - REQUESTS_KEPT);
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const text = await readBody(request);
    const url = new URL(request.url ?? '/', this.url);
    const target = String(request.headers['x-amz-target'] ?? '');
    const scope = signatureScope(request);
    let service: ServiceDefinition | undefined;
    let operation = '';
    let input: Record<string, unknown> = {};
    let pathParameters: Record<string, string> = {};
    let protocol: Protocol = 'json';
    let recorded: unknown = text;

    if (target !== '') {
      const prefix = target.slice(0, target.indexOf('.'));
      operation = target.slice(prefix.length + 1);
      service = this.services.find((candidate) => candidate.target === prefix);
      protocol = 'json';
      try {
        input = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
        recorded = input;
      } catch {
        return this.fail(
          response,
          service,
          'json',
          operation,
          text,
          new AwsError('SerializationException', 'the body is not JSON'),
        );
      }
      if (!service) return this.refuse(response, 'json', `${prefix}:${operation}`, text);
    } else if (isForm(request)) {
      input = Object.fromEntries(new URLSearchParams(text));
      recorded = input;
      operation = String(input.Action ?? '');
      const version = String(input.Version ?? '');
      service =
        this.services.find((candidate) => candidate.version !== undefined && candidate.version === version) ??
        this.services.find(
          (candidate) => candidate.name === scope?.service && candidate.version !== undefined,
        );
      protocol = service?.protocol ?? (scope?.service === 'ec2' ? 'ec2' : 'query');
      if (!service)
        return this.refuse(
          response,
          protocol,
          `${scope?.service ?? 'unknown'}:${operation || 'unknown action'}`,
          text,
        );
    } else {
      const method = request.method ?? 'GET';
      for (const candidate of this.services) {
        if (!candidate.routes) continue;
        const matched = matchRoute(candidate.routes, method, url.pathname);
        if (
          matched &&
          (scope === undefined || scope.service === candidate.name || scope.service === 'execute-api')
        ) {
          service = candidate;
          operation = matched.route.operation;
          pathParameters = matched.parameters;
          break;
        }
      }
      protocol = 'rest-json';
      try {
        input = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
      } catch {
        return this.fail(
          response,
          service,
          'rest-json',
          operation,
          text,
          new AwsError('SerializationException', 'the body is not JSON'),
        );
      }
      recorded = {
        method,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        ...(text ? { body: input } : {}),
      };
      if (!service)
        return this.refuse(
          response,
          'rest-json',
          `${scope?.service ?? 'unknown'}:${method} ${url.pathname}`,
          recorded,
        );
    }

    if (!isSigned(request))
      return this.fail(
        response,
        service,
        protocol,
        operation,
        recorded,
        new AwsError('MissingAuthenticationToken', 'Request is missing Authentication Token', 403),
      );
    this.onRequest?.({ service: service.name, operation });
    const delayMs = this.delays.find((delay) => faultMatches(delay, service!.name, operation))?.ms ?? 0;
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    const injected = this.injected(service.name, operation);
    if (injected) return this.fail(response, service, protocol, operation, recorded, injected);
    const now = Date.now() / 1_000;
    if (!this.admit(service.name, now))
      return this.fail(response, service, protocol, operation, recorded, this.throttled(service.name));
    this.account.tick(now);
    const call: AwsCall = {
      service: service.name,
      operation,
      input,
      method: request.method ?? 'POST',
      path: url.pathname,
      query: url.searchParams,
      pathParameters,
      region: scope?.region,
      now,
    };
    try {
      const answer = await service.handle(call);
      if (!answer) {
        const code =
          protocol === 'query' || protocol === 'ec2' ? 'InvalidAction' : 'UnknownOperationException';
        return this.fail(
          response,
          service,
          protocol,
          operation,
          recorded,
          new AwsError(
            code,
            `${service.name}:${operation} is not simulated by the demo target's AWS account; nothing was sent to AWS`,
            400,
          ),
        );
      }
      this.record(service.name, operation, recorded, answer.status ?? 200);
      // A change shows in the models' levels (and CloudWatch) from the moment it was made.
      this.account.tick();
      sendAnswer(response, service, operation, answer);
    } catch (error) {
      if (!(error instanceof AwsError)) throw error;
      this.fail(response, service, protocol, operation, recorded, error);
    }
  }

  private fail(
    response: ServerResponse,
    service: ServiceDefinition | undefined,
    protocol: Protocol,
    operation: string,
    body: unknown,
    error: AwsError,
  ): void {
    this.record(service?.name ?? 'unknown', operation, body, error.status);
    sendError(response, protocol, error, {
      ...(service?.xmlns ? { xmlns: service.xmlns } : {}),
      ...(service?.jsonVersion ? { jsonVersion: service.jsonVersion } : {}),
      ...(service?.queryCompatible ? { queryCompatible: true } : {}),
    });
  }

  /** A service the account does not simulate: its protocol's unknown-operation error, and a note. */
  private refuse(response: ServerResponse, protocol: Protocol, name: string, body: unknown): void {
    const message = `the demo target's AWS account does not simulate ${name}; nothing was sent to AWS`;
    this.account.note(`aws: refused ${name} (not simulated)`);
    this.record('unknown', name, body, 400);
    sendError(
      response,
      protocol,
      new AwsError(
        protocol === 'ec2'
          ? 'UnsupportedOperation'
          : protocol === 'query'
            ? 'InvalidAction'
            : 'UnknownOperationException',
        message,
        400,
      ),
    );
  }
}
