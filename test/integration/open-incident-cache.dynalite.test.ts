import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DynamoStore, StoreConflictError } from '../../functions/adapters/aws/dynamo-store.ts';
import { contractAlert, contractIncident } from '../contract/store.contract.ts';
import { type DynaliteTable, startDynalite } from '../support/dynalite.ts';

/**
 * DynamoStore remembers the open incident per fingerprint, so a duplicate firing costs one conditional
 * update. Two stores on one table play two processes (two Lambda instances): what one resolves or
 * opens, the other's memory does not know, and the store's answer must still be the right one.
 */

let table: DynaliteTable;
let commands: string[];

function storeOf(options: { openIncidentCacheSize?: number } = {}): DynamoStore {
  return new DynamoStore({ client: table.client, tableName: table.tableName, retentionDays: 30, ...options });
}

beforeEach(async () => {
  table = await startDynalite();
  commands = [];
  table.client.middlewareStack.add(
    (next, context) => (args) => {
      commands.push(String(context.commandName));
      return next(args);
    },
    { step: 'initialize', name: 'countCommands' },
  );
});

afterEach(async () => {
  await table.stop();
});

describe('DynamoStore: open incidents remembered per fingerprint', () => {
  it('counts a duplicate of an incident it opened with one conditional update', async () => {
    // Prepare
    const store = storeOf();
    const incident = contractIncident();
    await store.openIncident(incident);
    commands = [];

    // Act
    const joined = await store.openIncident({ ...incident, lastSeenAt: '2024-05-02T17:05:00Z' });

    // Assess
    expect(commands).toEqual(['UpdateItemCommand']);
    expect(joined).toMatchObject({
      created: false,
      incident: { id: incident.id, occurrences: 2, lastSeenAt: '2024-05-02T17:05:00Z' },
    });
  });

  it('takes the four-command path without the cache, with the same answer', async () => {
    // Prepare
    const store = storeOf({ openIncidentCacheSize: 0 });
    const incident = contractIncident();
    await store.openIncident(incident);
    commands = [];

    // Act
    const joined = await store.openIncident({ ...incident, lastSeenAt: '2024-05-02T17:05:00Z' });

    // Assess
    expect(commands).toEqual(['PutItemCommand', 'GetItemCommand', 'GetItemCommand', 'UpdateItemCommand']);
    expect(joined).toMatchObject({ created: false, incident: { id: incident.id, occurrences: 2 } });
  });

  it('counts every one of 50 concurrent duplicates exactly once', async () => {
    // Prepare
    const store = storeOf();
    const incident = contractIncident();
    await store.openIncident(incident);

    // Act
    const results = await Promise.all(Array.from({ length: 50 }, () => store.openIncident(incident)));

    // Assess
    expect(results.every((result) => !result.created && result.incident.id === incident.id)).toBe(true);
    expect((await store.getIncident(incident.id))?.occurrences).toBe(51);
  });

  it('counts duplicates that arrive while a count is being written with one more update, not one each', async () => {
    // Prepare
    const store = storeOf();
    const incident = contractIncident();
    await store.openIncident(incident);
    commands = [];

    // Act: the first duplicate's update is in flight when the other 49 arrive
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, index) =>
        store.openIncident({
          ...incident,
          lastSeenAt: `2024-05-02T17:${String(10 + index).padStart(2, '0')}:00Z`,
        }),
      ),
    );

    // Assess
    expect(commands).toEqual(['UpdateItemCommand', 'UpdateItemCommand']);
    expect(results.every((result) => !result.created && result.incident.id === incident.id)).toBe(true);
    expect(results.at(-1)!.incident.occurrences).toBe(51);
    expect(await store.getIncident(incident.id)).toMatchObject({
      occurrences: 51,
      lastSeenAt: '2024-05-02T17:59:00Z',
    });
  });

  it('answers every waiting duplicate of an incident resolved meanwhile as the store that never saw it would', async () => {
    // Prepare
    const here = storeOf();
    const elsewhere = storeOf();
    const incident = contractIncident();
    await here.openIncident(incident);
    await elsewhere.resolveIncident(incident.fingerprint, incident.alert, '2024-05-02T17:10:00Z');

    // Act
    const late = await Promise.all(
      Array.from({ length: 5 }, () => here.openIncident(incident).catch((error: unknown) => error)),
    );

    // Assess
    for (const answer of late) expect(answer).toBeInstanceOf(StoreConflictError);
  });

  it('refuses a duplicate of an incident another process resolved, as a store that never saw it does', async () => {
    // Prepare: this process saw the incident open; another one resolves it
    const here = storeOf();
    const elsewhere = storeOf();
    const incident = contractIncident();
    await here.openIncident(incident);
    await elsewhere.resolveIncident(incident.fingerprint, incident.alert, '2024-05-02T17:10:00Z');

    // Act
    const late = await here.openIncident(incident).catch((error: unknown) => error);
    const lateUncached = await storeOf({ openIncidentCacheSize: 0 })
      .openIncident(incident)
      .catch((error: unknown) => error);

    // Assess
    expect(late).toBeInstanceOf(StoreConflictError);
    expect(lateUncached).toBeInstanceOf(StoreConflictError);
    expect((await here.getIncident(incident.id))?.status).toBe('resolved');
  });

  it('joins the incident another process opened for the fingerprint after the remembered one resolved', async () => {
    // Prepare: inc-0001 seen here, resolved elsewhere, then the problem fires again (a new incident)
    const here = storeOf();
    const elsewhere = storeOf();
    const first = contractIncident();
    await here.openIncident(first);
    await elsewhere.resolveIncident(first.fingerprint, first.alert, '2024-05-02T17:10:00Z');
    const again = contractIncident({
      id: 'inc-0002',
      alert: contractAlert({ startsAt: '2024-05-02T17:20:00Z' }),
    });
    await elsewhere.openIncident(again);

    // Act
    const joined = await here.openIncident({ ...again, lastSeenAt: '2024-05-02T17:21:00Z' });

    // Assess
    expect(joined).toMatchObject({ created: false, incident: { id: 'inc-0002', occurrences: 2 } });
  });

  it('forgets a fingerprint it resolved: the next firing opens a new incident', async () => {
    // Prepare
    const store = storeOf();
    const first = contractIncident();
    await store.openIncident(first);
    await store.resolveIncident(first.fingerprint, first.alert, '2024-05-02T17:10:00Z');

    // Act
    const next = await store.openIncident(
      contractIncident({ id: 'inc-0002', alert: contractAlert({ startsAt: '2024-05-02T17:20:00Z' }) }),
    );

    // Assess
    expect(next).toMatchObject({ created: true, incident: { id: 'inc-0002', occurrences: 1 } });
  });
});
