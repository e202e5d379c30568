import type { AutomationRun, HumanAction } from '../core/automation/evidence.ts';
import type {
  AlertCounts,
  AlertDecisionCounted,
  LevelChange,
  LevelRecord,
  SafetyIncident,
} from '../core/automation/records.ts';

/**
 * What graduated automation persists: levels (conditional writes: two writers never both win), the
 * history of level changes, one derived record per finished run, the actions people report, safety
 * incidents, and the daily alert counts coverage is measured on. No request path scans.
 */
export interface AutomationStore {
  getLevel(environment: string, runbookId: string): Promise<LevelRecord | undefined>;
  listLevels(environment: string): Promise<LevelRecord[]>;
  /**
   * Stores `record` when the stored version is still `expectedVersion` (0: nothing stored yet) and
   * appends its change to the history; false when another writer changed the level first.
   */
  setLevel(record: LevelRecord, expectedVersion: number): Promise<boolean>;
  /** Newest first; always includes the change that set the current level. */
  listLevelChanges(environment: string, runbookId: string, limit: number): Promise<LevelChange[]>;

  /** Stores (or replaces: it is derived from the execution's records) one run's automation record. */
  putRun(run: AutomationRun): Promise<void>;
  getRun(
    run: Pick<AutomationRun, 'environment' | 'runbookId' | 'startedAt' | 'executionId'>,
  ): Promise<AutomationRun | undefined>;
  /** Runs of a runbook started at or after `since`, oldest first. */
  listRuns(environment: string, runbookId: string, since: string): Promise<AutomationRun[]>;

  /** Appends what a person did; false when an action with this id exists (a retried request). */
  recordHumanAction(action: HumanAction): Promise<boolean>;
  listHumanActions(executionId: string): Promise<HumanAction[]>;

  /** Records a safety incident once per id; false when it was recorded already. */
  recordSafetyIncident(incident: SafetyIncident): Promise<boolean>;
  /** Newest first. */
  listSafetyIncidents(environment: string, since: string): Promise<SafetyIncident[]>;

  /** Counts one new alert's decision on `day` (YYYY-MM-DD, UTC); an atomic add. */
  countAlert(environment: string, day: string, decision: AlertDecisionCounted): Promise<void>;
  /** Days from `sinceDay` on, oldest first. */
  listAlertCounts(environment: string, sinceDay: string): Promise<AlertCounts[]>;
}
