import * as z from 'zod';
import type { KubernetesPermission, ToolDeclaration, ToolPermissions } from '../core/tool-catalog.ts';

/**
 * The README's tool reference, generated from the declarations so it cannot drift from the code: one
 * table row per tool, in the order given. Same declarations, same text (a test compares the README).
 */

export const TOOL_REFERENCE_BEGIN =
  '<!-- tool-reference:begin — generated from functions/tools/declarations.ts by toolReferenceMarkdown(); do not edit by hand -->';
export const TOOL_REFERENCE_END = '<!-- tool-reference:end -->';

/** The subset of JSON Schema that zod emits for tool parameters. */
interface JsonSchema {
  /** A list for nullable primitives: `["string", "null"]`. */
  type?: string | string[];
  format?: string;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  items?: JsonSchema;
  additionalProperties?: JsonSchema | boolean;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  default?: unknown;
  description?: string;
}

/** Table cells are one line and may not contain an unescaped pipe. */
function cell(text: string): string {
  return text.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|');
}

function code(text: string): string {
  return text.includes('`') ? `\`\` ${text} \`\`` : `\`${text}\``;
}

/** `1–50 items`, `at least 1 item`, `up to 100 chars`: a count in words. */
function range(min: number | undefined, max: number | undefined, unit: 'item' | 'char'): string {
  const of = (count: number) => `${count} ${unit}${count === 1 ? '' : 's'}`;
  if (min !== undefined && max !== undefined) return min === max ? of(min) : `${min}–${of(max)}`;
  if (min !== undefined) return `at least ${of(min)}`;
  if (max !== undefined) return `up to ${of(max)}`;
  return '';
}

/** A parameter's type in a few words: `integer 1–840`, `list of string (1–50)`, `one of GET, HEAD`. */
function typeOf(schema: JsonSchema): string {
  if (schema.anyOf) return schema.anyOf.map(typeOf).join(' or ');
  if (Array.isArray(schema.type)) return schema.type.map((type) => typeOf({ ...schema, type })).join(' or ');
  if (schema.enum) return `one of ${schema.enum.map((value) => String(value)).join(', ')}`;
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  switch (schema.type) {
    case 'string': {
      const kind = schema.format === 'uri' ? 'URL' : 'string';
      // A minimum of one character is the norm (non-empty); only other limits are worth saying.
      const min = schema.minLength !== undefined && schema.minLength > 1 ? schema.minLength : undefined;
      const limits = range(min, schema.maxLength, 'char');
      return limits ? `${kind} (${limits})` : kind;
    }
    case 'integer':
    case 'number': {
      const { minimum: min, maximum: max } = schema;
      if (min !== undefined && max !== undefined)
        return `${schema.type} ${min === max ? min : `${min}–${max}`}`;
      if (min !== undefined) return `${schema.type} ≥ ${min}`;
      if (max !== undefined) return `${schema.type} ≤ ${max}`;
      return schema.type;
    }
    case 'boolean':
      return 'boolean';
    case 'null':
      return 'null';
    case 'array': {
      const items = schema.items ? typeOf(schema.items) : 'anything';
      const count = range(schema.minItems, schema.maxItems, 'item');
      return `list of ${items}${count ? ` (${count})` : ''}`;
    }
    case 'object':
      if (typeof schema.additionalProperties === 'object')
        return `map of string to ${typeOf(schema.additionalProperties)}`;
      return 'object';
    default:
      return 'any';
  }
}

/** Names of an object's fields for a summary: `{replicas, ready, pods…}` (at most MAX_SUMMARY_FIELDS). */
const MAX_SUMMARY_FIELDS = 8;

function fieldsOf(schema: JsonSchema): string {
  const keys = Object.keys(schema.properties ?? {});
  const shown = keys.slice(0, MAX_SUMMARY_FIELDS).join(', ');
  return `{${shown}${keys.length > MAX_SUMMARY_FIELDS ? ', …' : ''}}`;
}

/** An output field's type: like a parameter's, with nested objects summarised by their field names. */
function outputTypeOf(schema: JsonSchema): string {
  if (schema.anyOf) return schema.anyOf.map(outputTypeOf).join(' or ');
  if (Array.isArray(schema.type))
    return schema.type.map((type) => outputTypeOf({ ...schema, type })).join(' or ');
  if (schema.type === 'object' && schema.properties) return `object ${fieldsOf(schema)}`;
  if (schema.type === 'object' && typeof schema.additionalProperties === 'object')
    return `map of string to ${outputTypeOf(schema.additionalProperties)}`;
  if (schema.type === 'array') return `list of ${schema.items ? outputTypeOf(schema.items) : 'anything'}`;
  return typeOf(schema);
}

/**
 * One line per top-level output field: name, type (nested lists and objects summarised by their
 * fields), whether it may be absent, and its description. What `steps.<id>.output…` may reference.
 */
export function outputLines(output: z.ZodType): string[] {
  const schema = z.toJSONSchema(output, { io: 'output', unrepresentable: 'any' }) as JsonSchema;
  if (schema.type !== 'object' || !schema.properties) return [outputTypeOf(schema)];
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties).map(([name, property]) => {
    const presence = required.has(name) ? '' : ', optional';
    const description = property.description ? `: ${property.description}` : '';
    return `${code(name)} ${outputTypeOf(property)}${presence}${description}`;
  });
}

/** One line per parameter: name, type, whether it is required or its default, and its description. */
export function parameterLines(parameters: z.ZodObject): string[] {
  const schema = z.toJSONSchema(parameters, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {}).map(([name, property]) => {
    const presence = required.has(name)
      ? 'required'
      : property.default !== undefined
        ? `default ${code(JSON.stringify(property.default))}`
        : 'optional';
    const description = property.description ? `: ${property.description}` : '';
    return `${code(name)} ${typeOf(property)}, ${presence}${description}`;
  });
}

function kubernetesRule(rule: KubernetesPermission): string {
  const resources = rule.resources.map((resource) =>
    rule.apiGroup ? `${rule.apiGroup}/${resource}` : resource,
  );
  return `${code(rule.verbs.join(', '))} ${resources.join(', ')}`;
}

/** The IAM actions, Kubernetes verbs and other access a tool needs. */
export function permissionLines(permissions: ToolPermissions): string[] {
  const lines: string[] = [];
  if (permissions.iam?.length) lines.push(`IAM ${permissions.iam.map(code).join(', ')}`);
  if (permissions.kubernetes?.length)
    lines.push(`Kubernetes ${permissions.kubernetes.map(kubernetesRule).join('; ')}`);
  if (permissions.http) lines.push('outbound HTTP(S) to the URL the step names');
  if (permissions.localProcess) lines.push('runs a local process (embedded platform only)');
  return lines;
}

function inverse(declaration: ToolDeclaration): string {
  const { compensation } = declaration;
  if (!compensation)
    return declaration.mutating ? 'none: the step needs its own `compensation` or an approval' : '—';
  const parameters = Object.entries(compensation.parameters)
    .map(([name, value]) => code(`${name}: ${typeof value === 'string' ? value : JSON.stringify(value)}`))
    .join(', ');
  return `${code(compensation.tool)} with ${parameters}: ${compensation.description}`;
}

function whatItDoes(declaration: ToolDeclaration): string {
  const runtimes = declaration.runtimes;
  const only =
    runtimes && !(runtimes.includes('aws') && runtimes.includes('local'))
      ? ` Runs only in the ${runtimes.map((runtime) => (runtime === 'aws' ? 'AWS' : 'local')).join(' and ')} runtime.`
      : '';
  return `${declaration.description}${only}`;
}

/**
 * The tool reference as Markdown, between the begin/end markers: a table with each tool's name, what
 * it does, its parameters (types, defaults), its output fields, whether it changes anything, its
 * minimum risk, what it does under dry-run, the permissions it needs and the inverse
 * `compensation: auto` uses.
 */
/** `yes`, and what running it again after an interruption does: `once per execution and step`, or `repeats`. */
function mutatingCell(declaration: ToolDeclaration): string {
  if (!declaration.mutating) return 'no';
  const repeat = declaration.onRepeat;
  const touches = declaration.blastRadius ? `; touches ${declaration.blastRadius.how}` : '';
  if (!repeat) return `yes${touches}`;
  return repeat.effect === 'no-op'
    ? `yes${touches}; once per execution and step: ${repeat.how}`
    : `yes${touches}; a resume after an interruption asks first: ${repeat.how}`;
}

export function toolReferenceMarkdown(declarations: readonly ToolDeclaration[]): string {
  const header = [
    '| Tool | What it does | Parameters | Output | Mutating | Risk | Dry run | Needs | Inverse for `compensation: auto` |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  const rows = declarations.map((declaration) => {
    const parameters = parameterLines(declaration.parameters);
    const needs = permissionLines(declaration.permissions);
    const cells = [
      code(declaration.name),
      whatItDoes(declaration),
      parameters.length > 0 ? parameters.join('<br>') : 'none',
      outputLines(declaration.output).join('<br>'),
      mutatingCell(declaration),
      declaration.risk,
      declaration.dryRun,
      needs.length > 0 ? needs.join('<br>') : 'nothing',
      inverse(declaration),
    ];
    return `| ${cells.map(cell).join(' | ')} |`;
  });
  return [TOOL_REFERENCE_BEGIN, '', ...header, ...rows, '', TOOL_REFERENCE_END].join('\n');
}

/**
 * Replaces the generated section of a README (from the begin marker to the end marker, inclusive)
 * with `reference`; throws when the markers are missing so a moved section fails loudly.
 */
export function spliceToolReference(readme: string, reference: string): string {
  const begin = readme.indexOf(TOOL_REFERENCE_BEGIN);
  const end = readme.indexOf(TOOL_REFERENCE_END);
  if (begin < 0 || end < begin)
    throw new Error(
      `README has no tool reference section: add the lines\n${TOOL_REFERENCE_BEGIN}\n${TOOL_REFERENCE_END}\nwhere the table belongs`,
    );
  return readme.slice(0, begin) + reference + readme.slice(end + TOOL_REFERENCE_END.length);
}
