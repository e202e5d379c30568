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

/** What CDK substitutes for `${…}` placeholders, shaped like the real thing so ARN checks apply. */
export function substituteForValidation(definition: StateMachineDefinition): StateMachineDefinition {
  const text = JSON.stringify(definition).replace(
    /\$\{([A-Za-z0-9]+)\}/g,
    (_match, name: string) => `arn:aws:lambda:eu-west-1:111111111111:function:${name}`,
  );
  return JSON.parse(text) as StateMachineDefinition;
}

/** Definitions validated in this process, by digest: asl-validator compiles its JSON schemas anew on every call. */
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
