import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { StateMachineDefinition } from './asl.ts';

type AslValidator = (
  definition: unknown,
  options?: { checkPaths?: boolean; checkArn?: boolean },
) => {
  isValid: boolean;
  errors: Array<{ 'Error code'?: string; Message?: string }>;
  errorsText: (separator?: string) => string;
};

const require = createRequire(import.meta.url);
const aslValidator = require('asl-validator') as AslValidator;

/**
 * asl-validator builds a new Ajv and compiles its 15 JSON schemas on every call (~50 ms, 4 s for the
 * runbook library at each platform start, the event loop blocked throughout). Its validator calls its
 * JSON-schema check through the module's exports, so that check is replaced here by the same check run
 * by a validator compiled once per option set: same schemas, same formats, same error selection. If a
 * later asl-validator no longer has that module, its own check runs (slower, same answers).
 */
type SchemaCheckOptions = { checkPaths?: boolean; checkArn?: boolean };
interface SchemaError {
  'Error code': string;
  Message: string;
  schemaError: { instancePath: string; schemaPath: string };
}
type CompiledCheck = ((data: unknown) => boolean) & {
  errors?: Array<{ instancePath: string; schemaPath: string; keyword: string; message?: string }> | null;
};

const SCHEMAS = [
  'common',
  'paths',
  'jsonata',
  'choice',
  'fail',
  'parallel',
  'pass',
  'base-state-machine',
  'state-machine',
  'state',
  'succeed',
  'task',
  'wait',
  'map',
  'errors',
] as const;

/** asl-validator's module of its JSON-schema check, and a require from its directory (undefined if moved). */
function loadSchemaChecks():
  | { checks: { jsonSchemaErrors?: unknown }; fromValidator: NodeJS.Require }
  | undefined {
  try {
    const fromValidator = createRequire(require.resolve('asl-validator'));
    return { checks: fromValidator('./checks/json-schema-errors'), fromValidator };
  } catch {
    return undefined;
  }
}
const schemaChecks = loadSchemaChecks();

function patchSchemaCheck(): SchemaCheck | undefined {
  if (!schemaChecks) return undefined;
  const { checks, fromValidator } = schemaChecks;
  const original = checks.jsonSchemaErrors;
  if (typeof original !== 'function') return undefined;
  const Ajv = (fromValidator('ajv') as { default: new (options: object) => AjvInstance }).default;
  const addFormats = (fromValidator('ajv-formats') as { default: (ajv: AjvInstance) => void }).default;
  const jsonata = fromValidator('jsonata') as (expression: string) => unknown;
  const { registerAll } = fromValidator('asl-path-validator') as { registerAll: (ajv: AjvInstance) => void };
  const { isArnFormatValid } = fromValidator('./checks/formats') as {
    isArnFormatValid: (arn: string) => boolean;
  };
  const schemas = SCHEMAS.map((name) => fromValidator(`./schemas/${name}.json`) as object);
  const compiled = new Map<string, CompiledCheck>();

  const compile = (options: SchemaCheckOptions): CompiledCheck => {
    const ajv = new Ajv({ schemas, allowUnionTypes: true });
    addFormats(ajv);
    const validJsonata = (value: string) => {
      const trimmed = value.trim();
      let expression = trimmed.startsWith('{%') ? trimmed.slice(2) : trimmed;
      expression = expression.endsWith('%}') ? expression.slice(0, -2) : expression;
      try {
        jsonata(expression);
        return true;
      } catch {
        return false;
      }
    };
    ajv.addFormat('jsonata_string', validJsonata);
    ajv.addFormat('maybe_jsonata_string', (value: string) => {
      const trimmed = value.trim();
      return trimmed.startsWith('{%') || trimmed.endsWith('%}') ? validJsonata(trimmed) : true;
    });
    if (options.checkPaths) registerAll(ajv);
    else
      for (const format of ['asl_path', 'asl_ref_path', 'asl_payload_template', 'asl_result_path'])
        ajv.addFormat(format, () => true);
    ajv.addFormat('asl_arn', options.checkArn ? isArnFormatValid : () => true);
    const check = ajv.getSchema('http://asl-validator.cloud/state-machine.json#');
    if (!check) throw new Error('asl-validator has no state-machine.json schema');
    return check;
  };

  checks.jsonSchemaErrors = (definition: unknown, options: SchemaCheckOptions): SchemaError[] => {
    const key = `${Boolean(options.checkPaths)}/${Boolean(options.checkArn)}`;
    let check = compiled.get(key);
    if (!check) {
      check = compile(options);
      compiled.set(key, check);
    }
    if (check(definition)) return [];
    // asl-validator's selection: the deepest errors; at a path with a oneOf error, only the oneOf ones.
    let selected: NonNullable<CompiledCheck['errors']> = [];
    let deepest = 0;
    for (const error of check.errors ?? []) {
      const depth = error.instancePath.split('/').length;
      if (depth === deepest) selected.push(error);
      else if (depth > deepest) selected = [error];
      deepest = Math.max(deepest, depth);
    }
    const oneOfPaths = new Set(
      selected.filter((error) => error.keyword === 'oneOf').map((error) => error.instancePath),
    );
    const errors = selected
      .filter((error) => error.keyword === 'oneOf' || !oneOfPaths.has(error.instancePath))
      .map((error) => ({
        'Error code': 'SCHEMA_VALIDATION_FAILED',
        Message: `${error.instancePath} is invalid. ${error.message ?? ''}`,
        schemaError: { instancePath: error.instancePath, schemaPath: decodeURIComponent(error.schemaPath) },
      }));
    return errors.filter(
      (error, index) =>
        errors.findIndex(
          (other) =>
            other.schemaError.schemaPath === error.schemaError.schemaPath &&
            other.schemaError.instancePath === error.schemaError.instancePath,
        ) === index,
    );
  };
  return original as SchemaCheck;
}

interface AjvInstance {
  addFormat(name: string, format: ((value: string) => boolean) | RegExp): unknown;
  getSchema(id: string): CompiledCheck | undefined;
}

type SchemaCheck = (definition: unknown, options: SchemaCheckOptions) => SchemaError[];

/**
 * asl-validator's own JSON-schema check, replaced by the compiled-once one (undefined if it could not
 * be: then its own runs). Tests compare the two.
 */
export const aslValidatorOwnSchemaCheck: SchemaCheck | undefined = patchSchemaCheck();

/** The JSON-schema check asl-validator runs now (the compiled-once one when patched). */
export function aslSchemaCheck(definition: unknown, options: SchemaCheckOptions): SchemaError[] {
  const check = schemaChecks?.checks.jsonSchemaErrors;
  if (typeof check !== 'function') throw new Error('asl-validator has no JSON-schema check module');
  return (check as SchemaCheck)(definition, options);
}

/** What CDK substitutes for `${…}` placeholders, shaped like the real thing so ARN checks apply. */
export function substituteForValidation(definition: StateMachineDefinition): StateMachineDefinition {
  const text = JSON.stringify(definition).replace(
    /\$\{([A-Za-z0-9]+)\}/g,
    (_match, name: string) => `arn:aws:lambda:eu-west-1:111111111111:function:${name}`,
  );
  return JSON.parse(text) as StateMachineDefinition;
}

/** Definitions validated in this process, by digest: the catalog and the engine check the same machines. */
const validated = new Map<string, readonly string[]>();
const MAX_VALIDATED = 1_000;

/**
 * Problems asl-validator finds in a definition (placeholders substituted). asl-validator mutates its
 * input, so it gets a copy. A definition validated before in this process is not validated again (the
 * platform compiles every runbook at each start).
 */
export function aslProblems(definition: StateMachineDefinition): string[] {
  const substituted = substituteForValidation(definition);
  const key = createHash('sha256').update(JSON.stringify(substituted)).digest('base64url');
  const known = validated.get(key);
  if (known) return [...known];
  const result = aslValidator(substituted, { checkPaths: true, checkArn: true });
  const problems = result.isValid
    ? []
    : result.errors.map(
        (error) => `${error['Error code'] ?? 'ASL'}: ${error.Message ?? JSON.stringify(error)}`,
      );
  if (validated.size >= MAX_VALIDATED) validated.clear();
  validated.set(key, problems);
  return [...problems];
}
