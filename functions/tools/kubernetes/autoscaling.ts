import type {
  V2HorizontalPodAutoscaler,
  V2MetricStatus,
  V2MetricTarget,
  V2MetricValueStatus,
} from '@kubernetes/client-node';
import type { ToolImplementation } from '../../ports/tools.ts';
import type { HpaMaxReplicasOutput, HpaMetric, HpaStatusOutput } from '../declarations/kubernetes.ts';
import { declarationOf } from '../declarations.ts';
import { defineTool, ToolErrorKind } from '../tool.ts';
import { conditionsOf, isoOf } from './objects.ts';
import { parseQuantity } from './quantity.ts';
import {
  DRY_RUN_ALL,
  type KubernetesSession,
  type KubernetesToolDeps,
  openSession,
  PatchStrategy,
} from './session.ts';

/** k8s.hpa-status, k8s.hpa-set-max-replicas and k8s.hpa-restore-max-replicas (autoscaling/v2). */

const RESOURCE = 'horizontalpodautoscalers';
const GROUP = 'autoscaling';

async function readHpa(
  session: KubernetesSession,
  namespace: string,
  name: string,
): Promise<V2HorizontalPodAutoscaler> {
  return session.request({ verb: 'get', resource: RESOURCE, group: GROUP, namespace, name }, (options) =>
    session.autoscaling.readNamespacedHorizontalPodAutoscaler({ namespace, name }, options),
  );
}

/** A metric target or current value in words: `70%`, `500m`, `1k`. */
function valueText(value: V2MetricTarget | V2MetricValueStatus | undefined): string | null {
  if (!value) return null;
  if (value.averageUtilization !== undefined) return `${value.averageUtilization}%`;
  if (value.averageValue !== undefined) return String(value.averageValue);
  if (value.value !== undefined) return String(value.value);
  return null;
}

function valueNumber(value: V2MetricTarget | V2MetricValueStatus | undefined, type: string): number | null {
  if (!value) return null;
  const raw =
    type === 'Utilization'
      ? value.averageUtilization
      : type === 'AverageValue'
        ? value.averageValue
        : value.value;
  if (raw === undefined || raw === null) return null;
  try {
    return parseQuantity(raw as string | number);
  } catch {
    return null;
  }
}

/** Each metric of the spec with its current value from the status, matched by type and name. */
export function hpaMetrics(hpa: V2HorizontalPodAutoscaler): HpaMetric[] {
  const current = hpa.status?.currentMetrics ?? [];
  return (hpa.spec?.metrics ?? []).map((metric) => {
    const source =
      metric.resource ??
      metric.containerResource ??
      (metric.pods ? { name: metric.pods.metric.name, target: metric.pods.target } : undefined) ??
      (metric.object ? { name: metric.object.metric.name, target: metric.object.target } : undefined) ??
      (metric.external ? { name: metric.external.metric.name, target: metric.external.target } : undefined);
    const name = source?.name ?? 'unknown';
    const target = source?.target;
    const targetType = target?.type ?? 'Value';
    const status = current.find((candidate: V2MetricStatus) => {
      if (candidate.type !== metric.type) return false;
      const candidateName =
        candidate.resource?.name ??
        candidate.containerResource?.name ??
        candidate.pods?.metric.name ??
        candidate.object?.metric.name ??
        candidate.external?.metric.name;
      return candidateName === name;
    });
    const currentValue =
      status?.resource?.current ??
      status?.containerResource?.current ??
      status?.pods?.current ??
      status?.object?.current ??
      status?.external?.current;
    const targetNumber = valueNumber(target, targetType);
    const currentNumber = valueNumber(currentValue, targetType);
    return {
      type: metric.type,
      name,
      targetType,
      target: valueText(target) ?? 'unknown',
      current: valueText(currentValue),
      ratio:
        targetNumber !== null && currentNumber !== null && targetNumber > 0
          ? Math.round((currentNumber / targetNumber) * 100) / 100
          : null,
    };
  });
}

function conditionTrue(hpa: V2HorizontalPodAutoscaler, type: string): boolean {
  return (hpa.status?.conditions ?? []).some(
    (condition) => condition.type === type && condition.status === 'True',
  );
}

/** Sets maxReplicas, or says it already is so; the output is the same for the set and the restore. */
async function setMaxReplicas(
  session: KubernetesSession,
  hpa: V2HorizontalPodAutoscaler,
  namespace: string,
  name: string,
  maxReplicas: number,
): Promise<HpaMaxReplicasOutput> {
  const { dryRun } = session.context;
  const previousMaxReplicas = hpa.spec?.maxReplicas ?? 0;
  const minReplicas = hpa.spec?.minReplicas ?? 1;
  const currentReplicas = hpa.status?.currentReplicas ?? 0;
  const base = { namespace, name, previousMaxReplicas, minReplicas, currentReplicas, dryRun };
  if (previousMaxReplicas === maxReplicas) return { ...base, maxReplicas, changed: false };
  if (maxReplicas < minReplicas)
    session.fail(
      ToolErrorKind.Refused,
      `HorizontalPodAutoscaler ${namespace}/${name} has minReplicas ${minReplicas}: its maximum cannot be ${maxReplicas}`,
    );
  const patched = await session.request(
    { verb: 'patch', resource: RESOURCE, group: GROUP, namespace, name },
    (options) =>
      session.autoscaling.patchNamespacedHorizontalPodAutoscaler(
        {
          namespace,
          name,
          body: { spec: { maxReplicas } },
          ...(dryRun ? { dryRun: DRY_RUN_ALL } : {}),
        },
        options,
      ),
    { patch: PatchStrategy.MergePatch },
  );
  return { ...base, maxReplicas: patched.spec?.maxReplicas ?? maxReplicas, changed: true };
}

export function autoscalingTools(deps: KubernetesToolDeps): ToolImplementation[] {
  const status = defineTool(declarationOf('k8s.hpa-status'), async (parameters, context) => {
    const session = await openSession(deps, 'k8s.hpa-status', parameters.cluster, context);
    const { namespace, name } = parameters;
    const hpa = await readHpa(session, namespace, name);
    const maxReplicas = hpa.spec?.maxReplicas ?? 0;
    const currentReplicas = hpa.status?.currentReplicas ?? 0;
    const limited = (hpa.status?.conditions ?? []).find((condition) => condition.type === 'ScalingLimited');
    const output: HpaStatusOutput = {
      namespace,
      name,
      target: { kind: hpa.spec?.scaleTargetRef.kind ?? '', name: hpa.spec?.scaleTargetRef.name ?? '' },
      minReplicas: hpa.spec?.minReplicas ?? 1,
      maxReplicas,
      currentReplicas,
      desiredReplicas: hpa.status?.desiredReplicas ?? 0,
      atMaxReplicas: currentReplicas >= maxReplicas,
      ableToScale: conditionTrue(hpa, 'AbleToScale'),
      scalingActive: conditionTrue(hpa, 'ScalingActive'),
      scalingLimited: limited?.status === 'True',
      scalingLimitedReason: limited?.status === 'True' ? (limited.reason ?? null) : null,
      conditions: conditionsOf(hpa.status?.conditions),
      metrics: hpaMetrics(hpa),
      lastScaleTime: isoOf(hpa.status?.lastScaleTime),
    };
    return output;
  });

  const setMax = defineTool(declarationOf('k8s.hpa-set-max-replicas'), async (parameters, context) => {
    const session = await openSession(deps, 'k8s.hpa-set-max-replicas', parameters.cluster, context);
    const { namespace, name, maxReplicas, ceiling } = parameters;
    if (maxReplicas > ceiling)
      session.fail(
        ToolErrorKind.Refused,
        `maxReplicas ${maxReplicas} is above this step's ceiling of ${ceiling} for HorizontalPodAutoscaler ${namespace}/${name}`,
      );
    const hpa = await readHpa(session, namespace, name);
    const current = hpa.spec?.maxReplicas ?? 0;
    if (maxReplicas < current)
      session.fail(
        ToolErrorKind.Refused,
        `HorizontalPodAutoscaler ${namespace}/${name} already allows ${current} replicas: this step raises the maximum and will not lower it to ${maxReplicas}`,
      );
    return setMaxReplicas(session, hpa, namespace, name, maxReplicas);
  });

  const restoreMax = defineTool(
    declarationOf('k8s.hpa-restore-max-replicas'),
    async (parameters, context) => {
      const session = await openSession(deps, 'k8s.hpa-restore-max-replicas', parameters.cluster, context);
      const { namespace, name, maxReplicas, expectedMaxReplicas } = parameters;
      const hpa = await readHpa(session, namespace, name);
      const current = hpa.spec?.maxReplicas ?? 0;
      if (current !== maxReplicas && expectedMaxReplicas !== undefined && current !== expectedMaxReplicas)
        session.fail(
          ToolErrorKind.Refused,
          `HorizontalPodAutoscaler ${namespace}/${name} allows ${current} replicas, not the ${expectedMaxReplicas} this runbook set: someone changed it since, so it is left alone`,
        );
      return setMaxReplicas(session, hpa, namespace, name, maxReplicas);
    },
  );

  return [status, setMax, restoreMax];
}

export type { HpaMaxReplicasOutput, HpaStatusOutput } from '../declarations/kubernetes.ts';
