import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { Substitution } from '../../../../functions/core/execution-contract.ts';
import { type ToolDeclaration, toolCatalog } from '../../../../functions/core/tool-catalog.ts';
import { TOOL_CATALOG } from '../../../../functions/tools/declarations.ts';
import {
  type ClusterRole,
  type ClusterRoleBinding,
  KUBERNETES_GROUPS,
  RbacError,
  rbacManifest,
  rbacObjects,
  rbacRules,
} from '../../../../functions/tools/kubernetes/rbac.ts';
import { loadCompiledRunbooks } from '../../../../infra/constructs/runbook-artifacts.ts';
import { libraryStatemachinesDir } from '../../../support/library.ts';

// The tools each step runner runs in the shipped, compiled runbooks: what infra derives IAM from.
const RUNBOOKS = loadCompiledRunbooks(libraryStatemachinesDir());
const READ_ONLY = RUNBOOKS.flatMap((runbook) => runbook.tools[Substitution.ReadOnlyRunner]);
const MUTATING = RUNBOOKS.flatMap((runbook) => runbook.tools[Substitution.MutatingRunner]);

/** Every `apiGroup resource verb` the tools declare in declarations.ts. */
function declared(tools: readonly string[]): Set<string> {
  return new Set(
    tools.flatMap((tool) =>
      (TOOL_CATALOG.get(tool)!.permissions.kubernetes ?? []).flatMap((permission) =>
        permission.resources.flatMap((resource) =>
          permission.verbs.map((verb) => `${permission.apiGroup} ${resource} ${verb}`),
        ),
      ),
    ),
  );
}

/** Every `apiGroup resource verb` a ClusterRole's rules allow. */
function granted(rules: ClusterRole['rules']): Set<string> {
  return new Set(
    rules.flatMap((rule) =>
      rule.apiGroups.flatMap((apiGroup) =>
        rule.resources.flatMap((resource) => rule.verbs.map((verb) => `${apiGroup} ${resource} ${verb}`)),
      ),
    ),
  );
}

describe('Kubernetes RBAC of the step runners, derived from the tools they run', () => {
  it('gives the read group exactly the reads of the shipped runbooks’ diagnostics', () => {
    // Act
    const rules = rbacRules(READ_ONLY, 'read-only', TOOL_CATALOG);

    // Assess: k8s.node-resources, k8s.pods-on-node, k8s.pod-logs, k8s.workload-status
    expect(rules).toEqual([
      { apiGroups: [''], resources: ['nodes', 'pods/log'], verbs: ['get'] },
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] },
      { apiGroups: ['apps'], resources: ['controllerrevisions', 'replicasets'], verbs: ['get', 'list'] },
      { apiGroups: ['apps'], resources: ['daemonsets', 'deployments', 'statefulsets'], verbs: ['get'] },
      { apiGroups: ['metrics.k8s.io'], resources: ['nodes'], verbs: ['get'] },
      { apiGroups: ['metrics.k8s.io'], resources: ['pods'], verbs: ['list'] },
    ]);
    const verbs = new Set(rules.flatMap((rule) => rule.verbs));
    for (const change of ['patch', 'create', 'update', 'delete', 'deletecollection'])
      expect(verbs.has(change), change).toBe(false);
    expect(rules.flatMap((rule) => rule.resources)).not.toContain('pods/eviction');
  });

  it('gives the change group exactly what the shipped remediations and compensations change', () => {
    // Act
    const rules = rbacRules(MUTATING, 'mutating', TOOL_CATALOG);

    // Assess: k8s.cordon/uncordon (nodes get, patch), k8s.evict-pod (pods/eviction create),
    // k8s.rollout-restart (workloads get, patch); k8s.scale runs in no runbook, so no */scale
    expect(rules).toEqual([
      { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'patch'] },
      { apiGroups: [''], resources: ['pods/eviction'], verbs: ['create'] },
      {
        apiGroups: ['apps'],
        resources: ['daemonsets', 'deployments', 'statefulsets'],
        verbs: ['get', 'patch'],
      },
    ]);
    expect(rules.flatMap((rule) => rule.resources)).not.toContain('deployments/scale');
  });

  it('grants each runner the union of what its tools declare, and nothing else', () => {
    for (const [tools, variant] of [
      [READ_ONLY, 'read-only'],
      [MUTATING, 'mutating'],
    ] as const) {
      // Act
      const rules = rbacRules(tools, variant, TOOL_CATALOG);

      // Assess
      expect([...granted(rules)].sort(), variant).toEqual([...declared(tools)].sort());
      expect(JSON.stringify(rules), variant).not.toContain('*');
    }
    expect(READ_ONLY.every((tool) => TOOL_CATALOG.get(tool)!.mutating === false)).toBe(true);
  });

  it('keeps every read-only tool to reading, every mutating one to what it changes, and no tool near Secrets', () => {
    // Prepare
    const names = TOOL_CATALOG.names().filter(
      (name) => (TOOL_CATALOG.get(name)!.permissions.kubernetes ?? []).length > 0,
    );
    const readers = names.filter((name) => !TOOL_CATALOG.get(name)!.mutating);
    const changers = names.filter((name) => TOOL_CATALOG.get(name)!.mutating);

    // Act: the roles a library that used every tool would get.
    const read = rbacRules(readers, 'read-only', TOOL_CATALOG);
    const change = rbacRules(changers, 'mutating', TOOL_CATALOG);

    // Assess
    expect([...new Set(read.flatMap((rule) => rule.verbs))].sort()).toEqual(['get', 'list']);
    for (const name of changers) {
      const verbs = (TOOL_CATALOG.get(name)!.permissions.kubernetes ?? []).flatMap((rule) => rule.verbs);
      expect(
        verbs.some((verb) => ['patch', 'create', 'delete'].includes(verb)),
        name,
      ).toBe(true);
    }
    for (const rules of [read, change])
      expect(rules.flatMap((rule) => rule.resources)).not.toContain('secrets');
    expect(change.find((rule) => rule.resources.includes('pods'))?.verbs).toEqual(['delete', 'get', 'list']);
  });

  it('is deterministic: the same tools in any order and with repeats give the same manifest, byte for byte', () => {
    // Prepare
    const tools = { readOnly: READ_ONLY, mutating: MUTATING };
    const shuffled = {
      readOnly: [...READ_ONLY].reverse().concat(READ_ONLY),
      mutating: [...MUTATING].sort().reverse().concat(MUTATING.slice(0, 2)),
    };

    // Act
    const first = rbacManifest(tools, TOOL_CATALOG);

    // Assess
    expect(rbacManifest(tools, TOOL_CATALOG)).toBe(first);
    expect(rbacManifest(shuffled, TOOL_CATALOG)).toBe(first);
  });

  it('renders four YAML documents: a ClusterRole per runner, each bound to the group of its name', () => {
    // Act
    const text = rbacManifest({ readOnly: READ_ONLY, mutating: MUTATING }, TOOL_CATALOG);
    const documents = parseAllDocuments(text);

    // Assess
    expect(text.startsWith('# Kubernetes RBAC for runbook-autopilot')).toBe(true);
    expect(documents).toHaveLength(4);
    for (const document of documents) expect(document.errors).toEqual([]);
    const objects = documents.map((document) => document.toJS()) as Array<ClusterRole | ClusterRoleBinding>;
    expect(objects).toEqual(rbacObjects({ readOnly: READ_ONLY, mutating: MUTATING }, TOOL_CATALOG));
    expect(objects.map((object) => [object.apiVersion, object.kind, object.metadata.name])).toEqual([
      ['rbac.authorization.k8s.io/v1', 'ClusterRole', 'runbook-autopilot-read'],
      ['rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', 'runbook-autopilot-read'],
      ['rbac.authorization.k8s.io/v1', 'ClusterRole', 'runbook-autopilot-change'],
      ['rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', 'runbook-autopilot-change'],
    ]);
    for (const [index, group] of [
      [1, KUBERNETES_GROUPS.readOnly],
      [3, KUBERNETES_GROUPS.mutating],
    ] as const) {
      const binding = objects[index] as ClusterRoleBinding;
      expect(binding.roleRef).toEqual({
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'ClusterRole',
        name: group,
      });
      expect(binding.subjects).toEqual([
        { apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: group },
      ]);
    }
    expect((objects[0] as ClusterRole).rules).toEqual(rbacRules(READ_ONLY, 'read-only', TOOL_CATALOG));
    expect((objects[2] as ClusterRole).rules).toEqual(rbacRules(MUTATING, 'mutating', TOOL_CATALOG));
  });

  it('gives a runner that runs no Kubernetes tool a ClusterRole without rules', () => {
    // Act
    const [readRole, , changeRole] = rbacObjects(
      { readOnly: ['cloudwatch.get-metric-data'], mutating: ['ec2.reboot-instances'] },
      TOOL_CATALOG,
    ) as [ClusterRole, ClusterRoleBinding, ClusterRole, ClusterRoleBinding];

    // Assess
    expect(readRole.rules).toEqual([]);
    expect(changeRole.rules).toEqual([]);
  });

  it('refuses a mutating tool on the read-only runner, an unknown tool, and a wildcard declaration', () => {
    // Prepare
    const wildcard: ToolDeclaration = {
      name: 'k8s.everything',
      description: 'A careless declaration.',
      parameters: z.object({}),
      output: z.object({}),
      mutating: false,
      risk: 'low',
      dryRun: 'nothing',
      permissions: { kubernetes: [{ apiGroup: '', resources: ['pods'], verbs: ['*'] }] },
    };

    // Act / Assess
    expect(() => rbacRules(['k8s.cordon'], 'read-only', TOOL_CATALOG)).toThrow(RbacError);
    expect(() => rbacRules(['k8s.cordon'], 'read-only', TOOL_CATALOG)).toThrow(
      'the read-only step runner would run "k8s.cordon", which changes things; mutating steps must use the mutating runner (recompile the runbooks)',
    );
    expect(() => rbacRules(['k8s.cordn'], 'mutating', TOOL_CATALOG)).toThrow(
      'mutating step runner: unknown tool "k8s.cordn"; recompile the runbooks',
    );
    expect(() => rbacRules(['k8s.everything'], 'read-only', toolCatalog([wildcard]))).toThrow(
      /tool "k8s\.everything" declares a Kubernetes permission with a wildcard/,
    );
  });
});
