/**
 * Amazon EventBridge event patterns: validate, compile once, match many times — with EventBridge's semantics.
 *
 * Sources, cited below by short name:
 * - "syntax": EventBridge User Guide, Event pattern syntax (eb-create-pattern).
 * - "operators": EventBridge User Guide, Comparison operators (eb-create-pattern-operators, formerly "Content
 *   filtering in Amazon EventBridge event patterns").
 * - "arrays" / "null values": the guide's pages on multiple field values and on null values and empty strings.
 * - "ruler": aws/event-ruler, the matching engine behind EventBridge (JsonRuleCompiler.java validates,
 *   ByteMachine.java and ACFinder.java match, CIDR.java parses addresses).
 *
 * Matching works on parsed JSON. The guide says exact matching of numbers compares their text (300 ≠ 3.0e2);
 * once parsed the text is gone, so numbers compare by value here — which is also what ruler does for every
 * number it can represent (JsonRuleCompiler adds a numericEquals next to the exact text).
 */

export type EventPattern = { [key: string]: unknown };

/** One thing wrong with a pattern. `path` is like `detail.state.value[0].numeric`; empty for the pattern itself. */
export interface PatternProblem {
  path: string;
  message: string;
}

/** A pattern EventBridge would refuse (PutRule answers InvalidEventPatternException). Carries every problem. */
export class InvalidEventPatternError extends Error {
  override readonly name = 'InvalidEventPatternError';
  readonly problems: PatternProblem[];
  constructor(problems: PatternProblem[], options: { cause?: unknown } = {}) {
    super(
      `Invalid event pattern (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems
          .map((problem) => `  ${problem.path === '' ? '(pattern)' : problem.path}: ${problem.message}`)
          .join('\n'),
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.problems = problems;
  }
}

/** All problems of a pattern, empty when it is valid: the checks PutRule makes. */
export function validateEventPattern(pattern: unknown): PatternProblem[] {
  return compilePattern(pattern).problems;
}

/** Compiles a pattern into a predicate over events. Throws InvalidEventPatternError for an invalid pattern. */
export function compileEventPattern(pattern: unknown): (event: unknown) => boolean {
  const { matches, problems } = compilePattern(pattern);
  if (problems.length > 0) throw new InvalidEventPatternError(problems);
  return matches;
}

/** Compiles and matches in one go; compile once with compileEventPattern on a hot path. */
export function matchesEventPattern(pattern: unknown, event: unknown): boolean {
  return compileEventPattern(pattern)(event);
}

// ---------------------------------------------------------------------------------------------------------------
// Vocabulary

const Operator = {
  Prefix: 'prefix',
  Suffix: 'suffix',
  EqualsIgnoreCase: 'equals-ignore-case',
  Wildcard: 'wildcard',
  AnythingBut: 'anything-but',
  Numeric: 'numeric',
  Exists: 'exists',
  Cidr: 'cidr',
} as const;
const OPERATOR_NAMES: readonly string[] = Object.values(Operator);
const ANYTHING_BUT_OPERATORS: readonly string[] = [
  Operator.Prefix,
  Operator.Suffix,
  Operator.EqualsIgnoreCase,
  Operator.Wildcard,
];
const OR_KEY = '$or';
// ruler's Constants.RESERVED_FIELD_NAMES_IN_OR_RELATIONSHIP: these cannot be field names anywhere inside a $or.
const RESERVED_INSIDE_OR = new Set([
  ...OPERATOR_NAMES,
  'exactly',
  '=',
  '<',
  '<=',
  '>',
  '>=',
  'regex',
  'not-wildcard',
  'not-equals-ignore-case',
  'date-after',
  'date-on-or-after',
  'date-before',
  'date-on-or-before',
  'in-date-range',
  'ip-address-in-range',
  'ip-address-not-in-range',
]);
const NUMERIC_OPERATORS: readonly string[] = ['=', '<', '<=', '>', '>='];

/** A JSON leaf: what an event field holds when it is neither an object nor an array. */
type LeafValue = string | number | boolean | null;
type ValueTest = (value: LeafValue) => boolean;
type ObjectTest = (event: Readonly<Record<string, unknown>>) => boolean;
type NodeTest = (node: unknown) => boolean;

/** One element of a field's value array, once read. */
type Term =
  | { kind: 'equals'; value: LeafValue }
  | { kind: 'test'; test: ValueTest; ignoreCase?: string }
  | { kind: 'exists'; present: boolean }
  | { kind: 'invalid' };

interface Context {
  problems: PatternProblem[];
  insideOr: boolean;
}

const EMPTY_OBJECT: Readonly<Record<string, unknown>> = Object.freeze({});
const NEVER: ObjectTest = () => false;
const INVALID: Term = { kind: 'invalid' };

// ---------------------------------------------------------------------------------------------------------------
// Compilation: one pass reads the pattern, records every problem, and builds closures for the valid parts.

function compilePattern(pattern: unknown): {
  matches: (event: unknown) => boolean;
  problems: PatternProblem[];
} {
  const context: Context = { problems: [], insideOr: false };
  if (!isObject(pattern)) {
    report(context, '', `an event pattern must be a JSON object, got ${describe(pattern)}`);
    return { matches: () => false, problems: context.problems };
  }
  return { matches: nodeTest(compileObject(pattern, '', context)), problems: context.problems };
}

/** Fields of one object level: AND across fields and across `$or` groups ("syntax"; ruler README "$or"). */
function compileObject(
  pattern: Readonly<Record<string, unknown>>,
  path: string,
  context: Context,
): ObjectTest {
  const keys = Object.keys(pattern);
  if (keys.length === 0) {
    report(context, path, 'empty objects are not allowed; name at least one field to match');
    return NEVER;
  }
  const leafTests: ObjectTest[] = [];
  const nestedTests: ObjectTest[] = [];
  const orTests: ObjectTest[] = [];
  for (const key of keys) {
    const value = pattern[key];
    const keyPath = childPath(path, key);
    if (key === OR_KEY) {
      orTests.push(compileOr(value, keyPath, context));
      continue;
    }
    if (context.insideOr && RESERVED_INSIDE_OR.has(key)) {
      report(context, keyPath, `"${key}" is an operator name and cannot be a field name inside $or`);
    }
    if (Array.isArray(value)) {
      leafTests.push(compileLeaf(key, value, keyPath, context));
    } else if (isObject(value)) {
      const nested = nodeTest(compileObject(value, keyPath, context));
      const read = fieldReader(key);
      nestedTests.push((event) => nested(read(event)));
    } else {
      report(
        context,
        keyPath,
        `must be an array of values to match (e.g. [${JSON.stringify(value) ?? '"…"'}]) or a nested object, got ${describe(value)}`,
      );
    }
  }
  // Leaves first: they are the cheap checks and usually the selective ones (source, detail-type).
  return allOf([...leafTests, ...nestedTests, ...orTests]);
}

function compileOr(value: unknown, path: string, context: Context): ObjectTest {
  if (!Array.isArray(value)) {
    report(context, path, `$or must be an array of at least two pattern objects, got ${describe(value)}`);
    return NEVER;
  }
  if (value.length < 2) {
    report(context, path, `$or needs at least two pattern objects, got ${value.length}`);
  }
  const branches: ObjectTest[] = [];
  value.forEach((branch, index) => {
    const branchPath = indexPath(path, index);
    if (!isObject(branch)) {
      report(context, branchPath, `each element of $or must be a pattern object, got ${describe(branch)}`);
      return;
    }
    branches.push(compileObject(branch, branchPath, { ...context, insideOr: true }));
  });
  return (event) => {
    for (const branch of branches) if (branch(event)) return true;
    return false;
  };
}

/**
 * A sub-pattern applied to an event node. An array node matches when one element matches the whole
 * sub-pattern: ruler's rulesForJSONEvent refuses matches whose fields come from different elements of the
 * same array ("array consistency"). A node that is not an object holds none of the pattern's fields.
 */
function nodeTest(test: ObjectTest): NodeTest {
  const onNode = (node: unknown): boolean => {
    if (Array.isArray(node)) {
      if (node.length === 0) return test(EMPTY_OBJECT);
      for (const element of node) if (onNode(element)) return true;
      return false;
    }
    return test(isObject(node) ? node : EMPTY_OBJECT);
  };
  return onNode;
}

/** Reads a field of an event object without ever returning an inherited member (`constructor`, `__proto__`). */
function fieldReader(key: string): (event: Readonly<Record<string, unknown>>) => unknown {
  if (key in Object.prototype) return (event) => (Object.hasOwn(event, key) ? event[key] : undefined);
  return (event) => event[key];
}

// ---------------------------------------------------------------------------------------------------------------
// Leaves: a field whose pattern is an array of terms; it matches when any term matches (OR).

const NO_LEAF = 0;
const NO_MATCH = 1;
const MATCH = 2;

function compileLeaf(key: string, terms: readonly unknown[], path: string, context: Context): ObjectTest {
  if (terms.length === 0) {
    report(context, path, 'empty arrays are not allowed; list at least one value to match');
    return NEVER;
  }
  const equalsValues: LeafValue[] = [];
  const tests: ValueTest[] = [];
  // equals-ignore-case arguments, lowercased: one Set lookup instead of a comparison per term.
  const ignoreCase: string[] = [];
  let matchesAnyValue = false;
  let matchesAbsent = false;
  terms.forEach((raw, index) => {
    const term = compileTerm(raw, indexPath(path, index), context);
    if (term.kind === 'equals') equalsValues.push(term.value);
    else if (term.kind === 'test') {
      if (term.ignoreCase === undefined) tests.push(term.test);
      else ignoreCase.push(term.ignoreCase);
    } else if (term.kind === 'exists') {
      if (term.present) matchesAnyValue = true;
      else matchesAbsent = true;
    }
  });
  if (ignoreCase.length > 0) tests.push(ignoreCaseTest(ignoreCase));
  const test = matchesAnyValue ? () => true : anyValueTest(equalsValues, tests);
  const read = fieldReader(key);
  return (event) => {
    const value = read(event);
    if (isLeafValue(value)) return test(value);
    // An event array matches when any of its leaves does ("arrays"); nested arrays are flattened (ruler README).
    if (Array.isArray(value)) {
      const found = scanLeaves(value, test);
      return found === MATCH || (found === NO_LEAF && matchesAbsent);
    }
    // Absent, or an object: exists matching "only works on leaf nodes" ("operators"), so an object is no value.
    return matchesAbsent;
  };
}

function scanLeaves(values: readonly unknown[], test: ValueTest): number {
  let found = NO_LEAF;
  for (const value of values) {
    if (isLeafValue(value)) {
      if (test(value)) return MATCH;
      found = NO_MATCH;
    } else if (Array.isArray(value)) {
      const inner = scanLeaves(value, test);
      if (inner === MATCH) return MATCH;
      if (inner > found) found = inner;
    }
  }
  return found;
}

function anyValueTest(equalsValues: readonly LeafValue[], tests: readonly ValueTest[]): ValueTest {
  const all = equalsValues.length === 0 ? tests : [equalsTest(equalsValues), ...tests];
  if (all.length === 0) return () => false;
  if (all.length === 1) return all[0]!;
  return (value) => {
    for (const test of all) if (test(value)) return true;
    return false;
  };
}

/** Any of the equals-ignore-case terms: the value, lowercased, is one of their lowercased arguments. */
function ignoreCaseTest(lowercased: readonly string[]): ValueTest {
  if (lowercased.length === 1) {
    const only = lowercased[0];
    return (value) => typeof value === 'string' && value.toLowerCase() === only;
  }
  const set = new Set(lowercased);
  return (value) => typeof value === 'string' && set.has(value.toLowerCase());
}

function equalsTest(values: readonly LeafValue[]): ValueTest {
  if (values.length === 1) {
    const only = values[0];
    return (value) => value === only;
  }
  // A Set compares numbers by value (SameValueZero) and never equates "5" with 5.
  const set = new Set(values);
  return (value) => set.has(value);
}

function compileTerm(raw: unknown, path: string, context: Context): Term {
  if (raw === null || typeof raw === 'boolean') return { kind: 'equals', value: raw };
  if (typeof raw === 'number') {
    if (!Number.isFinite(raw)) return invalid(context, path, `${raw} is not a JSON number`);
    return { kind: 'equals', value: raw };
  }
  if (typeof raw === 'string') {
    // ruler turns a string that is an IP address into an address match (JsonRuleCompiler: ipToRangeIfPossible),
    // so "2001:db8::1" also matches "2001:DB8:0:0:0:0:0:1".
    const address = ipToHex(raw);
    if (address === undefined) return { kind: 'equals', value: raw };
    return {
      kind: 'test',
      test: (value) => value === raw || (typeof value === 'string' && ipToHex(value) === address),
    };
  }
  if (isObject(raw)) return compileOperator(raw, path, context);
  return invalid(
    context,
    path,
    `a value to match must be a string, number, boolean, null or an operator object such as {"prefix": "…"}, got ${describe(raw)}`,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Operators: { "<operator>": argument }

function compileOperator(
  expression: Readonly<Record<string, unknown>>,
  path: string,
  context: Context,
): Term {
  const names = Object.keys(expression);
  if (names.length !== 1) {
    const got = names.length === 0 ? 'none' : names.map((name) => `"${name}"`).join(', ');
    return invalid(
      context,
      path,
      `an operator object holds exactly one operator (${OPERATOR_NAMES.join(', ')}), got ${got}; put each operator in its own array element`,
    );
  }
  const name = names[0]!;
  const argument = expression[name];
  const operatorPath = childPath(path, name);
  switch (name) {
    case Operator.Prefix:
      return compileAffix(Operator.Prefix, argument, operatorPath, context);
    case Operator.Suffix:
      return compileAffix(Operator.Suffix, argument, operatorPath, context);
    case Operator.EqualsIgnoreCase: {
      if (typeof argument !== 'string') return expected(context, operatorPath, 'a string', argument);
      const lower = argument.toLowerCase();
      return {
        kind: 'test',
        test: (value) => typeof value === 'string' && value.toLowerCase() === lower,
        ignoreCase: lower,
      };
    }
    case Operator.Wildcard: {
      if (typeof argument !== 'string') return expected(context, operatorPath, 'a string', argument);
      const wildcard = parseWildcard(argument);
      if (typeof wildcard === 'string') return invalid(context, operatorPath, wildcard);
      return stringTest(wildcard);
    }
    case Operator.AnythingBut:
      return compileAnythingBut(argument, operatorPath, context);
    case Operator.Numeric:
      return compileNumeric(argument, operatorPath, context);
    case Operator.Exists:
      if (typeof argument !== 'boolean') return expected(context, operatorPath, 'true or false', argument);
      return { kind: 'exists', present: argument };
    case Operator.Cidr: {
      if (typeof argument !== 'string')
        return expected(context, operatorPath, 'a string such as "10.0.0.0/24"', argument);
      const range = parseCidr(argument);
      if (typeof range === 'string') return invalid(context, operatorPath, range);
      return stringTest((value) => {
        const address = ipToHex(value);
        return (
          address !== undefined &&
          address.length === range.low.length &&
          address >= range.low &&
          address <= range.high
        );
      });
    }
    default:
      return invalid(context, operatorPath, unknownName('operator', name, OPERATOR_NAMES));
  }
}

/** prefix and suffix take a string, or { "equals-ignore-case": string } ("operators"). */
function compileAffix(
  operator: typeof Operator.Prefix | typeof Operator.Suffix,
  argument: unknown,
  path: string,
  context: Context,
): Term {
  const affixOf = operator === Operator.Prefix ? startsWith : endsWith;
  if (typeof argument === 'string') return stringTest((value) => affixOf(value, argument));
  if (isObject(argument)) {
    const names = Object.keys(argument);
    const name = names[0];
    if (names.length === 1 && name === Operator.EqualsIgnoreCase) {
      const text = argument[name];
      if (typeof text !== 'string') return expected(context, childPath(path, name), 'a string', text);
      const lower = text.toLowerCase();
      return stringTest((value) => affixOf(value.toLowerCase(), lower));
    }
    if (names.length === 1 && name !== undefined) {
      return invalid(
        context,
        childPath(path, name),
        unknownName(`${operator} option`, name, [Operator.EqualsIgnoreCase]),
      );
    }
  }
  return expected(context, path, `a string or {"${Operator.EqualsIgnoreCase}": "…"}`, argument);
}

/**
 * anything-but matches every present value except the ones listed ("operators"). Following ruler's
 * ByteMachine, values of another type pass: anything-but "x" matches 5 and null, anything-but 5 matches "5";
 * a missing field has no value and never matches.
 */
function compileAnythingBut(argument: unknown, path: string, context: Context): Term {
  if (typeof argument === 'string') return { kind: 'test', test: (value) => value !== argument };
  if (typeof argument === 'number') {
    if (!Number.isFinite(argument)) return invalid(context, path, `${argument} is not a JSON number`);
    return { kind: 'test', test: (value) => value !== argument };
  }
  if (Array.isArray(argument)) {
    const excluded = readStringsOrNumbers(argument, path, context);
    if (excluded === undefined) return INVALID;
    const set = new Set<LeafValue>(excluded);
    return { kind: 'test', test: (value) => !set.has(value) };
  }
  if (isObject(argument)) {
    const names = Object.keys(argument);
    const name = names[0];
    if (names.length !== 1 || name === undefined) {
      return invalid(
        context,
        path,
        `anything-but takes one of ${ANYTHING_BUT_OPERATORS.join(', ')} as its operator, got ${names.length === 0 ? 'none' : names.join(', ')}`,
      );
    }
    const innerPath = childPath(path, name);
    if (!ANYTHING_BUT_OPERATORS.includes(name)) {
      return invalid(context, innerPath, unknownName('anything-but operator', name, ANYTHING_BUT_OPERATORS));
    }
    const texts = readStrings(argument[name], innerPath, context);
    if (texts === undefined) return INVALID;
    const excludes = texts.map((text, index) =>
      stringMatcher(name, text, texts.length === 1 ? innerPath : indexPath(innerPath, index), context),
    );
    if (excludes.some((exclude) => exclude === undefined)) return INVALID;
    const tests = excludes as ((value: string) => boolean)[];
    return {
      kind: 'test',
      test: (value) => {
        if (typeof value !== 'string') return true;
        for (const test of tests) if (test(value)) return false;
        return true;
      },
    };
  }
  return expected(
    context,
    path,
    `a string, a number, a list of only strings or only numbers, or {"prefix"|"suffix"|"equals-ignore-case"|"wildcard": …}`,
    argument,
  );
}

/** The test an anything-but operator excludes; undefined (with a problem reported) when the text is invalid. */
function stringMatcher(
  operator: string,
  text: string,
  path: string,
  context: Context,
): ((value: string) => boolean) | undefined {
  switch (operator) {
    case Operator.Prefix:
    case Operator.Suffix:
      // ruler refuses an empty excluded prefix or suffix: it would exclude everything ("Null prefix/suffix not allowed").
      if (text === '') {
        report(context, path, `an empty ${operator} would exclude every value; give at least one character`);
        return undefined;
      }
      return operator === Operator.Prefix
        ? (value) => value.startsWith(text)
        : (value) => value.endsWith(text);
    case Operator.EqualsIgnoreCase: {
      const lower = text.toLowerCase();
      return (value) => value.toLowerCase() === lower;
    }
    default: {
      const wildcard = parseWildcard(text);
      if (typeof wildcard === 'string') {
        report(context, path, wildcard);
        return undefined;
      }
      return wildcard;
    }
  }
}

/** numeric: [op, n] or [">"|">=", low, "<"|"<=", high]; only JSON numbers match, never numeric strings. */
function compileNumeric(argument: unknown, path: string, context: Context): Term {
  const shape = 'e.g. [">", 0, "<=", 5] or ["=", 300]';
  if (!Array.isArray(argument)) return expected(context, path, `an array (${shape})`, argument);
  if (argument.length === 0) return invalid(context, path, `empty numeric expression; ${shape}`);
  const first = argument[0];
  if (typeof first !== 'string' || !NUMERIC_OPERATORS.includes(first)) {
    return invalid(
      context,
      indexPath(path, 0),
      `${describeOperator(first)} is not a numeric operator; use one of ${NUMERIC_OPERATORS.join(', ')}`,
    );
  }
  const firstValue = readNumber(argument, 1, path, context);
  if (firstValue === undefined) return INVALID;
  const isLowerBound = first === '>' || first === '>=';
  if (argument.length === 2) return { kind: 'test', test: numericTest(first, firstValue) };
  if (!isLowerBound) {
    return invalid(
      context,
      path,
      `"${first}" takes a single number; a range starts with its lower bound: [">", low, "<", high]`,
    );
  }
  const second = argument[2];
  if (second !== '<' && second !== '<=') {
    return invalid(
      context,
      indexPath(path, 2),
      `${describeOperator(second)} cannot follow "${first}"; a range is one lower bound (">" or ">=") then one upper bound ("<" or "<=")`,
    );
  }
  const secondValue = readNumber(argument, 3, path, context);
  if (secondValue === undefined) return INVALID;
  if (argument.length > 4) {
    return invalid(
      context,
      indexPath(path, 4),
      'too many elements: a range has at most one lower and one upper bound',
    );
  }
  if (firstValue >= secondValue) {
    return invalid(
      context,
      path,
      `the lower bound ${firstValue} must be less than the upper bound ${secondValue}`,
    );
  }
  const lower = numericTest(first, firstValue);
  const upper = numericTest(second, secondValue);
  return { kind: 'test', test: (value) => lower(value) && upper(value) };
}

function numericTest(operator: string, bound: number): ValueTest {
  switch (operator) {
    case '=':
      return (value) => value === bound;
    case '<':
      return (value) => typeof value === 'number' && value < bound;
    case '<=':
      return (value) => typeof value === 'number' && value <= bound;
    case '>':
      return (value) => typeof value === 'number' && value > bound;
    default:
      return (value) => typeof value === 'number' && value >= bound;
  }
}

function readNumber(
  elements: readonly unknown[],
  index: number,
  path: string,
  context: Context,
): number | undefined {
  const value = elements[index];
  const elementPath = indexPath(path, index);
  if (index >= elements.length) {
    report(context, path, `the operator "${String(elements[index - 1])}" needs a number after it`);
    return undefined;
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    report(
      context,
      elementPath,
      `must be a JSON number (numeric matching never matches strings), got ${describe(value)}`,
    );
    return undefined;
  }
  return value;
}

function readStringsOrNumbers(
  values: readonly unknown[],
  path: string,
  context: Context,
): (string | number)[] | undefined {
  if (values.length === 0) {
    report(context, path, 'empty arrays are not allowed; list at least one value to exclude');
    return undefined;
  }
  let valid = true;
  values.forEach((value, index) => {
    if (typeof value !== 'string' && !(typeof value === 'number' && Number.isFinite(value))) {
      report(
        context,
        indexPath(path, index),
        `anything-but lists hold strings or numbers, got ${describe(value)}`,
      );
      valid = false;
    }
  });
  if (!valid) return undefined;
  const kinds = new Set(values.map((value) => typeof value));
  if (kinds.size > 1) {
    report(context, path, 'an anything-but list holds only strings or only numbers, not both');
    return undefined;
  }
  return values as (string | number)[];
}

function readStrings(argument: unknown, path: string, context: Context): string[] | undefined {
  if (typeof argument === 'string') return [argument];
  if (!Array.isArray(argument)) {
    report(context, path, `must be a string or a list of strings, got ${describe(argument)}`);
    return undefined;
  }
  if (argument.length === 0) {
    report(context, path, 'empty arrays are not allowed; list at least one string');
    return undefined;
  }
  let valid = true;
  argument.forEach((value, index) => {
    if (typeof value !== 'string') {
      report(context, indexPath(path, index), `must be a string, got ${describe(value)}`);
      valid = false;
    }
  });
  return valid ? (argument as string[]) : undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Wildcards: only "*" is special; "\*" and "\\" are escapes; "**" is refused (ruler WildcardParser.java).

function parseWildcard(text: string): ((value: string) => boolean) | string {
  const segments: string[] = [];
  let current = '';
  for (let index = 0; index < text.length; index++) {
    const character = text[index];
    if (character === '*') {
      if (text[index + 1] === '*') {
        return `consecutive wildcard characters at position ${index}; one "*" already matches any run of characters`;
      }
      segments.push(current);
      current = '';
    } else if (character === '\\') {
      const next = text[index + 1];
      if (next !== '*' && next !== '\\') {
        return `invalid escape at position ${index}: only "\\*" (a literal star) and "\\\\" (a literal backslash) are allowed`;
      }
      current += next;
      index++;
    } else {
      current += character;
    }
  }
  segments.push(current);
  return segmentsMatcher(segments);
}

/** Glob over literal segments split at "*": linear scan, no regular expression, no backtracking blow-up. */
function segmentsMatcher(segments: readonly string[]): (value: string) => boolean {
  const first = segments[0] ?? '';
  if (segments.length === 1) return (value) => value === first;
  const last = segments[segments.length - 1] ?? '';
  const middle = segments.slice(1, -1);
  const minimumLength = segments.reduce((total, segment) => total + segment.length, 0);
  return (value) => {
    if (value.length < minimumLength || !value.startsWith(first) || !value.endsWith(last)) return false;
    let from = first.length;
    const end = value.length - last.length;
    for (const segment of middle) {
      // Taking the leftmost occurrence is always safe when "*" is the only wildcard.
      const at = value.indexOf(segment, from);
      if (at < 0 || at + segment.length > end) return false;
      from = at + segment.length;
    }
    return true;
  };
}

// ---------------------------------------------------------------------------------------------------------------
// IP addresses, as ruler's CIDR.java reads them: fixed-width upper-case hex (8 digits v4, 32 digits v6).

const IPV4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/;
const IPV6_CHARACTERS = /^[0-9a-fA-F:]*:[0-9a-fA-F:]*$/; // ruler Constants.IPv6_REGEX: no embedded IPv4, no zone
const IPV6_GROUP = /^[0-9a-fA-F]{1,4}$/;

function ipToHex(text: string): string | undefined {
  const v4 = IPV4.exec(text);
  if (v4 !== null) {
    let hex = '';
    for (let part = 1; part <= 4; part++) {
      const octet = Number(v4[part]);
      if (octet > 255) return undefined;
      hex += octet.toString(16).padStart(2, '0');
    }
    return hex.toUpperCase();
  }
  if (!IPV6_CHARACTERS.test(text)) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] === '' ? [] : (halves[0] ?? '').split(':');
  const tail = halves.length === 2 && halves[1] !== '' ? (halves[1] ?? '').split(':') : [];
  const groups =
    halves.length === 2
      ? head.length + tail.length > 7
        ? undefined
        : [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail]
      : head.length === 8
        ? head
        : undefined;
  if (groups === undefined || !groups.every((group) => IPV6_GROUP.test(group))) return undefined;
  return groups
    .map((group) => group.padStart(4, '0'))
    .join('')
    .toUpperCase();
}

/**
 * The range a CIDR covers, as ruler computes it (CIDR.cidr): from the address as written to that address with
 * all host bits set — "10.0.0.5/24" covers 10.0.0.5–10.0.0.255 — and a mask must leave at least one host bit.
 */
function parseCidr(text: string): { low: string; high: string } | string {
  const parts = text.split('/');
  if (parts.length !== 2) return `malformed CIDR "${text}": exactly one "/" is required, e.g. "10.0.0.0/24"`;
  const [address = '', bits = ''] = parts;
  if (!/^\d+$/.test(bits))
    return `malformed CIDR "${text}": the mask after "/" must be a non-negative integer`;
  const low = ipToHex(address);
  if (low === undefined) return `"${address}" is not an IPv4 or IPv6 address`;
  const width = low.length * 4;
  const mask = Number(bits);
  if (mask >= width) {
    return `${width === 32 ? 'IPv4' : 'IPv6'} mask bits must be less than ${width}; to match the single address, list "${address}" as a value`;
  }
  const hostBits = (1n << BigInt(width - mask)) - 1n;
  const high = (BigInt(`0x${low}`) | hostBits).toString(16).toUpperCase().padStart(low.length, '0');
  return { low, high };
}

// ---------------------------------------------------------------------------------------------------------------
// Small helpers

function isObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isLeafValue(value: unknown): value is LeafValue {
  return (
    value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
  );
}

function stringTest(test: (value: string) => boolean): Term {
  return { kind: 'test', test: (value) => typeof value === 'string' && test(value) };
}

function startsWith(value: string, prefix: string): boolean {
  return value.startsWith(prefix);
}

function endsWith(value: string, suffix: string): boolean {
  return value.endsWith(suffix);
}

function allOf(tests: readonly ObjectTest[]): ObjectTest {
  if (tests.length === 1) return tests[0]!;
  return (event) => {
    for (const test of tests) if (!test(event)) return false;
    return true;
  };
}

function childPath(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function indexPath(path: string, index: number): string {
  return `${path}[${index}]`;
}

function report(context: Context, path: string, message: string): void {
  context.problems.push({ path, message });
}

function invalid(context: Context, path: string, message: string): Term {
  report(context, path, message);
  return INVALID;
}

function expected(context: Context, path: string, what: string, got: unknown): Term {
  return invalid(context, path, `must be ${what}, got ${describe(got)}`);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${String(value)}`;
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

function describeOperator(value: unknown): string {
  return typeof value === 'string' ? `"${value}"` : describe(value);
}

function unknownName(kind: string, name: string, known: readonly string[]): string {
  const suggestion = closest(name, known);
  const hint = suggestion === undefined ? `use one of ${known.join(', ')}` : `did you mean "${suggestion}"?`;
  return `unknown ${kind} "${name}"; ${hint}`;
}

/** The known name within edit distance 2 of `name`, if any: a typo such as "prefx" or "Numeric". */
function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
