import { z } from 'zod';

/** scenarios/results.json: what `npm run scenarios` measured, checked before it is written. */

export const ExecutionMeasure = z
  .object({
    executionId: z.string(),
    runbookId: z.string(),
    status: z.string(),
    alert: z.string(),
    /** Alertmanager's startsAt of the alert → the execution stopped (waits shortened by waitScale). */
    timeToMitigateMs: z.number().optional(),
    /** The same with every runbook.wait at its full length (measured + waited × (1/waitScale − 1)). */
    timeToMitigateFullWaitsMs: z.number().optional(),
    /** The runbook's optimizationTargets.baselineMttr: the manual recovery time it declares (an estimate for the built-in library). */
    baselineMttrMs: z.number().optional(),
    /** Each approval's final status (approved, expired…). */
    approvals: z.array(z.string()),
    escalations: z.number().int(),
    compensations: z.array(z.object({ stepId: z.string(), status: z.string() }).strict()),
    /** Per approval: its task token minted (the engine entering its Approval state) → its request arriving at the receiver (the sink's clock). */
    approvalNotificationLatencyMs: z.array(z.number()),
    /** Per approval the harness approved: the same start → the approval decided (the record's decidedAt). */
    approvalDecisionLatencyMs: z.array(z.number()),
  })
  .strict();
export type ExecutionMeasure = z.infer<typeof ExecutionMeasure>;

export const ScenarioResult = z
  .object({
    id: z.string(),
    /** library: a simulated incident remediated as shipped; fault: the same with a fault injected. */
    kind: z.enum(['library', 'fault']),
    fault: z.string(),
    /** The simulated incidents it plays (local/sim/scenarios). */
    simulated: z.array(z.string()),
    /** prometheus: the real Alertmanager's webhook; cloudwatch: the simulated account's EventBridge event. */
    alertSource: z.enum(['prometheus', 'cloudwatch']),
    expected: z.string(),
    passed: z.boolean(),
    failures: z.array(z.string()),
    durationMs: z.number(),
    executions: z.array(ExecutionMeasure),
    /** pause or kill switch requested → its effect seen on the execution. */
    overrideLatencyMs: z.array(z.object({ override: z.string(), ms: z.number() }).strict()),
    /** The learning report's automation.safetyIncidents on this scenario's platform. */
    safetyIncidents: z.array(z.unknown()),
    notes: z.array(z.string()),
  })
  .strict();
export type ScenarioResult = z.infer<typeof ScenarioResult>;

const Spread = z
  .object({ count: z.number().int(), median: z.number().nullable(), max: z.number().nullable() })
  .strict();

export const Summary = z
  .object({
    scenarios: z.number().int(),
    passed: z.number().int(),
    executions: z.number().int(),
    automatedSuccessRate: z.number().nullable(),
    runsNeedingHumanAction: z.number().int(),
    runsWithApprovalsOnly: z.number().int(),
    runsWithoutHuman: z.number().int(),
    compensations: z.number().int(),
    compensationSuccessRate: z.number().nullable(),
    overrideLatencyMs: z.array(z.object({ override: z.string(), ms: z.number() }).strict()),
    approvalNotificationLatencyMs: Spread,
    approvalDecisionLatencyMs: Spread,
    safetyIncidents: z.number().int(),
    timeToMitigate: z.array(
      z
        .object({
          runbookId: z.string(),
          scenario: z.string(),
          measuredMs: z.number(),
          fullWaitsMs: z.number(),
          baselineMttrMs: z.number().nullable(),
          /** 1 − fullWaits / baseline: the design's MTTR reduction (goal ≥ 60%). */
          reduction: z.number().nullable(),
        })
        .strict(),
    ),
  })
  .strict();
export type Summary = z.infer<typeof Summary>;

export const Results = z
  .object({
    generatedAt: z.string(),
    command: z.string(),
    machine: z
      .object({
        cpus: z.number().int(),
        model: z.string(),
        node: z.string(),
        platform: z.string(),
        loadAverage: z.object({ start: z.array(z.number()), end: z.array(z.number()) }).strict(),
      })
      .strict(),
    waitScale: z.number(),
    /** `npm run scenarios` from its start (lanes starting and compiling their machines) to the last scenario's end. */
    wallTimeMs: z.number(),
    /** Each lane (a process of its own) and the scenarios it played in turn, from the start of the run. */
    lanes: z.array(
      z
        .object({
          lane: z.number().int(),
          scenarios: z.array(z.object({ id: z.string(), startMs: z.number(), endMs: z.number() }).strict()),
        })
        .strict(),
    ),
    baselineSource: z.string(),
    runbooksDir: z.string(),
    summary: Summary,
    scenarios: z.array(ScenarioResult),
    notCovered: z.array(z.object({ what: z.string(), why: z.string() }).strict()),
  })
  .strict();
export type Results = z.infer<typeof Results>;
