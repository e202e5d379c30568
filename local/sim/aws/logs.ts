import { randomUUID } from 'node:crypto';
import type { AwsAccount } from './account.ts';
import { parseInsightsQuery, runInsightsQuery } from './logs-insights.ts';
import { type AwsCall, AwsError, page, type ServiceDefinition } from './protocol.ts';

/**
 * CloudWatch Logs: log groups whose events are written by the resource models as functions of time
 * (a Lambda function's START/END/REPORT and error lines for each invocation, a service's JSON lines),
 * so any window back reads the same every time and agrees with the metrics. FilterLogEvents applies
 * CloudWatch's filter pattern syntax (terms, "phrases", ?any, -exclusions, JSON `{ $.field = … }`);
 * Logs Insights runs the common commands (fields, filter, parse, stats … by, sort, limit, display,
 * dedup). API (AWS JSON 1.1): FilterLogEvents, StartQuery, GetQueryResults, StopQuery,
 * DescribeLogGroups.
 */

export interface LogEvent {
  stream: string;
  /** Seconds. */
  time: number;
  message: string;
}

export type LogSource = (from: number, to: number) => Iterable<LogEvent>;

export class LogGroup {
  private readonly sources: LogSource[] = [];

  constructor(
    readonly name: string,
    readonly createdAt: number,
    readonly retentionDays: number | undefined,
  ) {}

  addSource(source: LogSource): void {
    this.sources.push(source);
  }

  /**
   * The events in [from, to) that `keep` keeps (all by default), oldest first. Events are generated as
   * they are scanned and dropped unless kept: a window of a busy function costs time, not memory.
   */
  events(from: number, to: number, keep: (event: LogEvent) => boolean = () => true): LogEvent[] {
    const events: LogEvent[] = [];
    this.scan(from, to, (event) => {
      if (keep(event)) events.push(event);
    });
    return events.sort((a, b) => a.time - b.time || a.stream.localeCompare(b.stream));
  }

  /** Visits every event in [from, to) as its source generates it (source by source, unsorted). */
  scan(from: number, to: number, visit: (event: LogEvent) => void): void {
    for (const source of this.sources)
      for (const event of source(from, to)) if (event.time >= from && event.time < to) visit(event);
  }
}

export class LogStore {
  readonly groups = new Map<string, LogGroup>();

  group(name: string, createdAt: number, retentionDays?: number): LogGroup {
    let group = this.groups.get(name);
    if (!group) {
      group = new LogGroup(name, createdAt, retentionDays);
      this.groups.set(name, group);
    }
    return group;
  }
}

// ---------------------------------------------------------------------------------- filter patterns

type EventMatcher = (message: string) => boolean;

/** CloudWatch Logs filter pattern syntax, the forms the tools and runbooks use. */
export function filterPattern(pattern: string | undefined): EventMatcher {
  const text = (pattern ?? '').trim();
  if (text === '' || text === '""') return () => true;
  if (text.startsWith('{')) return jsonPattern(text);
  if (text.startsWith('['))
    throw new AwsError(
      'InvalidParameterException',
      'Invalid filter pattern: space-delimited [ … ] patterns are not simulated (terms, "phrases", ?any, -exclusions and JSON { $.field … } are)',
    );
  const all: string[] = [];
  const any: string[] = [];
  const none: string[] = [];
  const tokens = text.match(/[?-]?"(?:[^"\\]|\\.)*"|\S+/g) ?? [];
  for (const token of tokens) {
    const prefix = token[0] === '?' || token[0] === '-' ? token[0] : '';
    let term = prefix ? token.slice(1) : token;
    if (term.startsWith('"') && term.endsWith('"') && term.length >= 2)
      term = term.slice(1, -1).replace(/\\"/g, '"');
    if (term === '')
      throw new AwsError('InvalidParameterException', `Invalid filter pattern: empty term in ${text}`);
    if (prefix === '?') any.push(term);
    else if (prefix === '-') none.push(term);
    else all.push(term);
  }
  return (message) =>
    all.every((term) => message.includes(term)) &&
    (any.length === 0 || any.some((term) => message.includes(term))) &&
    none.every((term) => !message.includes(term));
}

function jsonPattern(text: string): EventMatcher {
  const body = /^\{\s*(.*?)\s*\}$/s.exec(text)?.[1];
  if (body === undefined) throw new AwsError('InvalidParameterException', `Invalid filter pattern: ${text}`);
  const disjuncts = body.split('||').map((part) =>
    part.split('&&').map((condition) => {
      const match = /^\s*\$\.([\w.[\]]+)\s*(=|!=|<=|>=|<|>)\s*(.+?)\s*$/.exec(condition);
      if (!match)
        throw new AwsError(
          'InvalidParameterException',
          `Invalid filter pattern: "${condition.trim()}" is not a $.field <op> value condition`,
        );
      const [, path, op, raw] = match as unknown as [string, string, string, string];
      const quoted = /^"(.*)"$/.exec(raw);
      return { path: path.split('.'), op, value: quoted ? quoted[1]! : raw, text: quoted !== null };
    }),
  );
  return (message) => {
    let document: unknown;
    try {
      document = JSON.parse(message);
    } catch {
      return false;
    }
    return disjuncts.some((conditions) =>
      conditions.every(({ path, op, value, text: isText }) => {
        const actual = path.reduce<unknown>(
          (node, key) =>
            node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined,
          document,
        );
        if (actual === undefined) return op === '!=';
        if (isText || op === '=' || op === '!=') {
          const pattern = new RegExp(`^${value.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
          const equal = pattern.test(String(actual));
          return op === '!=' ? !equal : equal;
        }
        const number = Number(actual);
        const limit = Number(value);
        return op === '<'
          ? number < limit
          : op === '>'
            ? number > limit
            : op === '<='
              ? number <= limit
              : number >= limit;
      }),
    );
  };
}

// ------------------------------------------------------------------------------------------------ API

interface RunningQuery {
  id: string;
  groups: string[];
  status: 'Scheduled' | 'Running' | 'Complete' | 'Failed' | 'Cancelled';
  readyAt: number;
  result: ReturnType<typeof runInsightsQuery>;
}

/** A query is Running this long before its results are Complete (Insights is asynchronous). */
const QUERY_SECONDS = 0.3;
const MAX_CONCURRENT_QUERIES = 30;

function groupNamed(account: AwsAccount, reference: unknown, what = 'log group'): LogGroup {
  const name = String(reference ?? '');
  const bare = name.startsWith('arn:')
    ? name.replace(/^arn:[^:]*:logs:[^:]*:\d+:log-group:/, '').replace(/:\*$/, '')
    : name;
  const group = account.logs.groups.get(bare);
  if (!group) throw new AwsError('ResourceNotFoundException', `The specified ${what} does not exist.`);
  return group;
}

export function logsService(account: AwsAccount): ServiceDefinition {
  const queries = new Map<string, RunningQuery>();
  return {
    name: 'logs',
    protocol: 'json',
    jsonVersion: '1.1',
    target: 'Logs_20140328',
    handle(call: AwsCall) {
      const input = call.input;
      const now = call.now;
      switch (call.operation) {
        case 'DescribeLogGroups': {
          const prefix = String(input.logGroupNamePrefix ?? '');
          const groups = [...account.logs.groups.values()].filter((group) => group.name.startsWith(prefix));
          const { items, next } = page(
            groups,
            input.nextToken as string | undefined,
            Number(input.limit ?? 50),
            'logs:groups',
            'InvalidParameterException',
          );
          return {
            body: {
              logGroups: items.map((group) => ({
                logGroupName: group.name,
                creationTime: Math.round(group.createdAt * 1_000),
                ...(group.retentionDays ? { retentionInDays: group.retentionDays } : {}),
                metricFilterCount: 0,
                arn: account.arn('logs', `log-group:${group.name}:*`),
                logGroupArn: account.arn('logs', `log-group:${group.name}`),
                storedBytes: 0,
                logGroupClass: 'STANDARD',
              })),
              ...(next ? { nextToken: next } : {}),
            },
          };
        }
        case 'FilterLogEvents': {
          const group = groupNamed(account, input.logGroupName ?? input.logGroupIdentifier);
          const limit = input.limit === undefined ? 10_000 : Number(input.limit);
          if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
            throw new AwsError(
              'InvalidParameterException',
              '1 validation error detected: limit must be between 1 and 10000',
            );
          const start = input.startTime === undefined ? group.createdAt : Number(input.startTime) / 1_000;
          const end = input.endTime === undefined ? now : Math.min(now, Number(input.endTime) / 1_000);
          const matches = filterPattern(input.filterPattern as string | undefined);
          const streams = Array.isArray(input.logStreamNames)
            ? (input.logStreamNames as string[])
            : undefined;
          const prefix =
            input.logStreamNamePrefix === undefined ? undefined : String(input.logStreamNamePrefix);
          const events = group.events(
            start,
            end,
            (event) =>
              (streams === undefined || streams.includes(event.stream)) &&
              (prefix === undefined || event.stream.startsWith(prefix)) &&
              matches(event.message),
          );
          const { items, next } = page(
            events,
            input.nextToken as string | undefined,
            limit,
            `logs:filter:${group.name}:${start}:${end}:${String(input.filterPattern)}`,
            'InvalidParameterException',
          );
          return {
            body: {
              events: items.map((event) => ({
                logStreamName: event.stream,
                timestamp: Math.round(event.time * 1_000),
                message: event.message,
                ingestionTime: Math.round(event.time * 1_000) + 312,
                eventId:
                  `${Math.round(event.time * 1_000)}${event.stream.length}${event.message.length}`.padEnd(
                    56,
                    '0',
                  ),
              })),
              searchedLogStreams: [],
              ...(next ? { nextToken: next } : {}),
            },
          };
        }
        case 'StartQuery': {
          const references = [
            ...(input.logGroupName === undefined ? [] : [input.logGroupName]),
            ...(Array.isArray(input.logGroupNames) ? (input.logGroupNames as string[]) : []),
            ...(Array.isArray(input.logGroupIdentifiers) ? (input.logGroupIdentifiers as string[]) : []),
          ];
          if (references.length === 0)
            throw new AwsError(
              'InvalidParameterException',
              'Either logGroupName, logGroupNames or logGroupIdentifiers must be given',
            );
          const groups = references.map((reference) =>
            groupNamed(account, reference, `log group ${String(reference)}`),
          );
          const running = [...queries.values()].filter(
            (query) => query.status === 'Running' && query.readyAt > now,
          );
          if (running.length >= MAX_CONCURRENT_QUERIES)
            throw new AwsError(
              'LimitExceededException',
              `Account maximum query concurrency limit of [${MAX_CONCURRENT_QUERIES}] reached.`,
            );
          const query = parseInsightsQuery(String(input.queryString ?? ''));
          const start = Number(input.startTime);
          const end = Number(input.endTime);
          if (!Number.isFinite(start) || !Number.isFinite(end) || end < start)
            throw new AwsError(
              'InvalidParameterException',
              'startTime and endTime must be epoch seconds with endTime after startTime',
            );
          const limit = input.limit === undefined ? 1_000 : Number(input.limit);
          const result = runInsightsQuery(query, groups, account.accountId, start, Math.min(end, now), limit);
          const id = randomUUID();
          queries.set(id, {
            id,
            groups: groups.map((group) => group.name),
            status: 'Running',
            readyAt: now + QUERY_SECONDS,
            result,
          });
          return { body: { queryId: id } };
        }
        case 'GetQueryResults': {
          const query = queries.get(String(input.queryId ?? ''));
          if (!query)
            throw new AwsError('ResourceNotFoundException', `Query ${String(input.queryId)} does not exist`);
          if (query.status === 'Running' && now >= query.readyAt) query.status = 'Complete';
          const complete = query.status === 'Complete';
          return {
            body: {
              queryLanguage: 'CWLI',
              results: complete ? query.result.rows : [],
              statistics: complete
                ? query.result.statistics
                : { recordsMatched: 0, recordsScanned: 0, bytesScanned: 0 },
              status: query.status,
            },
          };
        }
        case 'StopQuery': {
          const query = queries.get(String(input.queryId ?? ''));
          if (!query)
            throw new AwsError('ResourceNotFoundException', `Query ${String(input.queryId)} does not exist`);
          const stoppable = query.status === 'Running' && now < query.readyAt;
          if (stoppable) query.status = 'Cancelled';
          return { body: { success: stoppable } };
        }
        default:
          return undefined;
      }
    },
  };
}
