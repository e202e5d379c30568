import { Annotations } from 'aws-cdk-lib';
import * as eks from 'aws-cdk-lib/aws-eks';
import type * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { RuntimeConfig } from '../../functions/core/config.ts';
import { KUBERNETES_GROUPS } from '../../functions/tools/kubernetes/rbac.ts';

/** One entry of tools.kubernetes.eks (cluster name as alerts label it → how to reach it). */
export type EksClusterConfig = RuntimeConfig['tools']['kubernetes']['eks'][string];

export interface ClusterAccessProps {
  /** tools.kubernetes.eks of the environment. */
  clusters: Readonly<Record<string, EksClusterConfig>>;
  /** The stack's region: access entries are regional resources, created only for clusters there. */
  region: string;
  readOnlyRole: iam.IRole;
  mutatingRole: iam.IRole;
}

/** The access entries of one cluster. */
export interface ClusterEntries {
  clusterName: string;
  readOnly: eks.CfnAccessEntry;
  mutating: eks.CfnAccessEntry;
}

/**
 * Amazon EKS access entries that let the step runners into the clusters of tools.kubernetes.eks: the
 * read-only runner's role becomes the Kubernetes group `runbook-autopilot-read`, the mutating runner's
 * `runbook-autopilot-change`. No access policy is associated: what each group may do is the RBAC
 * `runbook rbac` prints (derived from the runbooks' tools), applied to each cluster. The clusters
 * must use the authentication mode API or API_AND_CONFIG_MAP. The functions' EKS tokens (presigned STS
 * GetCallerIdentity) need no IAM permission.
 */
export class ClusterAccess extends Construct {
  readonly clusters: ClusterEntries[] = [];
  /** Clusters in another region: this stack cannot create their entries (see the README, Kubernetes (Amazon EKS)). */
  readonly elsewhere: Array<{ clusterName: string; region: string }> = [];

  constructor(scope: Construct, id: string, props: ClusterAccessProps) {
    super(scope, id);
    // Several alert names may point at one cluster: one pair of entries per cluster (EKS refuses a
    // second entry for the same principal).
    const names = new Map<string, string>();
    for (const [key, cluster] of Object.entries(props.clusters).sort(([a], [b]) => a.localeCompare(b))) {
      const clusterName = cluster.clusterName ?? key;
      const region = cluster.region ?? props.region;
      if (region !== props.region) {
        if (!this.elsewhere.some((other) => other.clusterName === clusterName && other.region === region)) {
          this.elsewhere.push({ clusterName, region });
        }
        continue;
      }
      names.set(clusterName, key);
    }
    for (const clusterName of [...names.keys()].sort()) {
      const scopeOfCluster = new Construct(this, clusterName);
      const entry = (entryId: string, role: iam.IRole, group: string) =>
        new eks.CfnAccessEntry(scopeOfCluster, entryId, {
          clusterName,
          principalArn: role.roleArn,
          type: 'STANDARD',
          kubernetesGroups: [group],
        });
      this.clusters.push({
        clusterName,
        readOnly: entry('ReadOnlyRunner', props.readOnlyRole, KUBERNETES_GROUPS.readOnly),
        mutating: entry('MutatingRunner', props.mutatingRole, KUBERNETES_GROUPS.mutating),
      });
    }
    for (const { clusterName, region } of this.elsewhere) {
      Annotations.of(this).addWarningV2(
        `runbook-autopilot:eks-access-entry-elsewhere:${clusterName}`,
        `EKS cluster ${clusterName} is in ${region}, not ${props.region}: this stack cannot create its access entries; create them there with aws eks create-access-entry (see the README, Kubernetes (Amazon EKS))`,
      );
    }
  }
}
