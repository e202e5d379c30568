import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NormalizeOptions } from '../../../../functions/core/classifier/normalize.ts';
import { ROOT } from '../../../support/runbooks.ts';

/** A payload from test/fixtures/alerts (`malformed/…` for the broken ones), parsed from JSON. */
export function payload(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(ROOT, 'test/fixtures/alerts', name), 'utf8')) as Record<
    string,
    unknown
  >;
}

/** As RuntimeConfig's defaults give them, for a deployment serving prod. */
export const OPTIONS: NormalizeOptions = {
  environmentLabels: ['environment', 'env'],
  defaultEnvironment: 'prod',
};

/** A deep copy to change without touching the fixture others read. */
export function copy<T>(value: T): T {
  return structuredClone(value);
}
