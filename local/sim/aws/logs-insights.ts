import type { LogGroup } from './logs.ts';
import { AwsError } from './protocol.ts';

/**
 * A CloudWatch Logs Insights subset: `fields`, `display`, `filter` (like /regex/ or "text", =~,
 * comparisons, in [...], and/or/not, ispresent, isempty), `parse` (a /regex/ with named groups, or a
 * "glob * pattern" as names), `stats` (count, sum, avg, min, max, count_distinct, pct … by fields or
 * bin(5m)), `sort`, `limit` and `dedup`. Discovered fields: @timestamp, @message, @logStream, @log,
 * the keys of JSON messages, and Lambda's REPORT fields (@type, @requestId, @duration,
 * @billedDuration, @maxMemoryUsed, @memorySize). Anything else is a MalformedQueryException naming it.
 */

type Value = string | number | undefined;
type Row = Record<string, Value>;

type Expression =
  | { kind: 'field'; name: string }
  | { kind: 'literal'; value: string | number }
  | { kind: 'regex'; regex: RegExp }
  | { kind: 'list'; items: Array<string | number> }
  | { kind: 'compare'; op: string; left: Expression; right: Expression }
  | { kind: 'and' | 'or'; left: Expression; right: Expression }
  | { kind: 'not'; operand: Expression }
  | { kind: 'call'; name: string; args: Expression[] };

type Aggregate = { fn: string; field?: string; arg?: number; as: string };
type GroupKey = { field: string } | { bin: number; as: string };

type Command =
  | { kind: 'fields' | 'display'; fields: string[] }
  | { kind: 'filter'; expression: Expression }
  | { kind: 'parse'; field: string; regex: RegExp; names: string[] }
  | { kind: 'stats'; aggregates: Aggregate[]; by: GroupKey[] }
  | { kind: 'sort'; keys: Array<{ field: string; descending: boolean }> }
  | { kind: 'limit'; count: number }
  | { kind: 'dedup'; fields: string[] };

export interface InsightsQuery {
  text: string;
  commands: Command[];
}

function malformed(message: string): never {
  throw new AwsError('MalformedQueryException', message);
}

/** Splits at top-level pipes: not inside quotes or /regex/. */
function commandsOf(text: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quote: string | undefined;
  for (let index = 0; index < text.length; index += 1) {
    const char = text[index]!;
    if (quote) {
      current += char;
      if (char === '\\') {
        current += text[index + 1] ?? '';
        index += 1;
      } else if (char === quote) quote = undefined;
      continue;
    }
    if (char === '"' || char === "'" || char === '`') quote = char;
    else if (char === '/' && /(like|=~|parse\s+\S+|[(,])\s*$/.test(current)) quote = '/';
    if (char === '|' && !quote) {
      parts.push(current.trim());
      current = '';
      continue;
    }
    current += char;
  }
  if (quote) malformed(`unterminated ${quote === '/' ? 'regular expression' : 'string'} in the query`);
  parts.push(current.trim());
  return parts.filter((part) => part !== '');
}

/** `/…/flags` → RegExp; Insights' (?i) prefix becomes the i flag (JavaScript has no inline flags). */
function regexOf(literal: string): RegExp {
  const match = /^\/(.*)\/([a-z]*)$/s.exec(literal);
  if (!match) malformed(`${literal} is not a /regular expression/`);
  let source = match[1]!.replace(/\\\//g, '/');
  let flags = match[2]!.replace(/[^ims]/g, '');
  if (source.startsWith('(?i)')) {
    source = source.slice(4);
    if (!flags.includes('i')) flags += 'i';
  }
  try {
    return new RegExp(source, flags);
  } catch (error) {
    return malformed(`invalid regular expression ${literal}: ${(error as Error).message}`);
  }
}

// ------------------------------------------------------------------------------------- expressions

class Tokens {
  private readonly list: string[];
  private index = 0;

  constructor(text: string) {
    this.list =
      text.match(
        /\/(?:[^/\\]|\\.)+\/[a-z]*|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`|<=|>=|!=|=~|[=<>(),[\]]|[^\s=<>(),[\]!]+|!/g,
      ) ?? [];
  }

  peek(): string | undefined {
    return this.list[this.index];
  }

  next(): string {
    const token = this.list[this.index];
    if (token === undefined) malformed('the filter expression ends too early');
    this.index += 1;
    return token;
  }

  done(): boolean {
    return this.index >= this.list.length;
  }
}

function fieldName(token: string): string {
  return token.startsWith('`') ? token.slice(1, -1) : token;
}

function parseExpression(text: string): Expression {
  const tokens = new Tokens(text);
  const expression = parseOr(tokens);
  if (!tokens.done()) malformed(`unexpected "${tokens.peek()}" in filter ${text}`);
  return expression;
}

function parseOr(tokens: Tokens): Expression {
  let left = parseAnd(tokens);
  while (tokens.peek()?.toLowerCase() === 'or') {
    tokens.next();
    left = { kind: 'or', left, right: parseAnd(tokens) };
  }
  return left;
}

function parseAnd(tokens: Tokens): Expression {
  let left = parseUnary(tokens);
  while (tokens.peek()?.toLowerCase() === 'and') {
    tokens.next();
    left = { kind: 'and', left, right: parseUnary(tokens) };
  }
  return left;
}

function parseUnary(tokens: Tokens): Expression {
  if (tokens.peek()?.toLowerCase() === 'not' || tokens.peek() === '!') {
    tokens.next();
    return { kind: 'not', operand: parseUnary(tokens) };
  }
  return parseComparison(tokens);
}

function parseComparison(tokens: Tokens): Expression {
  const left = parseOperand(tokens);
  const op = tokens.peek()?.toLowerCase();
  if (op === 'not') {
    tokens.next();
    const what = tokens.next().toLowerCase();
    if (what !== 'like' && what !== 'in') malformed(`"not ${what}" is not an operator`);
    return { kind: 'not', operand: { kind: 'compare', op: what, left, right: parseOperand(tokens) } };
  }
  if (op && ['like', '=~', '=', '!=', '<', '<=', '>', '>=', 'in'].includes(op)) {
    tokens.next();
    return { kind: 'compare', op: op === '=~' ? 'like' : op, left, right: parseOperand(tokens) };
  }
  return left;
}

function parseOperand(tokens: Tokens): Expression {
  const token = tokens.next();
  if (token === '(') {
    const inner = parseOr(tokens);
    if (tokens.next() !== ')') malformed('a parenthesis is not closed');
    return inner;
  }
  if (token === '[') {
    const items: Array<string | number> = [];
    while (tokens.peek() !== ']') {
      const item = tokens.next();
      if (item === ',') continue;
      items.push(
        /^["']/.test(item) ? item.slice(1, -1) : Number.isFinite(Number(item)) ? Number(item) : item,
      );
    }
    tokens.next();
    return { kind: 'list', items };
  }
  if (token.startsWith('/') && token.length > 1) return { kind: 'regex', regex: regexOf(token) };
  if (/^["']/.test(token)) return { kind: 'literal', value: token.slice(1, -1).replace(/\\(["'])/g, '$1') };
  if (/^-?\d+(\.\d+)?$/.test(token)) return { kind: 'literal', value: Number(token) };
  if (tokens.peek() === '(') {
    tokens.next();
    const args: Expression[] = [];
    while (tokens.peek() !== ')') {
      if (tokens.peek() === ',') {
        tokens.next();
        continue;
      }
      args.push(parseOr(tokens));
    }
    tokens.next();
    const name = token.toLowerCase();
    if (!['ispresent', 'isempty', 'isblank', 'strcontains', 'tolower', 'toupper'].includes(name))
      malformed(
        `the function ${token}() is not simulated (ispresent, isempty, isblank, strcontains, tolower, toupper are)`,
      );
    return { kind: 'call', name, args };
  }
  return { kind: 'field', name: fieldName(token) };
}

function evaluate(expression: Expression, row: Row): Value | boolean | RegExp | Array<string | number> {
  switch (expression.kind) {
    case 'field':
      return row[expression.name];
    case 'literal':
      return expression.value;
    case 'regex':
      return expression.regex;
    case 'list':
      return expression.items;
    case 'and':
      return truthy(evaluate(expression.left, row)) && truthy(evaluate(expression.right, row));
    case 'or':
      return truthy(evaluate(expression.left, row)) || truthy(evaluate(expression.right, row));
    case 'not':
      return !truthy(evaluate(expression.operand, row));
    case 'call': {
      const value = expression.args[0] ? evaluate(expression.args[0], row) : undefined;
      if (expression.name === 'ispresent') return value !== undefined;
      if (expression.name === 'isempty') return value === undefined || value === '';
      if (expression.name === 'isblank') return value === undefined || String(value).trim() === '';
      if (expression.name === 'tolower') return value === undefined ? undefined : String(value).toLowerCase();
      if (expression.name === 'toupper') return value === undefined ? undefined : String(value).toUpperCase();
      const needle = expression.args[1] ? evaluate(expression.args[1], row) : '';
      return value !== undefined && String(value).includes(String(needle));
    }
    case 'compare': {
      const left = evaluate(expression.left, row);
      const right = evaluate(expression.right, row);
      if (left === undefined) return false;
      switch (expression.op) {
        case 'like':
          return right instanceof RegExp ? right.test(String(left)) : String(left).includes(String(right));
        case 'in':
          return Array.isArray(right) && right.some((item) => String(item) === String(left));
        case '=':
          return String(left) === String(right);
        case '!=':
          return String(left) !== String(right);
        default: {
          const a = Number(left);
          const b = Number(right);
          if (!Number.isFinite(a) || !Number.isFinite(b)) return false;
          return expression.op === '<'
            ? a < b
            : expression.op === '<='
              ? a <= b
              : expression.op === '>'
                ? a > b
                : a >= b;
        }
      }
    }
  }
}

function truthy(value: unknown): boolean {
  return (
    value === true ||
    (typeof value === 'number' && value !== 0) ||
    (typeof value === 'string' && value !== '')
  );
}

// ------------------------------------------------------------------------------------------ commands

function list(text: string): string[] {
  return text
    .split(',')
    .map((part) => fieldName(part.trim()))
    .filter((part) => part !== '');
}

function parseStats(text: string): Command {
  const [aggregatesText, byText] = text.split(/\s+by\s+/i) as [string, string | undefined];
  const aggregates: Aggregate[] = [];
  for (const part of splitTopLevel(aggregatesText)) {
    const match = /^(\w+)\(\s*([^,)]*?)\s*(?:,\s*([\d.]+)\s*)?\)(?:\s+as\s+(\S+))?$/i.exec(part.trim());
    if (!match) malformed(`stats: "${part.trim()}" is not an aggregation such as count(*) as n`);
    const fn = match[1]!.toLowerCase();
    if (!['count', 'sum', 'avg', 'min', 'max', 'count_distinct', 'pct'].includes(fn))
      malformed(
        `stats: the function ${match[1]}() is not simulated (count, sum, avg, min, max, count_distinct, pct are)`,
      );
    const field = match[2] === '' || match[2] === '*' ? undefined : fieldName(match[2]!);
    aggregates.push({
      fn,
      ...(field ? { field } : {}),
      ...(match[3] ? { arg: Number(match[3]) } : {}),
      as: match[4] ? fieldName(match[4]) : `${match[1]}(${match[2]}${match[3] ? `, ${match[3]}` : ''})`,
    });
  }
  const by: GroupKey[] = [];
  for (const part of byText ? splitTopLevel(byText) : []) {
    const bin = /^bin\(\s*(\d+)\s*([smhd])\s*\)(?:\s+as\s+(\S+))?$/i.exec(part.trim());
    if (bin) {
      const seconds =
        Number(bin[1]) * { s: 1, m: 60, h: 3_600, d: 86_400 }[bin[2]!.toLowerCase() as 's' | 'm' | 'h' | 'd'];
      by.push({ bin: seconds, as: bin[3] ?? `bin(${bin[1]}${bin[2]})` });
    } else by.push({ field: fieldName(part.trim()) });
  }
  return { kind: 'stats', aggregates, by };
}

function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of text) {
    if (char === '(') depth += 1;
    if (char === ')') depth -= 1;
    if (char === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += char;
  }
  if (current.trim() !== '') parts.push(current);
  return parts;
}

export function parseInsightsQuery(text: string): InsightsQuery {
  if (text.trim() === '') malformed('the query string is empty');
  const commands: Command[] = [];
  for (const part of commandsOf(text)) {
    const match = /^(\w+)\s*(.*)$/s.exec(part);
    const name = match?.[1]?.toLowerCase();
    const rest = match?.[2]?.trim() ?? '';
    switch (name) {
      case 'fields':
      case 'display':
        if (/\(/.test(rest)) malformed(`${name}: expressions in ${name} are not simulated; name fields only`);
        commands.push({ kind: name, fields: list(rest) });
        break;
      case 'filter':
        commands.push({ kind: 'filter', expression: parseExpression(rest) });
        break;
      case 'parse': {
        const regexForm = /^(\S+)\s+(\/.*\/[a-z]*)$/s.exec(rest);
        if (regexForm) {
          const regex = regexOf(regexForm[2]!);
          const names = [...regexForm[2]!.matchAll(/\(\?<(\w+)>/g)].map((group) => group[1]!);
          if (names.length === 0) malformed('parse: the regular expression names no group (?<name>…)');
          commands.push({ kind: 'parse', field: fieldName(regexForm[1]!), regex, names });
          break;
        }
        const globForm = /^(\S+)\s+"((?:[^"\\]|\\.)*)"\s+as\s+(.+)$/s.exec(rest);
        if (!globForm)
          malformed('parse: expected parse FIELD /regex/ or parse FIELD "glob * pattern" as a, b');
        const names = list(globForm[3]!);
        const source = globForm[2]!
          .split('*')
          .map((piece) => piece.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
          .join('(.*?)');
        const regex = new RegExp(source, 's');
        commands.push({ kind: 'parse', field: fieldName(globForm[1]!), regex, names });
        break;
      }
      case 'stats':
        commands.push(parseStats(rest));
        break;
      case 'sort':
        commands.push({
          kind: 'sort',
          keys: rest.split(',').map((key) => {
            const [field, order] = key.trim().split(/\s+/) as [string, string | undefined];
            return { field: fieldName(field), descending: (order ?? 'desc').toLowerCase() !== 'asc' };
          }),
        });
        break;
      case 'limit': {
        const count = Number(rest);
        if (!Number.isInteger(count) || count < 1 || count > 10_000)
          malformed(`limit: ${rest} is not a number from 1 to 10000`);
        commands.push({ kind: 'limit', count });
        break;
      }
      case 'dedup':
        commands.push({ kind: 'dedup', fields: list(rest) });
        break;
      default:
        malformed(
          `the command "${match?.[1] ?? part}" is not simulated (fields, display, filter, parse, stats, sort, limit and dedup are)`,
        );
    }
  }
  return { text, commands };
}

// --------------------------------------------------------------------------------------------- run

function timestampText(seconds: number): string {
  return new Date(Math.round(seconds * 1_000)).toISOString().replace('T', ' ').replace('Z', '');
}

/** The fields Insights discovers in an event. */
function recordOf(
  event: { stream: string; time: number; message: string },
  group: LogGroup,
  account: string,
): Row {
  const row: Row = {
    '@timestamp': timestampText(event.time),
    '@message': event.message,
    '@logStream': event.stream,
    '@log': `${account}:${group.name}`,
    '@ingestionTime': timestampText(event.time + 0.312),
  };
  const message = event.message.trim();
  if (message.startsWith('{')) {
    try {
      const document = JSON.parse(message) as Record<string, unknown>;
      const flatten = (value: unknown, prefix: string) => {
        if (value && typeof value === 'object' && !Array.isArray(value))
          for (const [key, inner] of Object.entries(value as Record<string, unknown>))
            flatten(inner, prefix ? `${prefix}.${key}` : key);
        else if (prefix)
          row[prefix] =
            typeof value === 'number' ? value : typeof value === 'string' ? value : JSON.stringify(value);
      };
      flatten(document, '');
    } catch {
      // Not JSON after all: only the message.
    }
  }
  const report =
    /^REPORT RequestId: (\S+)\s+Duration: ([\d.]+) ms\s+Billed Duration: (\d+) ms\s+Memory Size: (\d+) MB\s+Max Memory Used: (\d+) MB/.exec(
      message,
    );
  if (report) {
    row['@type'] = 'REPORT';
    row['@requestId'] = report[1];
    row['@duration'] = Number(report[2]);
    row['@billedDuration'] = Number(report[3]);
    row['@memorySize'] = Number(report[4]) * 1_000_000;
    row['@maxMemoryUsed'] = Number(report[5]) * 1_000_000;
  }
  return row;
}

function compareValues(a: Value, b: Value): number {
  if (a === b) return 0;
  if (a === undefined) return -1;
  if (b === undefined) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b));
}

function aggregateOf(rows: Row[], aggregate: Aggregate): number | undefined {
  const values =
    aggregate.field === undefined
      ? []
      : rows.map((row) => row[aggregate.field!]).filter((value) => value !== undefined);
  const numbers = values.map(Number).filter((value) => Number.isFinite(value));
  switch (aggregate.fn) {
    case 'count':
      return aggregate.field === undefined ? rows.length : values.length;
    case 'count_distinct':
      return new Set(values.map(String)).size;
    case 'sum':
      return numbers.reduce((sum, value) => sum + value, 0);
    case 'avg':
      return numbers.length === 0
        ? undefined
        : numbers.reduce((sum, value) => sum + value, 0) / numbers.length;
    case 'min':
      return numbers.length === 0 ? undefined : Math.min(...numbers);
    case 'max':
      return numbers.length === 0 ? undefined : Math.max(...numbers);
    default: {
      if (numbers.length === 0) return undefined;
      const sorted = [...numbers].sort((a, b) => a - b);
      return sorted[
        Math.min(sorted.length - 1, Math.max(0, Math.ceil(((aggregate.arg ?? 50) / 100) * sorted.length) - 1))
      ];
    }
  }
}

/** A parse or filter command on one row: false when a filter drops it (a parse never does). */
function rowCommand(command: Command, row: Row): boolean {
  if (command.kind === 'filter') return truthy(evaluate(command.expression, row));
  if (command.kind !== 'parse') return true;
  const value = row[command.field];
  if (value === undefined) return true;
  const match = command.regex.exec(String(value));
  if (!match) return true;
  if (match.groups) {
    for (const name of command.names) if (match.groups[name] !== undefined) row[name] = match.groups[name];
  } else for (const [index, name] of command.names.entries()) row[name] = match[index + 1];
  return true;
}

export interface InsightsResult {
  rows: Array<Array<{ field: string; value: string }>>;
  statistics: { recordsMatched: number; recordsScanned: number; bytesScanned: number };
}

export function runInsightsQuery(
  query: InsightsQuery,
  groups: LogGroup[],
  account: string,
  start: number,
  end: number,
  limit: number,
): InsightsResult {
  let scanned = 0;
  let bytes = 0;
  let rows: Row[] = [];
  let pointer = 0;
  let projection: string[] | undefined;
  const project = (command: Extract<Command, { kind: 'fields' | 'display' }>) => {
    projection =
      command.kind === 'display' || !projection ? command.fields : [...projection, ...command.fields];
  };
  // The leading parse/filter commands run on each event as it is scanned: only what passes is kept.
  const rowWise = query.commands.findIndex(
    (command) => !['fields', 'display', 'parse', 'filter'].includes(command.kind),
  );
  const leading = query.commands.slice(0, rowWise === -1 ? query.commands.length : rowWise);
  const rest = query.commands.slice(leading.length);
  for (const command of leading)
    if (command.kind === 'fields' || command.kind === 'display') project(command);
  for (const group of groups)
    group.scan(start, end, (event) => {
      scanned += 1;
      bytes += Buffer.byteLength(event.message) + 64;
      const row = recordOf(event, group, account);
      for (const command of leading) if (!rowCommand(command, row)) return;
      row['@ptr'] =
        `Cm0KJgoiMjIyMjIyMjIyMjIyOi${Buffer.from(`${group.name}:${pointer++}`).toString('base64url')}`;
      rows.push(row);
    });
  let aggregated = false;
  let rowLimit = Math.min(limit, 10_000);
  let sorted = false;
  let matchedBeforeStats: number | undefined;
  for (const command of rest) {
    switch (command.kind) {
      case 'fields':
      case 'display':
        project(command);
        break;
      case 'filter':
      case 'parse':
        rows = rows.filter((row) => rowCommand(command, row));
        break;
      case 'stats': {
        matchedBeforeStats = rows.length;
        const groupsOf = new Map<string, Row[]>();
        const keyOf = (row: Row) =>
          command.by.map((key) => {
            if ('field' in key) return row[key.field];
            const seconds = Date.parse(`${String(row['@timestamp']).replace(' ', 'T')}Z`) / 1_000;
            return timestampText(Math.floor(seconds / key.bin) * key.bin);
          });
        for (const row of rows) {
          const key = JSON.stringify(keyOf(row));
          const list = groupsOf.get(key) ?? [];
          list.push(row);
          groupsOf.set(key, list);
        }
        const output: Row[] = [];
        for (const [key, members] of groupsOf) {
          const values = JSON.parse(key) as Value[];
          const row: Row = {};
          for (const [index, group] of command.by.entries())
            row['field' in group ? group.field : group.as] = values[index] ?? undefined;
          for (const aggregate of command.aggregates) row[aggregate.as] = aggregateOf(members, aggregate);
          output.push(row);
        }
        if (command.by.length === 0 && output.length === 0) {
          const row: Row = {};
          for (const aggregate of command.aggregates) row[aggregate.as] = aggregateOf([], aggregate);
          output.push(row);
        }
        rows = output;
        projection = [
          ...command.by.map((group) => ('field' in group ? group.field : group.as)),
          ...command.aggregates.map((aggregate) => aggregate.as),
        ];
        aggregated = true;
        break;
      }
      case 'sort':
        rows.sort((a, b) => {
          for (const key of command.keys) {
            const order = compareValues(a[key.field], b[key.field]);
            if (order !== 0) return key.descending ? -order : order;
          }
          return 0;
        });
        sorted = true;
        break;
      case 'limit':
        rowLimit = Math.min(rowLimit, command.count);
        rows = rows.slice(0, command.count);
        break;
      case 'dedup': {
        const seen = new Set<string>();
        rows = rows.filter((row) => {
          const key = JSON.stringify(command.fields.map((field) => row[field]));
          if (seen.has(key)) return false;
          seen.add(key);
          return true;
        });
        break;
      }
    }
  }
  const matched = rows.length;
  if (!aggregated && !sorted) rows.sort((a, b) => compareValues(b['@timestamp'], a['@timestamp']));
  const fields = (row: Row) =>
    (projection ?? Object.keys(row).filter((field) => field === '@timestamp' || field === '@message'))
      .concat(aggregated ? [] : ['@ptr'])
      .filter((field, index, all) => all.indexOf(field) === index && row[field] !== undefined)
      .map((field) => ({ field, value: String(row[field]) }));
  return {
    rows: rows.slice(0, rowLimit).map(fields),
    statistics: {
      recordsMatched: matchedBeforeStats ?? matched,
      recordsScanned: scanned,
      bytesScanned: bytes,
    },
  };
}
