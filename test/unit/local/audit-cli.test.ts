import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DynamoAuditTrail } from '../../../functions/adapters/aws/dynamo-audit-trail.ts';
import { startLocalDatabase } from '../../../functions/adapters/local/database.ts';
import { person, system } from '../../../functions/core/audit/events.ts';
import { main } from '../../../local/cli.ts';

/**
 * `runbook audit` without a server: bad options exit 2 before anything is read, and the trail is read
 * from the data directory (as `npm start` left it) in text or JSON lines.
 */

/** Nothing listens here: the CLI falls back to the data directory. */
const NO_SERVER = 'http://127.0.0.1:9/';

async function run(args: string[], cwd: string) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['node', 'runbook', 'audit', ...args], {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    cwd,
  });
  return { code, out, err };
}

describe('runbook audit', () => {
  let dir: string;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'runbook-audit-cli-'));
    const database = await startLocalDatabase({ path: join(dir, '.runbook', 'dynamodb') });
    const clock = { now: () => new Date('2026-11-25T10:00:00.000Z') };
    const audit = new DynamoAuditTrail({
      client: database.client,
      tableName: database.tableName,
      retentionDays: 365,
      clock,
    });
    try {
      await audit.record({
        id: 'e1',
        kind: 'override.pause',
        at: '2026-11-25T10:00:00Z',
        actor: person('alice', { channel: 'cli', ip: '127.0.0.1' }),
        executionId: 'node-memory-pressure-1',
        resourceKey: 'k8s-node/prod/ip-1',
        result: 'accepted',
        reason: 'looking',
      });
      clock.now = () => new Date('2026-11-25T12:00:00.000Z');
      await audit.record({
        id: 'e2',
        kind: 'gate.verdict',
        at: '2026-11-25T12:00:00Z',
        actor: system('step-runner'),
        executionId: 'node-memory-pressure-1',
        resourceKey: 'k8s-node/prod/ip-1',
        gate: 'checkpoint',
        verdict: 'held',
        reason: 'held before relieve-node: paused by alice',
      });
      clock.now = () => new Date('2026-11-25T12:00:01.000Z');
      await audit.record({
        id: 'e3',
        kind: 'alert.received',
        at: '2026-11-25T12:00:01Z',
        actor: system('classifier'),
        executionId: 'node-memory-pressure-1',
        alert: {
          source: 'prometheus',
          name: 'NodeMemoryPressure',
          status: 'firing',
          severity: 'critical',
          summary: 'ip-1 is under memory pressure',
          environment: 'prod',
          resource: { type: 'k8s-node', id: 'ip-1', cluster: 'prod' },
          fingerprint: 'f1',
          startsAt: '2026-11-25T09:59:00Z',
        },
        decision: 'joined',
        deliveries: 42,
        lastAt: '2026-11-25T12:00:01.250Z',
      });
    } finally {
      await database.stop();
    }
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('prints an execution’s trail from the data directory when no server runs, one line per event', async () => {
    // Act
    const { code, out, err } = await run(['--execution', 'node-memory-pressure-1', '--url', NO_SERVER], dir);
    // Assess
    expect(code).toBe(0);
    expect(out).toEqual([
      '2026-11-25T10:00:00.000Z  alice (cli 127.0.0.1)  node-memory-pressure-1  override.pause accepted (looking)',
      '2026-11-25T12:00:00.000Z  step-runner  node-memory-pressure-1  checkpoint gate held: held before relieve-node: paused by alice',
      '2026-11-25T12:00:01.000Z  classifier  node-memory-pressure-1  alert NodeMemoryPressure firing: joined (42 deliveries, the last at 2026-11-25T12:00:01.250Z)',
    ]);
    expect(err).toEqual(['3 event(s)']);
  });

  it('exports JSON lines, filtered by --since and by resource', async () => {
    // Act
    const { code, out } = await run(
      [
        '--resource',
        'k8s-node/prod/ip-1',
        '--since',
        '2026-11-25T11:00:00Z',
        '--format',
        'json-lines',
        '--url',
        NO_SERVER,
      ],
      dir,
    );
    // Assess
    expect(code).toBe(0);
    expect(out.map((line) => (JSON.parse(line) as { id: string }).id)).toEqual(['e2']);
  });

  it.each([
    [
      [],
      /name exactly one of --execution ID, --resource KEY, --actor NAME, --incident ID or --platform \(got none\)/,
    ],
    [['--execution', 'x', '--actor', 'alice'], /got --execution and --actor/],
    [
      ['--actor', 'alice', '--since', 'last tuesday'],
      /--since "last tuesday" is neither an ISO 8601 date-time/,
    ],
    [['--actor', 'alice', '--format', 'csv'], /--format must be text or json-lines, got "csv"/],
    [['--actor', ''], /--actor is empty/],
  ])('exits 2 with what was wrong for %j, reading nothing', async (args, message) => {
    // Act
    const { code, out, err } = await run([...args, '--url', NO_SERVER, '--data', 'nowhere'], dir);
    // Assess
    expect(code).toBe(2);
    expect(out).toEqual([]);
    expect(err.join('\n')).toMatch(message);
    expect(err.join('\n')).not.toMatch(/\n\s+at /);
  });

  it('says to start the platform when there is neither a server nor data', async () => {
    // Act
    const { code, err } = await run(['--platform', '--url', NO_SERVER, '--data', 'nowhere'], dir);
    // Assess
    expect(code).toBe(1);
    expect(err.join('\n')).toMatch(/no server at .* and no data in .*nowhere: run npm start first/);
  });
});
