import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bench, describe } from 'vitest';
import { normalizeAlertmanager } from '../../functions/core/classifier/normalize.ts';
import { parseJsonText } from '../../functions/core/json-limits.ts';
import { ROOT } from '../support/runbooks.ts';

/**
 * The ingest's work on the largest webhook it takes: a 1 MB body whose alert carries 10,000
 * annotations, parsed and cut to the 32 KB alert budget (issue 11: this took 49-76 s when the budget
 * re-serialized the alert after each annotation).
 */
const fixture = JSON.parse(
  readFileSync(join(ROOT, 'test/fixtures/alerts/alertmanager-node-memory-pressure.json'), 'utf8'),
);
fixture.alerts = fixture.alerts.slice(0, 1);
for (let i = 0; i < 10_000; i++) fixture.alerts[0].annotations[`note_${i}`] = `${'n'.repeat(80)}-${i}`;
const body = JSON.stringify(fixture);
const options = { environmentLabels: ['environment', 'env'], defaultEnvironment: 'prod' };

describe(`webhook of ${(Buffer.byteLength(body) / 1024 / 1024).toFixed(2)} MB, 10,000 annotations`, () => {
  bench('parse, validate, normalize and fit to the alert budget', () => {
    normalizeAlertmanager(parseJsonText(body), options);
  });
});
