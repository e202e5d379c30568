import {
  BatchGetCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { Alert } from '../../core/alert.ts';
import { parseApprovalPublicId } from '../../core/approval-links.ts';
import { ConfigurationError, ValidationError } from '../../core/errors.ts';
import { GroupCommit } from '../../core/group-commit.ts';
import { jsonBytes, trimToBudget } from '../../core/output-budget.ts';
import {
  type AlertSummary,
  ApprovalDecision,
  ApprovalRecord,
  ExecutionRecord,
  IncidentRecord,
  KillSwitchState,
  LearningAggregate,
  Notification,
  StepOutcome,
  summarizeAlert,
  TERMINAL_STATUSES,
  UnmatchedAlertSummary,
} from '../../core/records.ts';
import { type Clock, systemClock } from '../../ports/clock.ts';
import type {
  ControlRequest,
  DecideApprovalRequest,
  DecideApprovalResult,
  ExecutionPatch,
  OpenIncidentResult,
  RateAcquisition,
  Store,
} from '../../ports/store.ts';
import {
  backoff,
  CorruptRecordError,
  describeKey,
  epochSeconds,
  type Item,
  type ItemKey,
  ItemTable,
  ItemTooLargeError,
  keyOf,
  MAX_ITEM_BYTES,
  keyPart as part,
  plainJson,
  RecordNotFoundError,
  StoreConflictError,
  StoreError,
  utcInstant,
} from './dynamo-items.ts';
import { GlobalIndex, TableKey, TTL_ATTRIBUTE } from './table-design.ts';

export {
  CorruptRecordError,
  type ItemKey,
  ItemTooLargeError,
  MAX_ITEM_BYTES,
  RecordNotFoundError,
  StoreConflictError,
  StoreError,
};

/**
 * The Store over one DynamoDB table (DATA_MODEL.md has the entities and access patterns). It runs on
 * AWS and, unchanged, on dynalite for the embedded platform, so it uses only what dynalite has:
 * conditional writes, idempotent updates, Query and BatchGetItem. No Scan, no transaction, no stream.
 */

// Limits ------------------------------------------------------------------------------------------

/** A step outcome larger than this has its output trimmed to fit (`outputTruncated: true`). */
export const STEP_OUTCOME_BUDGET_BYTES = 350 * 1024;
/** Executions per listExecutions page, at most. */
export const MAX_PAGE_SIZE = 1000;

const BATCH_GET_MAX_KEYS = 100;
const BATCH_GET_MAX_ATTEMPTS = 10;
const OPTIMISTIC_MAX_ATTEMPTS = 50;
const SECONDS_PER_DAY = 86_400;

// Keys --------------------------------------------------------------------------------------------

export const Keys = {
  incident: (id: string): ItemKey => ({ pk: `INCIDENT#${part(id)}`, sk: 'INCIDENT' }),
  openIncidentLock: (fingerprint: string): ItemKey => ({
    pk: `FINGERPRINT#${part(fingerprint)}`,
    sk: 'OPEN',
  }),
  execution: (id: string): ItemKey => ({ pk: `EXEC#${part(id)}`, sk: 'EXECUTION' }),
  stepOutcome: (outcome: Pick<StepOutcome, 'executionId' | 'stepId' | 'kind' | 'attempt'>): ItemKey => ({
    pk: `EXEC#${part(outcome.executionId)}`,
    sk: `STEP#${part(outcome.stepId)}#${outcome.kind}#${String(outcome.attempt).padStart(4, '0')}`,
  }),
  approval: (executionId: string, approvalKey: string): ItemKey => ({
    pk: `EXEC#${part(executionId)}`,
    sk: `APPROVAL#${part(approvalKey)}`,
  }),
  killSwitch: (): ItemKey => ({ pk: 'SAFETY', sk: 'KILL_SWITCH' }),
  rateWindow: (key: string, windowStart: string): ItemKey => ({
    pk: `RATE#${part(key)}`,
    sk: `WINDOW#${utcInstant(windowStart, 'windowStart')}`,
  }),
  slots: (key: string): ItemKey => ({ pk: `SLOTS#${part(key)}`, sk: 'SLOTS' }),
  cooldown: (resourceKey: string): ItemKey => ({ pk: `COOLDOWN#${part(resourceKey)}`, sk: 'COOLDOWN' }),
  learning: (runbookId: string): ItemKey => ({ pk: 'LEARNING', sk: `RUNBOOK#${part(runbookId)}` }),
  unmatched: (source: string, name: string): ItemKey => ({
    pk: 'UNMATCHED',
    sk: `ALERT#${source}#${part(name)}`,
  }),
  notification: (notification: Pick<Notification, 'sentAt' | 'id'>): ItemKey => ({
    pk: 'OUTBOX',
    sk: `${utcInstant(notification.sentAt, 'sentAt')}#${part(notification.id)}`,
  }),
} as const;

const Partition = {
  executions: 'EXECUTIONS',
  runbook: (runbookId: string) => `RUNBOOK#${part(runbookId)}`,
  resource: (resourceKey: string) => `RESOURCE#${part(resourceKey)}`,
  outboxOfExecution: (executionId: string) => `OUTBOX#EXEC#${part(executionId)}`,
} as const;

// Expressions -------------------------------------------------------------------------------------

/** Builds ExpressionAttributeNames/Values; every attribute goes through a name (many are reserved words). */
class Expression {
  private readonly names: Record<string, string> = {};
  private readonly values: Record<string, unknown> = {};
  private counter = 0;

  name(path: string): string {
    return path
      .split('.')
      .map((segment) => {
        const placeholder = `#${segment.replace(/[^A-Za-z0-9_]/g, '_')}`;
        this.names[placeholder] = segment;
        return placeholder;
      })
      .join('.');
  }

  value(value: unknown): string {
    const placeholder = `:v${this.counter++}`;
    this.values[placeholder] = value;
    return placeholder;
  }

  attributes(): {
    ExpressionAttributeNames?: Record<string, string>;
    ExpressionAttributeValues?: Record<string, unknown>;
  } {
    return {
      ...(Object.keys(this.names).length > 0 ? { ExpressionAttributeNames: this.names } : {}),
      ...(Object.keys(this.values).length > 0 ? { ExpressionAttributeValues: this.values } : {}),
    };
  }
}

/** `SET a = :a, …` from a patch (a field set to `undefined` is left out: `REMOVE b, …`). */
function patchUpdate(expression: Expression, patch: Record<string, unknown>): string {
  const sets: string[] = [];
  const removes: string[] = [];
  for (const [field, value] of Object.entries(patch)) {
    if (value === undefined) removes.push(expression.name(field));
    else sets.push(`${expression.name(field)} = ${expression.value(value)}`);
  }
  return [
    sets.length > 0 ? `SET ${sets.join(', ')}` : '',
    removes.length > 0 ? `REMOVE ${removes.join(', ')}` : '',
  ]
    .filter(Boolean)
    .join(' ');
}

// Helpers -----------------------------------------------------------------------------------------

const IsoTime = z.iso.datetime({ offset: true });

const IncidentPatch = IncidentRecord.pick({
  decision: true,
  blockedReason: true,
  runbookId: true,
  executionId: true,
})
  .partial()
  .strict();
const ExecutionPatchSchema = ExecutionRecord.pick({
  status: true,
  stoppedAt: true,
  engineRef: true,
  currentState: true,
  outcome: true,
  control: true,
  stepOrder: true,
})
  .partial()
  .strict();
const HeldCheckpoint = ExecutionRecord.shape.heldCheckpoint.unwrap();
const ControlRequestSchema = z
  .object({
    pauseRequested: z.boolean().optional(),
    abortRequested: z.boolean().optional(),
    requestedBy: z.string().min(1),
    requestedAt: IsoTime,
    reason: z.string().optional(),
    unlessAborting: z.boolean().optional(),
  })
  .strict();

/** The open-incident lock: names the incident and carries it as first written (to complete a crashed open). */
const OpenIncidentLock = z.object({ incidentId: z.string(), incident: IncidentRecord }).strict();
type OpenIncidentLock = z.infer<typeof OpenIncidentLock>;

const ExecutionsCursor = z
  .object({ pk: z.string(), sk: z.string(), gsi1pk: z.literal(Partition.executions), gsi1sk: z.string() })
  .strict();

export interface DynamoStoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  /** Days an item is kept after its last write (the `ttl` attribute; AWS deletes expired items). */
  retentionDays: number;
  clock?: Clock;
  /**
   * Open incidents remembered per fingerprint, so a duplicate firing is one conditional update instead
   * of four commands (claim, read lock, read incident, update); 0 turns it off. The store stays the
   * authority: the update is conditional on the incident being open, and any miss takes the full path.
   */
  openIncidentCacheSize?: number;
}

/** Fingerprints of open incidents a store instance remembers by default. */
const OPEN_INCIDENT_CACHE_SIZE = 10_000;

export class DynamoStore implements Store {
  /** fingerprint → the lock of its open incident, as this process last saw it (oldest first). */
  private readonly openLocks = new Map<string, OpenIncidentLock>();
  /**
   * Per incident: duplicates that arrive while its count is being written are counted by the next
   * write (an alert storm costs one update per round trip, not one per firing).
   */
  private readonly joins = new GroupCommit<
    { lock: OpenIncidentLock; seenAt: string },
    IncidentRecord | undefined
  >((_incidentId, joins) =>
    this.countJoins(
      joins[0]!.lock,
      joins
        .map((join) => join.seenAt)
        .sort()
        .at(-1)!,
      joins.length,
    ),
  );
  private readonly openLocksMax: number;
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly table: ItemTable;
  private readonly retentionSeconds: number;
  private readonly clock: Clock;

  constructor(options: DynamoStoreOptions) {
    if (!options.tableName) {
      throw new ConfigurationError('DynamoStore: tableName is empty; set the table name');
    }
    if (!Number.isFinite(options.retentionDays) || options.retentionDays <= 0) {
      throw new ConfigurationError(
        `DynamoStore: retentionDays must be a positive number of days, got ${String(options.retentionDays)}`,
      );
    }
    this.client = options.client;
    this.tableName = options.tableName;
    this.openLocksMax = options.openIncidentCacheSize ?? OPEN_INCIDENT_CACHE_SIZE;
    this.table = new ItemTable(options.client, options.tableName);
    this.retentionSeconds = Math.round(options.retentionDays * SECONDS_PER_DAY);
    this.clock = options.clock ?? systemClock;
  }

  // Incidents and dedupe -------------------------------------------------------------------------

  async openIncident(input: IncidentRecord): Promise<OpenIncidentResult> {
    const incident = this.table.input(IncidentRecord, input, 'openIncident(incident)');
    if (incident.status !== 'open') {
      throw new ValidationError(
        `openIncident(incident): status is "${incident.status}"; only an open incident can be opened`,
        [{ path: 'status', message: 'expected "open"', check: 'schema' }],
      );
    }
    // A duplicate of an incident this process saw open: counted by the conditional update alone.
    const known = this.openLocks.get(incident.fingerprint);
    if (known?.incidentId === incident.id) {
      const joined = await this.joinIncident(known, incident.lastSeenAt);
      if (joined !== undefined) return { incident: joined, created: false };
      this.openLocks.delete(incident.fingerprint);
    }
    const opened = await this.openIncidentThroughLock(incident);
    this.rememberOpen(incident.fingerprint, { incidentId: opened.incident.id, incident: opened.incident });
    return opened;
  }

  private rememberOpen(fingerprint: string, lock: OpenIncidentLock): void {
    if (this.openLocksMax <= 0) return;
    this.openLocks.delete(fingerprint);
    this.openLocks.set(fingerprint, lock);
    if (this.openLocks.size > this.openLocksMax) this.openLocks.delete(this.openLocks.keys().next().value!);
  }

  /** Claims the fingerprint's lock or joins the incident it names (the store decides who opened it). */
  private async openIncidentThroughLock(incident: IncidentRecord): Promise<OpenIncidentResult> {
    const lockKey = Keys.openIncidentLock(incident.fingerprint);
    const lockItem = { ...lockKey, entity: 'OpenIncidentLock', incidentId: incident.id, incident };
    this.table.assertFits(lockKey, lockItem, 'openIncident');
    for (let attempt = 0; attempt < OPTIMISTIC_MAX_ATTEMPTS; attempt++) {
      const claimed = await this.table.conditional('PutItem', lockKey, () =>
        this.client.send(
          new PutCommand({
            TableName: this.tableName,
            Item: lockItem,
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        ),
      );
      const lock = claimed
        ? { incidentId: incident.id, incident }
        : await this.readLock(incident.fingerprint);
      if (lock === undefined) continue; // resolved in between: claim again
      // Same incident id: finish the opening if its opener crashed half way. Only the caller that claimed
      // the lock created it; a duplicate (an alert storm, a redelivered event) joins and is counted.
      if (lock.incidentId === incident.id) {
        const opened = await this.completeOpening(lock, claimed !== undefined);
        if (opened.status === 'open' && claimed !== undefined) return { incident: opened, created: true };
        if (opened.status === 'open') {
          const joined = await this.joinIncident(lock, incident.lastSeenAt);
          if (joined !== undefined) return { incident: joined, created: false };
          await backoff(attempt);
          continue;
        }
        await this.deleteLock(incident.fingerprint, incident.id);
        throw new StoreConflictError(
          `openIncident: incident id "${incident.id}" belongs to an incident resolved at ${opened.resolvedAt}; ` +
            'open a new incident with a new id',
          this.tableName,
          Keys.incident(incident.id),
        );
      }
      const joined = await this.joinIncident(lock, incident.lastSeenAt);
      if (joined !== undefined) return { incident: joined, created: false };
      await backoff(attempt); // the lock was stale (its incident resolved) and is gone: claim again
    }
    throw new StoreConflictError(
      `openIncident: fingerprint "${incident.fingerprint}" kept changing under ${OPTIMISTIC_MAX_ATTEMPTS} attempts; retry the alert`,
      this.tableName,
      lockKey,
    );
  }

  async getIncident(id: string): Promise<IncidentRecord | undefined> {
    return this.getRecord(Keys.incident(id), IncidentRecord, 'IncidentRecord');
  }

  async findOpenIncident(fingerprint: string): Promise<IncidentRecord | undefined> {
    const lock = await this.readLock(fingerprint);
    if (lock === undefined) return undefined;
    const incident = await this.completeOpening(lock);
    if (incident.status === 'open') return incident;
    await this.deleteLock(fingerprint, lock.incidentId);
    return undefined;
  }

  async updateIncident(
    id: string,
    patch: Partial<Pick<IncidentRecord, 'decision' | 'blockedReason' | 'runbookId' | 'executionId'>>,
  ): Promise<void> {
    const valid = this.validPatch(IncidentPatch, patch, `updateIncident(${id})`);
    const key = Keys.incident(id);
    if (Object.keys(valid).length === 0) {
      if ((await this.getIncident(id)) === undefined)
        throw this.notFound('updateIncident', 'incident', id, key);
      return;
    }
    const expression = new Expression();
    const updated = await this.updateIf(
      key,
      expression,
      patchUpdate(expression, valid),
      `attribute_exists(${expression.name('pk')})`,
    );
    if (!updated) throw this.notFound('updateIncident', 'incident', id, key);
  }

  async resolveIncident(
    fingerprint: string,
    alertInput: Alert,
    at: string,
  ): Promise<IncidentRecord | undefined> {
    const alert = this.table.input(Alert, alertInput, 'resolveIncident(alert)');
    const resolvedAt = this.table.input(IsoTime, at, 'resolveIncident(at)');
    this.openLocks.delete(fingerprint);
    const lock = await this.readLock(fingerprint);
    if (lock === undefined) return undefined;
    await this.completeOpening(lock);
    const key = Keys.incident(lock.incidentId);
    const expression = new Expression();
    const sets = [
      `${expression.name('status')} = ${expression.value('resolved')}`,
      `${expression.name('resolvedAt')} = ${expression.value(resolvedAt)}`,
      `${expression.name('alert.status')} = ${expression.value('resolved')}`,
      `${expression.name(TTL_ATTRIBUTE)} = ${expression.value(this.ttl())}`,
    ];
    if (alert.endsAt !== undefined)
      sets.push(`${expression.name('alert.endsAt')} = ${expression.value(alert.endsAt)}`);
    const result = await this.updateIf(
      key,
      expression,
      `SET ${sets.join(', ')}`,
      `attribute_exists(${expression.name('pk')}) AND ${expression.name('status')} = ${expression.value('open')}`,
      'ALL_NEW',
    );
    await this.deleteLock(fingerprint, lock.incidentId);
    if (!result) return undefined; // resolved concurrently by another caller
    return this.table.record(IncidentRecord, 'IncidentRecord', key, result.Attributes ?? {});
  }

  async recordUnmatched(alertInput: Alert, at: string): Promise<void> {
    const alert = this.table.input(Alert, alertInput, 'recordUnmatched(alert)');
    const seenAt = this.table.input(IsoTime, at, 'recordUnmatched(at)');
    const key = Keys.unmatched(alert.source, alert.name);
    const expression = new Expression();
    const summary: AlertSummary = plainJson(summarizeAlert(alert));
    const update =
      `ADD ${expression.name('count')} ${expression.value(1)} ` +
      `SET ${expression.name('entity')} = ${expression.value('UnmatchedAlert')}, ` +
      `${expression.name('name')} = ${expression.value(alert.name)}, ` +
      `${expression.name('source')} = ${expression.value(alert.source)}, ` +
      `${expression.name('firstSeenAt')} = if_not_exists(${expression.name('firstSeenAt')}, ${expression.value(seenAt)}), ` +
      `${expression.name('lastSeenAt')} = ${expression.value(seenAt)}, ` +
      `${expression.name('lastAlert')} = ${expression.value(summary)}, ` +
      `${expression.name('lastLabels')} = ${expression.value({ ...alert.labels })}, ` +
      `${expression.name(TTL_ATTRIBUTE)} = ${expression.value(this.ttl())}`;
    await this.table.call('UpdateItem', key, () =>
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: update,
          ...expression.attributes(),
        }),
      ),
    );
  }

  async listUnmatched(): Promise<UnmatchedAlertSummary[]> {
    const items = await this.queryAll({ partition: 'UNMATCHED' });
    return items
      .map((item) => this.table.record(UnmatchedAlertSummary, 'UnmatchedAlertSummary', keyOf(item), item))
      .sort((a, b) => b.count - a.count || a.name.localeCompare(b.name) || a.source.localeCompare(b.source));
  }

  // Executions ---------------------------------------------------------------------------------------

  async createExecution(input: ExecutionRecord): Promise<boolean> {
    const record = this.table.input(ExecutionRecord, input, 'createExecution(record)');
    const key = Keys.execution(record.id);
    const sortKey = `${utcInstant(record.startedAt, 'startedAt')}#${part(record.id)}`;
    const item: Item = {
      ...key,
      entity: 'Execution',
      ...record,
      [GlobalIndex.executionsByStart.partitionKey]: Partition.executions,
      [GlobalIndex.executionsByStart.sortKey]: sortKey,
      [GlobalIndex.byRunbookOrExecution.partitionKey]: Partition.runbook(record.runbookId),
      [GlobalIndex.byRunbookOrExecution.sortKey]: sortKey,
      [GlobalIndex.byResource.partitionKey]: Partition.resource(record.resourceKey),
      [GlobalIndex.byResource.sortKey]: sortKey,
      [TTL_ATTRIBUTE]: this.ttl(),
    };
    return this.table.putIfAbsent(key, item);
  }

  async getExecution(id: string): Promise<ExecutionRecord | undefined> {
    return this.getRecord(Keys.execution(id), ExecutionRecord, 'ExecutionRecord');
  }

  async updateExecution(id: string, patch: ExecutionPatch): Promise<ExecutionRecord> {
    const valid = this.validPatch(ExecutionPatchSchema, patch, `updateExecution(${id})`);
    const key = Keys.execution(id);
    const expression = new Expression();
    const result = await this.updateIf(
      key,
      expression,
      patchUpdate(expression, { ...valid, [TTL_ATTRIBUTE]: this.ttl() }),
      `attribute_exists(${expression.name('pk')})`,
      'ALL_NEW',
    );
    if (!result) throw this.notFound('updateExecution', 'execution', id, key);
    return this.table.record(ExecutionRecord, 'ExecutionRecord', key, result.Attributes ?? {});
  }

  async listExecutions(options: { limit: number; cursor?: string }): Promise<{
    executions: ExecutionRecord[];
    cursor?: string;
  }> {
    const limit = options.limit;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
      throw new ValidationError(
        `listExecutions: limit must be an integer from 1 to ${MAX_PAGE_SIZE}, got ${limit}`,
        [{ path: 'limit', message: `expected 1..${MAX_PAGE_SIZE}`, check: 'schema' }],
      );
    }
    const index = GlobalIndex.executionsByStart;
    // One key more than asked: a cursor is returned only when another page really exists.
    const keys = await this.queryAll(
      { index, partition: Partition.executions, newestFirst: true, startKey: decodeCursor(options.cursor) },
      limit + 1,
    );
    const page = keys.slice(0, limit);
    const executions = await this.batchGetRecords(page.map(keyOf), ExecutionRecord, 'ExecutionRecord');
    const last = page.at(-1);
    if (keys.length <= limit || last === undefined) return { executions };
    return {
      executions,
      cursor: encodeCursor({
        pk: String(last.pk),
        sk: String(last.sk),
        gsi1pk: Partition.executions,
        gsi1sk: String(last[index.sortKey]),
      }),
    };
  }

  async listExecutionsByRunbook(runbookId: string, since: string): Promise<ExecutionRecord[]> {
    return this.executionsSince(GlobalIndex.byRunbookOrExecution, Partition.runbook(runbookId), since);
  }

  async listExecutionsByResource(resourceKey: string, since: string): Promise<ExecutionRecord[]> {
    return this.executionsSince(GlobalIndex.byResource, Partition.resource(resourceKey), since);
  }

  async requestControl(executionId: string, request: ControlRequest): Promise<ExecutionRecord | undefined> {
    const valid = this.table.input(ControlRequestSchema, request, `requestControl(${executionId})`);
    const key = Keys.execution(executionId);
    const expression = new Expression();
    const sets: string[] = [];
    const set = (field: string, value: unknown) =>
      sets.push(`${expression.name(`control.${field}`)} = ${expression.value(value)}`);
    if (valid.pauseRequested !== undefined) set('pauseRequested', valid.pauseRequested);
    if (valid.abortRequested !== undefined) set('abortRequested', valid.abortRequested);
    set('requestedBy', valid.requestedBy);
    set('requestedAt', valid.requestedAt);
    const removeReason = valid.reason === undefined ? ` REMOVE ${expression.name('control.reason')}` : '';
    if (valid.reason !== undefined) set('reason', valid.reason);
    sets.push(`${expression.name(TTL_ATTRIBUTE)} = ${expression.value(this.ttl())}`);
    const status = expression.name('status');
    // Field by field, under a condition: a concurrent request's flags survive this one.
    const conditions = [
      `attribute_exists(${expression.name('pk')})`,
      `NOT ${status} IN (${[...TERMINAL_STATUSES].map((value) => expression.value(value)).join(', ')})`,
      ...(valid.unlessAborting
        ? [`${expression.name('control.abortRequested')} = ${expression.value(false)}`]
        : []),
    ];
    const result = await this.updateIf(
      key,
      expression,
      `SET ${sets.join(', ')}${removeReason}`,
      conditions.join(' AND '),
      'ALL_NEW',
    );
    return result
      ? this.table.record(ExecutionRecord, 'ExecutionRecord', key, result.Attributes ?? {})
      : undefined;
  }

  async holdCheckpoint(
    executionId: string,
    holdInput: NonNullable<ExecutionRecord['heldCheckpoint']>,
  ): Promise<void> {
    const hold = this.table.input(HeldCheckpoint, holdInput, `holdCheckpoint(${executionId})`);
    const key = Keys.execution(executionId);
    const expression = new Expression();
    const held = expression.name('heldCheckpoint');
    const updated = await this.updateIf(
      key,
      expression,
      // Idempotent for the same token; never overwrites another token (that execution would hang).
      `SET ${held} = ${expression.value(hold)}, ${expression.name(TTL_ATTRIBUTE)} = ${expression.value(this.ttl())}`,
      `attribute_exists(${expression.name('pk')}) AND ` +
        `(attribute_not_exists(${held}) OR ${expression.name('heldCheckpoint.taskToken')} = ${expression.value(hold.taskToken)})`,
    );
    if (updated) return;
    const current = await this.getExecution(executionId);
    if (current === undefined) throw this.notFound('holdCheckpoint', 'execution', executionId, key);
    throw new StoreConflictError(
      `holdCheckpoint: execution "${executionId}" is already held before "${current.heldCheckpoint?.before}" ` +
        `(since ${current.heldCheckpoint?.heldAt}) with another task token; release that checkpoint first`,
      this.tableName,
      key,
    );
  }

  async releaseCheckpoint(
    executionId: string,
  ): Promise<NonNullable<ExecutionRecord['heldCheckpoint']> | undefined> {
    const key = Keys.execution(executionId);
    const expression = new Expression();
    const result = await this.updateIf(
      key,
      expression,
      `REMOVE ${expression.name('heldCheckpoint')}`,
      `attribute_exists(${expression.name('heldCheckpoint')})`,
      'ALL_OLD',
    );
    if (!result) return undefined;
    const old = this.table.record(ExecutionRecord, 'ExecutionRecord', key, result.Attributes ?? {});
    return old.heldCheckpoint;
  }

  // Steps -------------------------------------------------------------------------------------------

  async putStepOutcome(input: StepOutcome): Promise<void> {
    const outcome = this.table.input(StepOutcome, input, 'putStepOutcome(outcome)');
    const key = Keys.stepOutcome(outcome);
    const item = this.fitStepOutcome(key, {
      ...key,
      entity: 'StepOutcome',
      ...outcome,
      [TTL_ATTRIBUTE]: this.ttl(),
    });
    this.table.assertFits(key, item, 'putStepOutcome');
    const expression = new Expression();
    const running = outcome.status === 'running';
    await this.table.conditional('PutItem', key, () =>
      this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: item,
          // A late "running" never overwrites the attempt's final outcome (messages can arrive out of order).
          ...(running
            ? {
                ConditionExpression: `attribute_not_exists(${expression.name('pk')}) OR ${expression.name('status')} = ${expression.value('running')}`,
                ...expression.attributes(),
              }
            : {}),
        }),
      ),
    );
  }

  async listStepOutcomes(executionId: string): Promise<StepOutcome[]> {
    const items = await this.queryAll({ partition: Keys.execution(executionId).pk, sortKeyPrefix: 'STEP#' });
    return items
      .map((item) => this.table.record(StepOutcome, 'StepOutcome', keyOf(item), item))
      .sort(
        (a, b) =>
          Date.parse(a.startedAt) - Date.parse(b.startedAt) ||
          a.attempt - b.attempt ||
          a.stepId.localeCompare(b.stepId),
      );
  }

  // Approvals ---------------------------------------------------------------------------------------

  async createApproval(input: ApprovalRecord): Promise<boolean> {
    const approval = this.table.input(ApprovalRecord, input, 'createApproval(approval)');
    const key = Keys.approval(approval.executionId, approvalKeyOf(approval));
    return this.table.putIfAbsent(key, {
      ...key,
      entity: 'Approval',
      ...approval,
      [TTL_ATTRIBUTE]: this.ttl(),
    });
  }

  async getApproval(executionId: string, approvalKey: string): Promise<ApprovalRecord | undefined> {
    return this.getRecord(Keys.approval(executionId, approvalKey), ApprovalRecord, 'ApprovalRecord');
  }

  async listApprovals(executionId: string): Promise<ApprovalRecord[]> {
    const items = await this.queryAll({
      partition: Keys.execution(executionId).pk,
      sortKeyPrefix: 'APPROVAL#',
    });
    return items
      .map((item) => this.table.record(ApprovalRecord, 'ApprovalRecord', keyOf(item), item))
      .sort((a, b) => Date.parse(a.requestedAt) - Date.parse(b.requestedAt));
  }

  async decideApproval(request: DecideApprovalRequest): Promise<DecideApprovalResult> {
    const decision = this.table.input(ApprovalDecision, request.decision, 'decideApproval(decision)');
    const now = this.table.input(IsoTime, request.now, 'decideApproval(now)');
    const key = Keys.approval(request.executionId, request.approvalKey);
    for (let attempt = 0; attempt < OPTIMISTIC_MAX_ATTEMPTS; attempt++) {
      const approval = await this.getApproval(request.executionId, request.approvalKey);
      if (approval === undefined) return { ok: false, reason: 'not-found' };
      if (!approval.approvers.includes(decision.approver))
        return { ok: false, reason: 'not-an-approver', approval };
      if (approval.status === 'expired') return { ok: false, reason: 'expired', approval };
      if (approval.status !== 'pending') return { ok: false, reason: 'not-pending', approval };
      if (Date.parse(now) >= Date.parse(approval.expiresAt))
        return { ok: false, reason: 'expired', approval };
      if (approval.decisions.some((earlier) => earlier.approver === decision.approver)) {
        return { ok: false, reason: 'already-decided', approval };
      }

      const decisions = [...approval.decisions, decision];
      const approvals = decisions.filter((each) => each.decision === 'approve').length;
      const status =
        decision.decision === 'reject' ? 'rejected' : approvals >= approval.quorum ? 'approved' : 'pending';
      const expression = new Expression();
      const sets = [
        `${expression.name('decisions')} = list_append(${expression.name('decisions')}, ${expression.value([plainJson(decision)])})`,
        `${expression.name('status')} = ${expression.value(status)}`,
      ];
      if (status !== 'pending') sets.push(`${expression.name('decidedAt')} = ${expression.value(now)}`);
      const result = await this.updateIf(
        key,
        expression,
        // Optimistic: applies only to the version read above (still pending, same number of decisions).
        `SET ${sets.join(', ')}`,
        `${expression.name('status')} = ${expression.value('pending')} AND ` +
          `size(${expression.name('decisions')}) = ${expression.value(approval.decisions.length)}`,
        'ALL_NEW',
      );
      if (result)
        return {
          ok: true,
          approval: this.table.record(ApprovalRecord, 'ApprovalRecord', key, result.Attributes ?? {}),
        };
      await backoff(attempt);
    }
    throw new StoreConflictError(
      `decideApproval: approval "${request.approvalKey}" of execution "${request.executionId}" changed under ` +
        `${OPTIMISTIC_MAX_ATTEMPTS} attempts; ask ${decision.approver} to submit again`,
      this.tableName,
      key,
    );
  }

  async closeApproval(
    executionId: string,
    approvalKey: string,
    status: 'expired' | 'cancelled',
    at: string,
  ): Promise<ApprovalRecord | undefined> {
    const closedAt = this.table.input(IsoTime, at, 'closeApproval(at)');
    const key = Keys.approval(executionId, approvalKey);
    const result = await this.updatePendingApproval(
      key,
      (expression) =>
        `${expression.name('status')} = ${expression.value(status)}, ${expression.name('decidedAt')} = ${expression.value(closedAt)}`,
    );
    if (!result) return undefined; // none, or settled already
    return this.table.record(ApprovalRecord, 'ApprovalRecord', key, result.Attributes ?? {});
  }

  async markApprovalReminded(executionId: string, approvalKey: string, at: string): Promise<boolean> {
    const remindedAt = this.table.input(IsoTime, at, 'markApprovalReminded(at)');
    const result = await this.updatePendingApproval(
      Keys.approval(executionId, approvalKey),
      (expression) => `${expression.name('remindedAt')} = ${expression.value(remindedAt)}`,
      (expression) => `attribute_not_exists(${expression.name('remindedAt')})`,
    );
    return result !== undefined;
  }

  /** SET on an approval that is still pending (and meets `also`); undefined when it is not, or absent. */
  private updatePendingApproval(
    key: ItemKey,
    set: (expression: Expression) => string,
    also?: (expression: Expression) => string,
  ) {
    const expression = new Expression();
    const update = `SET ${set(expression)}`;
    const pending = `${expression.name('status')} = ${expression.value('pending')}`;
    return this.updateIf(
      key,
      expression,
      update,
      also ? `${pending} AND ${also(expression)}` : pending,
      'ALL_NEW',
    );
  }

  // Safety ------------------------------------------------------------------------------------------

  async getKillSwitch(): Promise<KillSwitchState> {
    return (
      (await this.getRecord(Keys.killSwitch(), KillSwitchState, 'KillSwitchState')) ?? { engaged: false }
    );
  }

  async setKillSwitch(input: KillSwitchState): Promise<void> {
    const state = this.table.input(KillSwitchState, input, 'setKillSwitch(state)');
    const key = Keys.killSwitch();
    // No ttl: the kill switch must never silently disengage.
    await this.put(key, { ...key, entity: 'KillSwitch', ...state });
  }

  async acquireRate(
    rateKey: string,
    windowStart: string,
    max: number,
    expiresAt: string,
    member: string,
  ): Promise<RateAcquisition> {
    this.validCount(max, 'acquireRate(max)');
    const until = this.table.input(IsoTime, expiresAt, 'acquireRate(expiresAt)');
    if (max === 0) return false;
    const key = Keys.rateWindow(rateKey, windowStart);
    const expression = new Expression();
    const members = expression.name('members');
    const result = await this.updateIf(
      key,
      expression,
      // Counting the same member again is a no-op success: a retried classification uses no extra quota.
      `ADD ${members} ${expression.value(new Set([member]))} SET ${expression.name('entity')} = ${expression.value('RateWindow')}, ` +
        `${expression.name('expiresAt')} = ${expression.value(until)}, ` +
        `${expression.name(TTL_ATTRIBUTE)} = ${expression.value(epochSeconds(until))}`,
      `attribute_not_exists(${members}) OR size(${members}) < ${expression.value(max)} OR ` +
        `contains(${members}, ${expression.value(member)})`,
      'ALL_OLD',
    );
    if (result === undefined) return false;
    // The set before this update says whether this use is new (the caller may give a new one back).
    const before = (result.Attributes?.members as Set<string> | undefined) ?? new Set<string>();
    return before.has(member) ? 'already-counted' : 'counted';
  }

  async releaseRate(rateKey: string, windowStart: string, member: string): Promise<void> {
    const key = Keys.rateWindow(rateKey, windowStart);
    const expression = new Expression();
    await this.updateIf(
      key,
      expression,
      `DELETE ${expression.name('members')} ${expression.value(new Set([member]))}`,
      // Without the condition, releasing in a window never used would create an empty item.
      `attribute_exists(${expression.name('pk')})`,
    );
  }

  async acquireSlot(slotKey: string, executionId: string, max: number): Promise<boolean> {
    this.validCount(max, 'acquireSlot(max)');
    if (max === 0) return false;
    const key = Keys.slots(slotKey);
    const expression = new Expression();
    const holders = expression.name('holders');
    const result = await this.updateIf(
      key,
      expression,
      // Taking a slot it holds already is a no-op success (a retried step).
      `ADD ${holders} ${expression.value(new Set([executionId]))} SET ${expression.name('entity')} = ${expression.value('Slots')}`,
      `attribute_not_exists(${holders}) OR size(${holders}) < ${expression.value(max)} OR ` +
        `contains(${holders}, ${expression.value(executionId)})`,
    );
    return result !== undefined;
  }

  async releaseSlot(slotKey: string, executionId: string): Promise<void> {
    const key = Keys.slots(slotKey);
    const expression = new Expression();
    await this.updateIf(
      key,
      expression,
      // Without the condition, releasing a never-taken key would create an empty item.
      `DELETE ${expression.name('holders')} ${expression.value(new Set([executionId]))}`,
      `attribute_exists(${expression.name('pk')})`,
    );
  }

  async claimCooldown(resourceKey: string, now: string, until: string, holder: string): Promise<boolean> {
    const claimedAt = this.table.input(IsoTime, now, 'claimCooldown(now)');
    const endsAt = this.table.input(IsoTime, until, 'claimCooldown(until)');
    const key = Keys.cooldown(resourceKey);
    const expression = new Expression();
    const result = await this.table.conditional('PutItem', key, () =>
      this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...key,
            entity: 'Cooldown',
            resourceKey,
            holder,
            claimedAt,
            until: endsAt,
            untilMs: Date.parse(endsAt),
            [TTL_ATTRIBUTE]: epochSeconds(endsAt),
          },
          // Epoch milliseconds compare as numbers whatever offset the ISO strings were written with; the
          // holder may claim again (a retried classification).
          ConditionExpression:
            `attribute_not_exists(${expression.name('pk')}) OR ${expression.name('untilMs')} <= ${expression.value(Date.parse(claimedAt))} OR ` +
            `${expression.name('holder')} = ${expression.value(holder)}`,
          ...expression.attributes(),
        }),
      ),
    );
    return result !== undefined;
  }

  async releaseCooldown(resourceKey: string, holder: string): Promise<void> {
    const key = Keys.cooldown(resourceKey);
    const expression = new Expression();
    await this.table.conditional('DeleteItem', key, () =>
      this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: key,
          // Only this holder's claim: another's (or a later one) keeps its quiet time.
          ConditionExpression: `${expression.name('holder')} = ${expression.value(holder)}`,
          ...expression.attributes(),
        }),
      ),
    );
  }

  // Learning ----------------------------------------------------------------------------------------

  async putLearningAggregate(input: LearningAggregate): Promise<void> {
    const aggregate = this.table.input(LearningAggregate, input, 'putLearningAggregate(aggregate)');
    const key = Keys.learning(aggregate.runbookId);
    // No ttl: aggregates are what remains of executions once their records expire.
    await this.put(key, { ...key, entity: 'LearningAggregate', ...aggregate });
  }

  async getLearningAggregate(runbookId: string): Promise<LearningAggregate | undefined> {
    return this.getRecord(Keys.learning(runbookId), LearningAggregate, 'LearningAggregate');
  }

  async listLearningAggregates(): Promise<LearningAggregate[]> {
    const items = await this.queryAll({ partition: 'LEARNING', sortKeyPrefix: 'RUNBOOK#' });
    return items.map((item) => this.table.record(LearningAggregate, 'LearningAggregate', keyOf(item), item));
  }

  // Outbox ------------------------------------------------------------------------------------------

  async appendNotification(input: Notification): Promise<void> {
    const notification = this.table.input(Notification, input, 'appendNotification(notification)');
    const key = Keys.notification(notification);
    const byExecution = GlobalIndex.byRunbookOrExecution;
    await this.put(key, {
      ...key,
      entity: 'Notification',
      ...notification,
      ...(notification.executionId === undefined
        ? {}
        : {
            [byExecution.partitionKey]: Partition.outboxOfExecution(notification.executionId),
            [byExecution.sortKey]: key.sk,
          }),
      [TTL_ATTRIBUTE]: this.ttl(),
    });
  }

  async listNotifications(options: { limit: number; executionId?: string }): Promise<Notification[]> {
    const { limit, executionId } = options;
    if (!Number.isInteger(limit) || limit < 1) {
      throw new ValidationError(`listNotifications: limit must be a positive integer, got ${limit}`, [
        { path: 'limit', message: 'expected a positive integer', check: 'schema' },
      ]);
    }
    if (executionId === undefined) {
      const items = await this.queryAll({ partition: 'OUTBOX', newestFirst: true }, limit);
      return items.map((item) => this.table.record(Notification, 'Notification', keyOf(item), item));
    }
    const keys = await this.queryAll(
      {
        index: GlobalIndex.byRunbookOrExecution,
        partition: Partition.outboxOfExecution(executionId),
        newestFirst: true,
      },
      limit,
    );
    return this.batchGetRecords(keys.map(keyOf), Notification, 'Notification');
  }

  // Internals ---------------------------------------------------------------------------------------

  /** Epoch seconds `retentionDays` from now: when AWS may delete the item. */
  private ttl(): number {
    return Math.floor(this.clock.now().getTime() / 1000) + this.retentionSeconds;
  }

  private async readLock(fingerprint: string): Promise<OpenIncidentLock | undefined> {
    return this.getRecord(Keys.openIncidentLock(fingerprint), OpenIncidentLock, 'OpenIncidentLock');
  }

  /**
   * Writes the incident the lock names when it is missing (its opener crashed between the two puts)
   * and returns the stored incident. Idempotent: a put that finds the incident changes nothing.
   */
  private async completeOpening(lock: OpenIncidentLock, justClaimed = false): Promise<IncidentRecord> {
    const key = Keys.incident(lock.incidentId);
    if (!justClaimed) {
      const existing = await this.getIncident(lock.incidentId);
      if (existing !== undefined) return existing;
    }
    if (await this.table.putIfAbsent(key, { ...key, entity: 'Incident', ...lock.incident }))
      return lock.incident;
    const stored = await this.getIncident(lock.incidentId);
    if (stored === undefined) {
      throw new StoreError(
        `openIncident: incident "${lock.incidentId}" vanished right after it was written`,
        this.tableName,
        key,
      );
    }
    return stored;
  }

  /**
   * Counts one duplicate; undefined when its incident is no longer open. Each caller is answered once
   * the write that counted it is in the table.
   */
  private joinIncident(lock: OpenIncidentLock, seenAt: string): Promise<IncidentRecord | undefined> {
    return this.joins.add(lock.incidentId, { lock, seenAt });
  }

  private async countJoins(
    lock: OpenIncidentLock,
    seenAt: string,
    count: number,
  ): Promise<IncidentRecord | undefined> {
    const key = Keys.incident(lock.incidentId);
    for (let attempt = 0; attempt < 3; attempt++) {
      const expression = new Expression();
      const result = await this.updateIf(
        key,
        expression,
        `ADD ${expression.name('occurrences')} ${expression.value(count)} ` +
          `SET ${expression.name('lastSeenAt')} = ${expression.value(seenAt)}`,
        `attribute_exists(${expression.name('pk')}) AND ${expression.name('status')} = ${expression.value('open')}`,
        'ALL_NEW',
      );
      if (result) return this.table.record(IncidentRecord, 'IncidentRecord', key, result.Attributes ?? {});
      const current = await this.getIncident(lock.incidentId);
      if (current === undefined) {
        // Its opener has not written it yet (or crashed after the lock): write it from the lock, then count.
        await this.table.putIfAbsent(key, { ...key, entity: 'Incident', ...lock.incident });
        continue;
      }
      if (current.status !== 'open') {
        // Resolved, and the resolver has not removed the lock yet (or crashed before): remove it for them.
        await this.deleteLock(lock.incident.fingerprint, lock.incidentId);
        return undefined;
      }
    }
    return undefined;
  }

  private async deleteLock(fingerprint: string, incidentId: string): Promise<void> {
    if (this.openLocks.get(fingerprint)?.incidentId === incidentId) this.openLocks.delete(fingerprint);
    const key = Keys.openIncidentLock(fingerprint);
    const expression = new Expression();
    await this.table.conditional('DeleteItem', key, () =>
      this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: key,
          // Only the lock of this incident: a newer incident may hold the fingerprint already.
          ConditionExpression: `${expression.name('incidentId')} = ${expression.value(incidentId)}`,
          ...expression.attributes(),
        }),
      ),
    );
  }

  private async executionsSince(
    index: (typeof GlobalIndex)[keyof typeof GlobalIndex],
    partition: string,
    since: string,
  ) {
    const from = utcInstant(since, 'since');
    const keys = await this.queryAll({ index, partition, newestFirst: true, sortKeyFrom: from });
    return this.batchGetRecords(keys.map(keyOf), ExecutionRecord, 'ExecutionRecord');
  }

  /**
   * Trims an output that would make the item too large, keeping its shape (trimToBudget: long strings
   * and lists shrink first), and flags it `outputTruncated`. The step runner trims before this; this is
   * the table's own guard, so a write never fails on size.
   */
  private fitStepOutcome(key: ItemKey, item: Item): Item {
    const bytes = jsonBytes(item);
    if (bytes <= STEP_OUTCOME_BUDGET_BYTES) return item;
    const { output, ...rest } = item;
    const room = STEP_OUTCOME_BUDGET_BYTES - jsonBytes({ ...rest, outputTruncated: true, output: null });
    if (room <= 0 || output === undefined) {
      throw new ItemTooLargeError(
        `putStepOutcome: the outcome of step "${String(item.stepId)}" (${describeKey(key)}) is ${bytes} bytes ` +
          'without room for its output even after trimming it; shorten its parameters or error message',
        this.tableName,
        key,
        bytes,
        STEP_OUTCOME_BUDGET_BYTES,
      );
    }
    return { ...rest, outputTruncated: true, output: trimToBudget(output, room).value };
  }

  private async getRecord<T>(key: ItemKey, schema: z.ZodType<T>, entity: string): Promise<T | undefined> {
    const result = await this.table.call('GetItem', key, () =>
      this.client.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true })),
    );
    return result.Item === undefined ? undefined : this.table.record(schema, entity, key, result.Item);
  }

  /** Validates a patch; a field set to `undefined` is left unchanged, as a spread `Partial` suggests. */
  private validPatch<T extends Record<string, unknown>>(schema: z.ZodType<T>, patch: T, where: string): Item {
    return this.table.input(schema, patch, where) as Item;
  }

  private validCount(value: number, where: string): void {
    if (!Number.isInteger(value) || value < 0) {
      throw new ValidationError(`${where}: expected a non-negative integer, got ${value}`, [
        { path: where, message: 'expected a non-negative integer', check: 'schema' },
      ]);
    }
  }

  private notFound(operation: string, entity: string, id: string, key: ItemKey): RecordNotFoundError {
    return new RecordNotFoundError(
      `${operation}: no ${entity} "${id}" (${describeKey(key)}) in table "${this.tableName}"`,
      this.tableName,
      key,
    );
  }

  private async put(key: ItemKey, item: Item): Promise<void> {
    this.table.assertFits(key, item, 'PutItem');
    await this.table.call('PutItem', key, () =>
      this.client.send(new PutCommand({ TableName: this.tableName, Item: item })),
    );
  }

  /** Queries one partition (of the table or an index), following pages until `max` items or the end. */
  private async queryAll(
    query: {
      partition: string;
      index?: (typeof GlobalIndex)[keyof typeof GlobalIndex];
      sortKeyPrefix?: string;
      sortKeyFrom?: string;
      newestFirst?: boolean;
      startKey?: Item | undefined;
    },
    max = Number.POSITIVE_INFINITY,
  ): Promise<Item[]> {
    const expression = new Expression();
    const partitionName = expression.name(query.index?.partitionKey ?? TableKey.partition);
    const sortName = () => expression.name(query.index?.sortKey ?? TableKey.sort);
    let condition = `${partitionName} = ${expression.value(query.partition)}`;
    if (query.sortKeyPrefix !== undefined)
      condition += ` AND begins_with(${sortName()}, ${expression.value(query.sortKeyPrefix)})`;
    if (query.sortKeyFrom !== undefined)
      condition += ` AND ${sortName()} >= ${expression.value(query.sortKeyFrom)}`;
    const where: ItemKey = { pk: query.partition, sk: query.index ? `(index ${query.index.name})` : '*' };
    const items: Item[] = [];
    let startKey = query.startKey;
    do {
      const input: QueryCommandInput = {
        TableName: this.tableName,
        KeyConditionExpression: condition,
        ScanIndexForward: !query.newestFirst,
        ...expression.attributes(),
        ...(query.index ? { IndexName: query.index.name } : { ConsistentRead: true }),
        ...(Number.isFinite(max) ? { Limit: max - items.length } : {}),
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      };
      const page = await this.table.call('Query', where, () => this.client.send(new QueryCommand(input)));
      items.push(...((page.Items ?? []) as Item[]));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined && items.length < max);
    return items;
  }

  /** BatchGetItem in chunks of 100, retrying unprocessed keys; records come back in the keys' order. */
  private async batchGetRecords<T>(keys: ItemKey[], schema: z.ZodType<T>, entity: string): Promise<T[]> {
    const found = new Map<string, Item>();
    const id = (key: ItemKey) => `${key.pk}\u0000${key.sk}`;
    for (let start = 0; start < keys.length; start += BATCH_GET_MAX_KEYS) {
      let pending: ItemKey[] = keys.slice(start, start + BATCH_GET_MAX_KEYS);
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt >= BATCH_GET_MAX_ATTEMPTS) {
          throw new StoreError(
            `BatchGetItem on table "${this.tableName}": ${pending.length} keys still unprocessed after ` +
              `${BATCH_GET_MAX_ATTEMPTS} attempts (first: ${describeKey(pending[0]!)}); the table is throttled, retry later`,
            this.tableName,
            pending[0],
          );
        }
        if (attempt > 0) await backoff(attempt + 3);
        const request = pending;
        const result = await this.table.call('BatchGetItem', request[0], () =>
          this.client.send(
            new BatchGetCommand({
              RequestItems: { [this.tableName]: { Keys: request, ConsistentRead: true } },
            }),
          ),
        );
        for (const item of (result.Responses?.[this.tableName] ?? []) as Item[])
          found.set(id(keyOf(item)), item);
        pending = (result.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as ItemKey[];
      }
    }
    const records: T[] = [];
    for (const key of keys) {
      const item = found.get(id(key));
      // An index entry whose item is gone (expired between the Query and the read) is skipped.
      if (item !== undefined) records.push(this.table.record(schema, entity, key, item));
    }
    return records;
  }

  /** Like `call`, but a failed condition is an answer (undefined), not an error. */
  /** An UpdateItem that applies only when `condition` holds; undefined when it does not. */
  private updateIf(
    key: ItemKey,
    expression: Expression,
    update: string,
    condition: string,
    returnValues?: 'ALL_NEW' | 'ALL_OLD',
  ) {
    return this.table.conditional('UpdateItem', key, () =>
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: update,
          ConditionExpression: condition,
          ...(returnValues ? { ReturnValues: returnValues } : {}),
          ...expression.attributes(),
        }),
      ),
    );
  }
}

// Module helpers ----------------------------------------------------------------------------------

/**
 * An approval's key inside its execution. Approval ids are `approvalPublicId(executionId, approvalKey)`
 * (links carry them), so the key is read back from the id; an id of another shape is refused.
 */
export function approvalKeyOf(approval: Pick<ApprovalRecord, 'id' | 'executionId'>): string {
  const parsed = parseApprovalPublicId(approval.id);
  if (parsed === undefined || parsed.executionId !== approval.executionId) {
    throw new ValidationError(
      `createApproval(approval): id "${approval.id}" is not approvalPublicId("${approval.executionId}", approvalKey); ` +
        'build approval ids with approvalPublicId from functions/core/approval-links.ts',
      [{ path: 'id', message: 'expected approvalPublicId(executionId, approvalKey)', check: 'schema' }],
    );
  }
  return parsed.approvalKey;
}

function encodeCursor(key: z.infer<typeof ExecutionsCursor>): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string | undefined): Item | undefined {
  if (cursor === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  const parsed = ExecutionsCursor.safeParse(value);
  if (!parsed.success) {
    throw new ValidationError(
      'listExecutions: cursor is not one listExecutions returned; start again without a cursor',
      [{ path: 'cursor', message: 'unrecognized cursor', check: 'schema' }],
    );
  }
  return parsed.data;
}
