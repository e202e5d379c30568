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

/**
 * Problems asl-validator finds in a definition (placeholders substituted). asl-validator mutates its
 * input, so it gets a copy.
 */
export function aslProblems(definition: StateMachineDefinition): string[] {
  const result = aslValidator(structuredClone(substituteForValidation(definition)), {
    checkPaths: true,
    checkArn: true,
  });
  if (result.isValid) return [];
  return result.errors.map(
    (error) => `${error['Error code'] ?? 'ASL'}: ${error.Message ?? JSON.stringify(error)}`,
  );
}
