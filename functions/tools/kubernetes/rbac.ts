import { stringify } from 'yaml';
import { RunbookAutopilotError } from '../../core/errors.ts';
import type { ToolCatalog } from '../../core/tool-catalog.ts';

/**
 * Least-privilege Kubernetes RBAC for the step runners, derived the way their IAM is
 * (infra/constructs/tool-permissions.ts): from the tools each runner's Task states run and the
 * `permissions.kubernetes` those tools declare (functions/tools/declarations.ts). On Amazon EKS an
 * access entry maps each runner's IAM role to one Kubernetes group (infra/constructs/cluster-access.ts);
 * these ClusterRoles and ClusterRoleBindings give each group exactly what its tools need.
 * Pure: no I/O, no clock; the same tools give the same manifest, byte for byte.
 */

export class RbacError extends RunbookAutopilotError {
  override readonly name = 'RbacError';
}

/** The Kubernetes groups the EKS access entries map the step runners' roles to. */
export const KUBERNETES_GROUPS = {
  /** The read-only step runner: diagnostics, checks. */
  readOnly: 'runbook-autopilot-read',
  /** The mutating step runner: remediations and their compensations. */
  mutating: 'runbook-autopilot-change',
} as const;

const RBAC_API_VERSION = 'rbac.authorization.k8s.io/v1';
const RBAC_API_GROUP = 'rbac.authorization.k8s.io';
const LABELS = { 'app.kubernetes.io/managed-by': 'runbook-autopilot' } as const;

/** One rule of a ClusterRole, as the API server takes it. */
export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

export interface ClusterRole {
  apiVersion: typeof RBAC_API_VERSION;
  kind: 'ClusterRole';
  metadata: { name: string; labels: Record<string, string> };
  rules: PolicyRule[];
}

export interface ClusterRoleBinding {
  apiVersion: typeof RBAC_API_VERSION;
  kind: 'ClusterRoleBinding';
  metadata: { name: string; labels: Record<string, string> };
  roleRef: { apiGroup: typeof RBAC_API_GROUP; kind: 'ClusterRole'; name: string };
  subjects: Array<{ apiGroup: typeof RBAC_API_GROUP; kind: 'Group'; name: string }>;
}

export type RbacObject = ClusterRole | ClusterRoleBinding;

/** The tools each step runner runs (CompiledRunbook.tools of every deployed runbook, per runner). */
export interface RunnerTools {
  readOnly: Iterable<string>;
  mutating: Iterable<string>;
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The rules one runner needs for `tools`: for each API group and resource, the union of the verbs its
 * tools declare; then resources of one API group with the same verbs share a rule. Sorted by API group
 * (core first), then resources; resources and verbs sorted. Only what is declared: no wildcard.
 */
export function rbacRules(
  tools: Iterable<string>,
  variant: 'read-only' | 'mutating',
  catalog: ToolCatalog,
): PolicyRule[] {
  const verbsOf = new Map<string, Map<string, Set<string>>>();
  for (const tool of [...new Set(tools)].sort(byText)) {
    const declaration = catalog.get(tool);
    if (!declaration) {
      throw new RbacError(`${variant} step runner: unknown tool "${tool}"; recompile the runbooks`);
    }
    if (variant === 'read-only' && declaration.mutating) {
      throw new RbacError(
        `the read-only step runner would run "${tool}", which changes things; mutating steps must use the mutating runner (recompile the runbooks)`,
      );
    }
    for (const permission of declaration.permissions.kubernetes ?? []) {
      const named = [permission.apiGroup, ...permission.resources, ...permission.verbs];
      if (named.some((name) => name.includes('*')) || permission.resources.length === 0) {
        throw new RbacError(
          `tool "${tool}" declares a Kubernetes permission with a wildcard or no resource; name each API group, resource and verb`,
        );
      }
      const resources = verbsOf.get(permission.apiGroup) ?? new Map<string, Set<string>>();
      for (const resource of permission.resources) {
        const verbs = resources.get(resource) ?? new Set<string>();
        for (const verb of permission.verbs) verbs.add(verb);
        resources.set(resource, verbs);
      }
      verbsOf.set(permission.apiGroup, resources);
    }
  }
  const rules: PolicyRule[] = [];
  for (const apiGroup of [...verbsOf.keys()].sort(byText)) {
    const byVerbs = new Map<string, { resources: string[]; verbs: string[] }>();
    for (const [resource, verbSet] of verbsOf.get(apiGroup)!) {
      const verbs = [...verbSet].sort(byText);
      const key = verbs.join(',');
      const entry = byVerbs.get(key) ?? { resources: [], verbs };
      entry.resources.push(resource);
      byVerbs.set(key, entry);
    }
    rules.push(
      ...[...byVerbs.values()]
        .map((entry) => ({
          apiGroups: [apiGroup],
          resources: entry.resources.sort(byText),
          verbs: entry.verbs,
        }))
        .sort((a, b) => byText(a.resources[0]!, b.resources[0]!)),
    );
  }
  return rules;
}

function clusterRole(name: string, rules: PolicyRule[]): ClusterRole {
  return {
    apiVersion: RBAC_API_VERSION,
    kind: 'ClusterRole',
    metadata: { name, labels: { ...LABELS } },
    rules,
  };
}

function bindingToGroup(name: string): ClusterRoleBinding {
  return {
    apiVersion: RBAC_API_VERSION,
    kind: 'ClusterRoleBinding',
    metadata: { name, labels: { ...LABELS } },
    roleRef: { apiGroup: RBAC_API_GROUP, kind: 'ClusterRole', name },
    subjects: [{ apiGroup: RBAC_API_GROUP, kind: 'Group', name }],
  };
}

/**
 * The four objects to apply to every cluster the step runners reach: a ClusterRole per runner with
 * exactly its tools' rules, each bound to the group of the same name. A runner that runs no Kubernetes
 * tool gets a ClusterRole without rules (its group can do nothing).
 */
export function rbacObjects(tools: RunnerTools, catalog: ToolCatalog): RbacObject[] {
  return [
    clusterRole(KUBERNETES_GROUPS.readOnly, rbacRules(tools.readOnly, 'read-only', catalog)),
    bindingToGroup(KUBERNETES_GROUPS.readOnly),
    clusterRole(KUBERNETES_GROUPS.mutating, rbacRules(tools.mutating, 'mutating', catalog)),
    bindingToGroup(KUBERNETES_GROUPS.mutating),
  ];
}

const HEADER = [
  ' Kubernetes RBAC for runbook-autopilot, generated by `runbook rbac` from the compiled runbooks:',
  ' what the tools of each step runner declare (functions/tools/declarations.ts), nothing more.',
  ' Apply to every cluster in tools.kubernetes.eks: npx runbook rbac | kubectl apply -f -',
];

/** `rbacObjects` as a multi-document YAML stream, for `kubectl apply -f -`. */
export function rbacManifest(tools: RunnerTools, catalog: ToolCatalog): string {
  const documents = rbacObjects(tools, catalog).map((object) => stringify(object, { lineWidth: 0 }));
  return `${HEADER.map((line) => `#${line}`).join('\n')}\n${documents.map((text) => `---\n${text}`).join('')}`;
}
