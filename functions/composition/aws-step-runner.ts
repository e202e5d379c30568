import { ChangeGate } from '../core/limits/change-gate.ts';
import { EscalationService } from '../core/services/escalation.ts';
import { RecordService } from '../core/services/record.ts';
import { StepRunner } from '../core/services/step-runner.ts';
import { HealthWatcher } from '../core/watch/health-watch.ts';
import { StuckStepWatchdog } from '../core/watch/stuck-step.ts';
import type { ToolRegistry } from '../ports/tools.ts';
import { createToolRegistry } from '../tools/index.ts';
import type { EksAccess } from '../tools/kubernetes/eks.ts';
import {
  audit,
  automation,
  changeLocks,
  checkpoints,
  clock,
  config,
  controlLinks,
  engine,
  limits,
  logger,
  notifier,
  once,
  risk,
  rollbackService,
  store,
  watchStore,
} from './aws.ts';

/*
 * The step runner's wiring on AWS, apart from composition/aws.ts: the tool registry's families are
 * dynamic imports, which esbuild makes chunks of every bundle whose modules reach them; only the step
 * runner's entry reaches this module, so only its bundle carries the tools.
 */

/**
 * EKS tokens from the function's own role (its access entry maps it to Kubernetes groups); endpoints the
 * config leaves out are read with eks:DescribeCluster. Its code (the EKS client, SigV4) loads when a step
 * first reaches an EKS cluster: a function that never does never loads it.
 */
let eksAccessLoading: Promise<EksAccess> | undefined;
const eksAccess = (): Promise<EksAccess> =>
  (eksAccessLoading ??= Promise.all([
    import('../tools/kubernetes/eks.ts'),
    import('@aws-sdk/credential-provider-node'),
  ]).then(
    ([{ EksAccess, describeWithSdk }, { defaultProvider }]) =>
      new EksAccess({
        credentials: defaultProvider(),
        defaultRegion: () => config().tools.defaultRegion ?? process.env.AWS_REGION,
        describe: describeWithSdk(),
      }),
  ));

/** The tools the step runner may call: each family's code and clients load with its first call. */
const toolRegistry = /* @__PURE__ */ once(
  (): ToolRegistry =>
    createToolRegistry(
      {
        runtime: 'aws',
        config: config(),
        clock,
        notifier: notifier(),
        fetch: globalThis.fetch,
      },
      {
        eksAccess: {
          token: async (clusterName, region) => (await eksAccess()).token(clusterName, region),
          endpoint: async (clusterName, region) => (await eksAccess()).endpoint(clusterName, region),
        },
      },
    ),
);

export const stepRunnerWiring = /* @__PURE__ */ once(() => ({
  runner: new StepRunner({
    store: store(),
    engine: engine(),
    tools: toolRegistry(),
    clock,
    logger: logger(),
    config: config(),
    checkpoints: checkpoints(),
    automation: automation(),
    escalations: new EscalationService({
      notifier: notifier(),
      clock,
      logger: logger(),
      config: config(),
      audit: audit(),
      controlLinks: controlLinks(),
    }),
    records: new RecordService({
      store: store(),
      clock,
      logger: logger(),
      audit: audit(),
      changeLocks: changeLocks(),
    }),
    audit: audit(),
    changeGate: new ChangeGate({
      store: store(),
      limits: limits(),
      risk: risk(),
      clock,
      logger: logger(),
      config: config(),
    }),
    rollbacks: rollbackService(),
    // The runner that runs a step watches it (both runners: diagnostics and changes alike).
    health: new HealthWatcher({
      store: store(),
      watch: watchStore(),
      tools: toolRegistry(),
      clock,
      logger: logger(),
      audit: audit(),
      automation: automation(),
    }),
    stuckSteps: new StuckStepWatchdog({
      store: store(),
      watch: watchStore(),
      notifier: notifier(),
      clock,
      logger: logger(),
      config: config(),
      audit: audit(),
      // Only the read-only runner reads the link-signing key; the mutating one tells without links.
      ...(process.env.LINK_SIGNING_KEY_SECRET ? { controlLinks: controlLinks() } : {}),
    }),
  }),
  logger: logger(),
}));
