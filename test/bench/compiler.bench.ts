import { bench, describe } from 'vitest';
import { stringify } from 'yaml';
import '../../functions/adapters/local/polyfills.ts';
import { compileRunbook } from '../../functions/core/compiler/compile.ts';
import { validateRunbookText } from '../../functions/core/runbook/validate.ts';
import { TOOL_CATALOG } from '../../functions/tools/declarations.ts';
import { generateRunbook } from '../support/generate.ts';
import { OPTIONS } from '../support/runbooks.ts';

// Figures depend on the machine; the README quotes them with the machine they came from.
const text = stringify(generateRunbook(1000));
const runbook = validateRunbookText(text, OPTIONS).runbook!;
const small = validateRunbookText(stringify(generateRunbook(20)), OPTIONS).runbook!;

describe('runbook toolchain', () => {
  bench('validate a 1,000-step runbook (YAML, schema, semantic checks)', () => {
    validateRunbookText(text, OPTIONS);
  });
  bench('compile a 1,000-step runbook (with budgets)', () => {
    compileRunbook(runbook, { tools: TOOL_CATALOG });
  });
  bench('compile a 20-step runbook', () => {
    compileRunbook(small, { tools: TOOL_CATALOG });
  });
});
