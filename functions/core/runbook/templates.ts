import type { PathSegment } from './path.ts';

/**
 * `{{ alert.labels.node }}` templates in step parameters. A value that is exactly one template takes
 * the referenced value as is (a number stays a number); a template inside a longer string is
 * interpolated. Resolution is plain path lookup: never code, never eval.
 */

const TEMPLATE = /\{\{\s*([^{}]*?)\s*\}\}/g;
const WHOLE_TEMPLATE = /^\{\{\s*([^{}]*?)\s*\}\}$/;
/** `a.b[0].c` or, easier to write in YAML flow collections, `a.b.0.c`. */
const REFERENCE = /^[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*|\.\d+|\[\d+\])*$/;

export interface TemplateReference {
  /** The expression inside the braces, e.g. `steps.node-resources.output.topPods[0].name`. */
  expression: string;
  /** Parsed path: ['steps', 'node-resources', 'output', 'topPods', 0, 'name']. */
  segments: PathSegment[];
  /** Where the template sits inside the parameters object. */
  at: PathSegment[];
}

export interface TemplateSyntaxError {
  expression: string;
  at: PathSegment[];
  message: string;
}

export function parseReference(expression: string): PathSegment[] | undefined {
  if (!REFERENCE.test(expression)) return undefined;
  const segments: PathSegment[] = [];
  for (const part of expression.matchAll(/([A-Za-z_][\w-]*)|\[(\d+)\]|\.(\d+)/g)) {
    segments.push(part[1] !== undefined ? part[1] : Number(part[2] ?? part[3]));
  }
  return segments;
}

/** Every template in a parameters value, with where it sits. */
export function findTemplates(
  value: unknown,
  at: PathSegment[] = [],
): {
  references: TemplateReference[];
  errors: TemplateSyntaxError[];
} {
  const references: TemplateReference[] = [];
  const errors: TemplateSyntaxError[] = [];
  const visit = (node: unknown, path: PathSegment[]) => {
    if (typeof node === 'string') {
      const opened = (node.match(/\{\{/g) ?? []).length;
      const matches = [...node.matchAll(TEMPLATE)];
      if (opened !== matches.length) {
        errors.push({ expression: node, at: path, message: `unbalanced template braces in "${node}"` });
      }
      for (const match of matches) {
        const expression = match[1] ?? '';
        const segments = parseReference(expression);
        if (segments) references.push({ expression, segments, at: path });
        else
          errors.push({
            expression,
            at: path,
            message: `"{{ ${expression} }}" is not a reference: use a dotted path such as {{ alert.labels.node }}`,
          });
      }
    } else if (Array.isArray(node)) {
      for (const [index, item] of node.entries()) visit(item, [...path, index]);
    } else if (node !== null && typeof node === 'object') {
      for (const [key, item] of Object.entries(node)) visit(item, [...path, key]);
    }
  };
  visit(value, at);
  return { references, errors };
}

export function hasTemplate(value: unknown): boolean {
  return typeof value === 'string' && value.includes('{{');
}

/** Raised when a template cannot be resolved at run time; names the template and where it sits. */
export class TemplateResolutionError extends Error {
  override readonly name = 'TemplateResolutionError';
  readonly expression: string;
  readonly at: string;
  constructor(expression: string, at: string, message: string) {
    super(message);
    this.expression = expression;
    this.at = at;
  }
}

export function lookup(scope: unknown, segments: readonly PathSegment[]): { found: boolean; value: unknown } {
  let current: unknown = scope;
  for (const segment of segments) {
    if (current === null || typeof current !== 'object') return { found: false, value: undefined };
    if (typeof segment === 'number') {
      if (!Array.isArray(current) || segment >= current.length) return { found: false, value: undefined };
      current = current[segment];
    } else {
      if (!Object.hasOwn(current, segment)) return { found: false, value: undefined };
      current = (current as Record<string, unknown>)[segment];
    }
  }
  return { found: true, value: current };
}

function atPath(path: PathSegment[]): string {
  return path
    .map((segment) => (typeof segment === 'number' ? `[${segment}]` : `.${segment}`))
    .join('')
    .slice(1);
}

/** Resolves every template in `value` against `scope`; throws TemplateResolutionError naming the first miss. */
export function resolveTemplates<T>(value: T, scope: Record<string, unknown>, at: PathSegment[] = []): T {
  const resolve = (node: unknown, path: PathSegment[]): unknown => {
    if (typeof node === 'string') {
      const whole = WHOLE_TEMPLATE.exec(node);
      const get = (expression: string) => {
        const segments = parseReference(expression);
        const result = segments ? lookup(scope, segments) : { found: false, value: undefined };
        if (!result.found) {
          throw new TemplateResolutionError(
            expression,
            atPath(path),
            `${atPath(path) || 'value'}: {{ ${expression} }} has no value in this execution`,
          );
        }
        return result.value;
      };
      if (whole) return get(whole[1] ?? '');
      if (!node.includes('{{')) return node;
      return node.replace(TEMPLATE, (_match, expression: string) => {
        const resolved = get(expression);
        return typeof resolved === 'string' ? resolved : JSON.stringify(resolved);
      });
    }
    if (Array.isArray(node)) return node.map((item, index) => resolve(item, [...path, index]));
    if (node !== null && typeof node === 'object') {
      return Object.fromEntries(
        Object.entries(node).map(([key, item]) => [key, resolve(item, [...path, key])]),
      );
    }
    return node;
  };
  return resolve(value, at) as T;
}
