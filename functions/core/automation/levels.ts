import * as z from 'zod';

/**
 * Graduated automation: how far a runbook may act on its own in an environment. The runbook declares
 * its ceiling, the environment its default, and the store keeps the level evidence (demotion by rule,
 * promotion by a person) set; the effective level is the lowest of the three.
 */

/** From the most cautious to the least: the order of the enum is the order of trust. */
export const AutomationLevel = z.enum(['observe', 'shadow', 'approve', 'autonomous']);
export type AutomationLevel = z.infer<typeof AutomationLevel>;

export const AUTOMATION_LEVELS: readonly AutomationLevel[] = AutomationLevel.options;

export const LEVEL_RANK = { observe: 1, shadow: 2, approve: 3, autonomous: 4 } as const satisfies Record<
  AutomationLevel,
  number
>;

/** What each level lets a runbook do, in words for pages, e-mails and the CLI. */
export const LEVEL_MEANING: Record<AutomationLevel, string> = {
  observe: 'diagnostics only; every change is shown as its dry run',
  shadow:
    'runs on live alerts with every change replaced by its dry run; records what it would have done and how the alert cleared',
  approve: 'every change waits for a person’s approval',
  autonomous: 'changes run as the runbook says (its own approval gates still apply)',
};

export function lowerLevel(a: AutomationLevel, b: AutomationLevel): AutomationLevel {
  return LEVEL_RANK[a] <= LEVEL_RANK[b] ? a : b;
}

/** The next level up, or undefined at the top. */
export function levelAbove(level: AutomationLevel): AutomationLevel | undefined {
  return AUTOMATION_LEVELS[AUTOMATION_LEVELS.indexOf(level) + 1];
}

/** Levels at which no change is made: every mutating step runs as its dry run. */
export function changesRunDry(level: AutomationLevel | undefined): boolean {
  return level === 'observe' || level === 'shadow';
}

/** Which of the three bounds set the effective level (the lowest; ties name the first). */
export type LevelBound = 'runbook-ceiling' | 'environment-default' | 'evidence';

export interface EffectiveLevel {
  level: AutomationLevel;
  boundBy: LevelBound;
  ceiling: AutomationLevel;
  environmentDefault: AutomationLevel;
  /** Absent until evidence or a person set one. */
  stored?: AutomationLevel;
}

export function effectiveLevel(bounds: {
  ceiling: AutomationLevel;
  environmentDefault: AutomationLevel;
  stored?: AutomationLevel | undefined;
}): EffectiveLevel {
  const candidates: Array<[AutomationLevel, LevelBound]> = [
    [bounds.ceiling, 'runbook-ceiling'],
    [bounds.environmentDefault, 'environment-default'],
    ...(bounds.stored ? [[bounds.stored, 'evidence'] as [AutomationLevel, LevelBound]] : []),
  ];
  let [level, boundBy] = candidates[0]!;
  for (const [candidate, bound] of candidates.slice(1)) {
    if (LEVEL_RANK[candidate] < LEVEL_RANK[level]) [level, boundBy] = [candidate, bound];
  }
  return {
    level,
    boundBy,
    ceiling: bounds.ceiling,
    environmentDefault: bounds.environmentDefault,
    ...(bounds.stored ? { stored: bounds.stored } : {}),
  };
}

const Fraction = z.number().min(0).max(1);

/**
 * The environment's automation policy (cdk.json `automation`, RuntimeConfig.automation). Evidence is
 * the Wilson lower bound of verified success per runbook and alert signature, counted from the runs
 * since the level was last set.
 */
export const AutomationPolicy = z
  .object({
    /** The level runbooks start at in this environment (the lowest of this and each runbook's ceiling). */
    defaultLevel: AutomationLevel.default('autonomous'),
    /** Confidence of the Wilson lower bound (0.95: z ≈ 1.96). */
    confidence: z.number().gt(0).lt(1).default(0.95),
    demotion: z
      .object({
        /** This many failed or rolled-back real runs in a row demote autonomous to approve. */
        consecutiveFailures: z.number().int().min(1).max(100).default(2),
        /** The bound is judged only once a runbook has this many real runs of one alert signature. */
        minRuns: z.number().int().min(1).max(10_000).default(5),
        /** A bound of verified success under this demotes autonomous to approve. */
        threshold: Fraction.default(0.5),
      })
      .strict()
      .prefault({}),
    promotion: z
      .object({
        /** Runs at the current level (since it was set) before a promotion is proposed. */
        minRuns: z.number().int().min(1).max(10_000).default(10),
        /** The bound of success at the current level a proposal needs. */
        threshold: Fraction.default(0.7),
      })
      .strict()
      .prefault({}),
    /**
     * Approver groups asked when the approve level holds a change no runbook approval gate covers;
     * empty: every approver group of the environment.
     */
    approverGroups: z.array(z.string().min(1)).default([]),
    /** Escalation targets told when a runbook is demoted or promoted. */
    notify: z.array(z.string().min(1)).default(['default']),
  })
  .strict()
  .superRefine((policy, context) => {
    if (policy.promotion.threshold < policy.demotion.threshold)
      context.addIssue({
        code: 'custom',
        path: ['promotion', 'threshold'],
        message: `must be at least demotion.threshold (${policy.demotion.threshold}): a promoted runbook would be demoted by its own evidence`,
      });
  });
export type AutomationPolicy = z.infer<typeof AutomationPolicy>;

export const DEFAULT_AUTOMATION_POLICY: AutomationPolicy = AutomationPolicy.parse({});

/** The runbook's own word (`automation.ceiling` in its YAML); absent: autonomous. */
export const RunbookAutomation = z
  .object({
    ceiling: AutomationLevel.default('autonomous').describe(
      'the highest automation level this runbook may reach in any environment (observe, shadow, approve, autonomous)',
    ),
  })
  .strict();
export type RunbookAutomation = z.infer<typeof RunbookAutomation>;

export function ceilingOf(runbook: {
  id: string;
  automation?: RunbookAutomation | undefined;
}): AutomationLevel {
  return runbook.automation?.ceiling ?? 'autonomous';
}
