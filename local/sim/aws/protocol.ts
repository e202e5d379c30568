import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The wire protocols of the AWS SDK v3 clients the tools use, as the simulated account speaks them:
 *
 * - AWS JSON 1.0 / 1.1 (`POST /`, `X-Amz-Target: <prefix>.<Operation>`, JSON both ways; errors as
 *   `__type` and `x-amzn-errortype`, plus `x-amzn-query-error` for services that moved from the Query
 *   protocol and keep its error codes: SQS, CloudWatch);
 * - AWS Query (`Action=…&Version=…` form bodies, XML answers `<OpResponse><OpResult>` with `<member>`
 *   lists, errors as `<ErrorResponse>`): ELBv2, Auto Scaling, RDS, ElastiCache;
 * - EC2 Query (the same requests, XML answers without a Result wrapper, lowerCamel names, `<item>`
 *   lists, errors as `<Response><Errors>`);
 * - REST-JSON (the operation is the method and path; errors in `x-amzn-errortype`): Lambda, API Gateway.
 *
 * A service module answers operations with plain objects; this module reads requests and writes answers.
 */

export type Protocol = 'json' | 'query' | 'ec2' | 'rest-json';

/** An error as AWS answers it: its code, HTTP status and, for Query-compatible JSON services, the Query code. */
export class AwsError extends Error {
  override readonly name = 'AwsError';
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    readonly options: {
      queryCode?: string;
      fault?: 'Sender' | 'Receiver';
      headers?: Record<string, string>;
    } = {},
  ) {
    super(message);
  }
}

/** A call as a service module sees it. */
export interface AwsCall {
  service: string;
  operation: string;
  /** JSON protocols: the body; Query protocols: the form parameters, flat (`Names.member.1`). */
  input: Record<string, unknown>;
  /** REST: the method, the path's decoded segments and the query string. */
  method: string;
  path: string;
  query: URLSearchParams;
  /** REST: the path parameters the route matched. */
  pathParameters: Record<string, string>;
  region: string | undefined;
  /** The simulated account's time when the call arrived (seconds). */
  now: number;
}

/** What an operation answers: a body, and for REST an HTTP status other than 200. */
export interface AwsAnswer {
  status?: number;
  body: unknown;
}

/** A REST route: `GET /2015-03-31/functions/{FunctionName}/aliases/{Name}` → operation. */
export interface RestRoute {
  method: string;
  path: string;
  operation: string;
}

export interface ServiceDefinition {
  /** The service's name in requests, messages and records (its signing name): `elasticloadbalancing`. */
  name: string;
  protocol: Protocol;
  /** JSON: the X-Amz-Target prefix, e.g. `AmazonSQS`. */
  target?: string;
  /** Query: the API version it sends (`Version=`), which tells services with the same action names apart. */
  version?: string;
  /** Query and EC2: the XML namespace of the answers. */
  xmlns?: string;
  /** JSON: services that keep their Query error codes (`x-amzn-query-error`). */
  queryCompatible?: boolean;
  /** JSON: 1.0 or 1.1 (the content type). */
  jsonVersion?: '1.0' | '1.1';
  /** REST: the routes (longest literal prefix wins). */
  routes?: RestRoute[];
  /** Answers an operation; throws AwsError for AWS's errors. Unknown operations: undefined. */
  handle(call: AwsCall): AwsAnswer | Promise<AwsAnswer> | undefined;
}

// ------------------------------------------------------------------------------------------ requests

export async function readBody(request: IncomingMessage, limit = 1024 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > limit)
      throw new AwsError('RequestEntityTooLarge', `the request body is over ${limit} bytes`, 413);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The service and region a SigV4-signed request is for: `…/20260504/eu-west-1/ec2/aws4_request`. */
export function signatureScope(request: IncomingMessage): { service: string; region: string } | undefined {
  const match = /Credential=[^/,\s]+\/\d{8}\/([^/,\s]+)\/([^/,\s]+)\/aws4_request/.exec(
    String(request.headers.authorization ?? ''),
  );
  return match ? { region: match[1]!, service: match[2]! } : undefined;
}

export function isSigned(request: IncomingMessage): boolean {
  return String(request.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 Credential=');
}

export function isForm(request: IncomingMessage): boolean {
  return String(request.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
}

/** Matches a REST path against a route template; the parameters decoded. */
export function matchRoute(
  routes: readonly RestRoute[],
  method: string,
  pathname: string,
): { route: RestRoute; parameters: Record<string, string> } | undefined {
  const segments = pathname.split('/').filter((segment) => segment !== '');
  let best: { route: RestRoute; parameters: Record<string, string>; literals: number } | undefined;
  for (const route of routes) {
    if (route.method !== method) continue;
    const template = route.path.split('/').filter((segment) => segment !== '');
    if (template.length !== segments.length) continue;
    const parameters: Record<string, string> = {};
    let literals = 0;
    let ok = true;
    template.forEach((part, index) => {
      const segment = segments[index]!;
      const parameter = /^\{(\w+)\}$/.exec(part);
      if (parameter) parameters[parameter[1]!] = decodeURIComponent(segment);
      else if (part === segment) literals += 1;
      else ok = false;
    });
    if (ok && (!best || literals > best.literals)) best = { route, parameters, literals };
  }
  return best ? { route: best.route, parameters: best.parameters } : undefined;
}

// ----------------------------------------------------------------------------------- Query parameters

/** The values of a Query list `prefix.1`, `prefix.2`, … in order (`Names.member` or EC2's `InstanceId`). */
export function queryList(params: Record<string, unknown>, prefix: string): string[] {
  const values: Array<[number, string]> = [];
  const pattern = new RegExp(`^${escapeRegExp(prefix)}\\.(\\d+)$`);
  for (const [key, value] of Object.entries(params)) {
    const match = pattern.exec(key);
    if (match) values.push([Number(match[1]), String(value)]);
  }
  return values.sort((a, b) => a[0] - b[0]).map(([, value]) => value);
}

/** The structures of a Query list: `Filters.member.1.Name` → [{ Name }], each flat below its index. */
export function queryStructures(
  params: Record<string, unknown>,
  prefix: string,
): Array<Record<string, string>> {
  const items = new Map<number, Record<string, string>>();
  const pattern = new RegExp(`^${escapeRegExp(prefix)}\\.(\\d+)\\.(.+)$`);
  for (const [key, value] of Object.entries(params)) {
    const match = pattern.exec(key);
    if (!match) continue;
    const index = Number(match[1]);
    const item = items.get(index) ?? {};
    item[match[2]!] = String(value);
    items.set(index, item);
  }
  return [...items.entries()].sort((a, b) => a[0] - b[0]).map(([, item]) => item);
}

export function queryString(params: Record<string, unknown>, name: string): string | undefined {
  const value = params[name];
  return value === undefined ? undefined : String(value);
}

export function queryNumber(params: Record<string, unknown>, name: string): number | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isFinite(number))
    throw new AwsError('ValidationError', `${name}: "${String(value)}" is not a number`);
  return number;
}

export function queryBoolean(params: Record<string, unknown>, name: string): boolean | undefined {
  const value = params[name];
  return value === undefined ? undefined : String(value) === 'true';
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// ---------------------------------------------------------------------------------------------- XML

export function xmlText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A map in Query XML (`<entry><key/><value/></entry>`), told apart from a structure. */
export class XmlMap {
  constructor(readonly entries: Record<string, string>) {}
}

/** A Query list whose items have their own element name (RDS, ElastiCache: `<DBInstance>`, `<Tag>`). */
export class XmlList {
  constructor(
    readonly item: string,
    readonly items: readonly unknown[],
  ) {}
}

/** Elements for an object's members: arrays as `<member>` (Query) or `<item>` (EC2) lists. */
export function toXml(value: Record<string, unknown>, listItem: 'member' | 'item'): string {
  let out = '';
  for (const [name, member] of Object.entries(value)) out += element(name, member, listItem);
  return out;
}

function element(name: string, value: unknown, listItem: 'member' | 'item'): string {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) {
    if (value.length === 0) return `<${name}/>`;
    return `<${name}>${value.map((item) => element(listItem, item, listItem)).join('')}</${name}>`;
  }
  if (value instanceof XmlList) {
    if (value.items.length === 0) return `<${name}/>`;
    return `<${name}>${value.items.map((item) => element(value.item, item, listItem)).join('')}</${name}>`;
  }
  if (value instanceof XmlMap)
    return `<${name}>${Object.entries(value.entries)
      .map(([key, entry]) => `<entry><key>${xmlText(key)}</key><value>${xmlText(entry)}</value></entry>`)
      .join('')}</${name}>`;
  if (value instanceof Date) return `<${name}>${value.toISOString()}</${name}>`;
  if (typeof value === 'object')
    return `<${name}>${toXml(value as Record<string, unknown>, listItem)}</${name}>`;
  return `<${name}>${xmlText(String(value))}</${name}>`;
}

// ------------------------------------------------------------------------------------------ answers

/** JSON protocols send timestamps as epoch seconds (Date.toJSON has run by then: read the raw member). */
function toJson(body: unknown): string {
  return JSON.stringify(body, function replace(this: Record<string, unknown>, key: string, value: unknown) {
    const raw = this[key];
    return raw instanceof Date ? raw.getTime() / 1_000 : value;
  });
}

export function sendAnswer(
  response: ServerResponse,
  service: ServiceDefinition,
  operation: string,
  answer: AwsAnswer,
): void {
  const requestId = randomUUID();
  switch (service.protocol) {
    case 'json':
      response.writeHead(answer.status ?? 200, {
        'content-type': `application/x-amz-json-${service.jsonVersion ?? '1.1'}`,
        'x-amzn-requestid': requestId,
      });
      response.end(toJson(answer.body ?? {}));
      return;
    case 'rest-json':
      response.writeHead(answer.status ?? 200, {
        'content-type': 'application/json',
        'x-amzn-requestid': requestId,
      });
      response.end(answer.body === undefined ? '' : toJson(answer.body));
      return;
    case 'query': {
      const result =
        answer.body === undefined
          ? ''
          : `<${operation}Result>${toXml(answer.body as Record<string, unknown>, 'member')}</${operation}Result>`;
      response.writeHead(answer.status ?? 200, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
      response.end(
        `<?xml version="1.0" encoding="UTF-8"?>\n<${operation}Response xmlns="${service.xmlns}">${result}<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${operation}Response>`,
      );
      return;
    }
    case 'ec2':
      response.writeHead(answer.status ?? 200, {
        'content-type': 'text/xml;charset=UTF-8',
        'x-amzn-requestid': requestId,
      });
      response.end(
        `<?xml version="1.0" encoding="UTF-8"?>\n<${operation}Response xmlns="${service.xmlns}"><requestId>${requestId}</requestId>${toXml((answer.body ?? {}) as Record<string, unknown>, 'item')}</${operation}Response>`,
      );
      return;
  }
}

/** An error in the protocol's own shape, so the SDK raises the named error (`ResourceNotFoundException`…). */
export function sendError(
  response: ServerResponse,
  protocol: Protocol,
  error: AwsError,
  options: { xmlns?: string; jsonVersion?: '1.0' | '1.1'; queryCompatible?: boolean } = {},
): void {
  const requestId = randomUUID();
  const fault = error.options.fault ?? (error.status >= 500 ? 'Receiver' : 'Sender');
  const headers = { 'x-amzn-requestid': requestId, ...error.options.headers };
  switch (protocol) {
    case 'json':
      response.writeHead(error.status, {
        ...headers,
        'content-type': `application/x-amz-json-${options.jsonVersion ?? '1.1'}`,
        'x-amzn-errortype': error.code,
        ...(options.queryCompatible
          ? { 'x-amzn-query-error': `${error.options.queryCode ?? error.code};${fault}` }
          : {}),
      });
      response.end(JSON.stringify({ __type: error.code, message: error.message }));
      return;
    case 'rest-json':
      response.writeHead(error.status, {
        ...headers,
        'content-type': 'application/json',
        'x-amzn-errortype': error.code,
      });
      response.end(JSON.stringify({ Type: fault === 'Sender' ? 'User' : 'Service', message: error.message }));
      return;
    case 'query':
      response.writeHead(error.status, { ...headers, 'content-type': 'text/xml' });
      response.end(
        `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse${options.xmlns ? ` xmlns="${options.xmlns}"` : ''}><Error><Type>${fault}</Type><Code>${xmlText(error.code)}</Code><Message>${xmlText(error.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
      );
      return;
    case 'ec2':
      response.writeHead(error.status, { ...headers, 'content-type': 'text/xml;charset=UTF-8' });
      response.end(
        `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${xmlText(error.code)}</Code><Message>${xmlText(error.message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`,
      );
      return;
  }
}

// ---------------------------------------------------------------------------------------- pagination

/** An opaque page token: the offset into a list, so the next call continues where this one stopped. */
export function pageToken(offset: number, scope: string): string {
  return Buffer.from(JSON.stringify({ offset, scope })).toString('base64url');
}

/** The offset a token names; a token of another list or a forged one is the service's validation error. */
export function tokenOffset(
  token: string | undefined,
  scope: string,
  code = 'InvalidNextTokenException',
): number {
  if (token === undefined || token === '') return 0;
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as {
      offset?: unknown;
      scope?: unknown;
    };
    if (parsed.scope === scope && typeof parsed.offset === 'number' && parsed.offset >= 0)
      return parsed.offset;
  } catch {
    // falls through to the error
  }
  throw new AwsError(code, 'The pagination token is invalid or does not belong to this request.');
}

/** One page of `items` from the token's offset; `next` is undefined on the last page. */
export function page<T>(
  items: readonly T[],
  token: string | undefined,
  size: number,
  scope: string,
  code?: string,
): { items: T[]; next: string | undefined } {
  const offset = tokenOffset(token, scope, code);
  const slice = items.slice(offset, offset + size);
  const end = offset + slice.length;
  return { items: slice, next: end < items.length ? pageToken(end, scope) : undefined };
}
