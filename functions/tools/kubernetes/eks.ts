import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { type Cluster, DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentityProvider, Checksum, SourceData } from '@smithy/types';

/**
 * Amazon EKS authentication without a kubeconfig or the AWS CLI (a Lambda has neither): the bearer
 * token `aws eks get-token` prints, made in-process. It is a presigned STS GetCallerIdentity URL that
 * names the cluster in the signed `x-k8s-aws-id` header, base64url-encoded after `k8s-aws-v1.`; the
 * cluster's authenticator calls STS with it and maps the role to Kubernetes groups (EKS access
 * entries). No IAM permission is needed to make one.
 */

export const EKS_TOKEN_PREFIX = 'k8s-aws-v1.';
/** STS keeps a presigned URL valid for 15 minutes after signing; refresh well before that. */
const TOKEN_REUSE_MS = 10 * 60_000;

/** SHA-256 and HMAC-SHA-256 from node:crypto, in the shape Smithy's signer asks for. */
class NodeSha256 implements Checksum {
  private hash: Hash | Hmac;
  constructor(private readonly secret?: SourceData) {
    this.hash = this.fresh();
  }
  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(this.secret));
  }
  update(data: Uint8Array): void {
    this.hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    this.hash = this.fresh();
  }
}

function toBuffer(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

export interface EksTokenRequest {
  /** The EKS cluster's name (as `aws eks get-token --cluster-name`). */
  clusterName: string;
  region: string;
}

/** One token for one cluster, signed now with the given credentials. */
export async function eksToken(
  request: EksTokenRequest,
  credentials: AwsCredentialIdentityProvider,
  signingDate: Date = new Date(),
): Promise<string> {
  const hostname = `sts.${request.region}.amazonaws.com`;
  const signer = new SignatureV4({
    service: 'sts',
    region: request.region,
    credentials,
    sha256: NodeSha256,
  });
  const presigned = await signer.presign(
    {
      method: 'GET',
      protocol: 'https:',
      hostname,
      path: '/',
      query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
      headers: { host: hostname, 'x-k8s-aws-id': request.clusterName },
    },
    { expiresIn: 60, signingDate },
  );
  const query = Object.entries(presigned.query ?? {})
    .flatMap(([key, value]) =>
      (Array.isArray(value) ? value : [value]).map(
        (item) => `${encodeURIComponent(key)}=${encodeURIComponent(String(item))}`,
      ),
    )
    .join('&');
  const url = `https://${hostname}/?${query}`;
  return `${EKS_TOKEN_PREFIX}${Buffer.from(url, 'utf8').toString('base64url')}`;
}

export interface EksAccessOptions {
  /** The credentials tokens are signed with: the function's role on Lambda. */
  credentials: AwsCredentialIdentityProvider;
  /** Region of clusters that do not name one. */
  defaultRegion: () => string | undefined;
  /** Reads endpoint and CA of clusters configured without them (eks:DescribeCluster). */
  describe?: DescribeEksCluster;
  now?: () => Date;
}

/**
 * What the Kubernetes clients need to reach EKS clusters: tokens per cluster, each reused for 10
 * minutes (they are valid for 15), and endpoints read once when the config leaves them out.
 */
export class EksAccess {
  private readonly tokens = new Map<string, { value: Promise<string>; madeAt: number }>();
  private readonly endpoints = new Map<string, { value: Promise<EksEndpoint> }>();
  private readonly now: () => Date;

  constructor(private readonly options: EksAccessOptions) {
    this.now = options.now ?? (() => new Date());
  }

  private regionOf(clusterName: string, region: string | undefined): string {
    const resolved = region ?? this.options.defaultRegion();
    if (!resolved)
      throw new Error(
        `no region for EKS cluster "${clusterName}": set its region in tools.kubernetes.eks or AWS_REGION`,
      );
    return resolved;
  }

  async token(clusterName: string, region?: string): Promise<string> {
    const key = `${this.regionOf(clusterName, region)}/${clusterName}`;
    const now = this.now();
    const cached = this.tokens.get(key);
    if (cached && now.getTime() - cached.madeAt < TOKEN_REUSE_MS) return cached.value;
    const value = eksToken({ clusterName, region: key.split('/')[0]! }, this.options.credentials, now);
    this.tokens.set(key, { value, madeAt: now.getTime() });
    return forgetOnFailure(this.tokens, key, value);
  }

  /** The endpoint and CA of a cluster configured without them, read once (a failure is not kept). */
  async endpoint(clusterName: string, region?: string): Promise<EksEndpoint> {
    const resolved = this.regionOf(clusterName, region);
    const { describe } = this.options;
    if (!describe)
      throw new Error(
        `EKS cluster "${clusterName}" has no endpoint and CA in tools.kubernetes.eks, and this runtime cannot read them: add both`,
      );
    const key = `${resolved}/${clusterName}`;
    const cached = this.endpoints.get(key);
    if (cached) return cached.value;
    const value = describe(clusterName, resolved);
    this.endpoints.set(key, { value });
    return forgetOnFailure(this.endpoints, key, value);
  }
}

/** Keeps a pending answer for others to share, and drops it if it fails: the next caller tries again. */
function forgetOnFailure<T>(
  cache: Map<string, { value: Promise<T> }>,
  key: string,
  value: Promise<T>,
): Promise<T> {
  value.catch(() => {
    if (cache.get(key)?.value === value) cache.delete(key);
  });
  return value;
}

/** Where an EKS cluster's API server is, and the CA its certificate chains to. */
export interface EksEndpoint {
  endpoint: string;
  certificateAuthorityData: string;
}

export type DescribeEksCluster = (clusterName: string, region: string) => Promise<EksEndpoint>;

/**
 * eks:DescribeCluster through the AWS SDK: the endpoint and CA of a cluster the config names without
 * them. One client per region; the answers are kept by the caller (they change only if the cluster is
 * replaced).
 */
export function describeWithSdk(
  options: { credentials?: AwsCredentialIdentityProvider; endpoint?: string } = {},
): DescribeEksCluster {
  const clients = new Map<string, EKSClient>();
  return async (clusterName, region) => {
    let client = clients.get(region);
    if (!client) {
      client = new EKSClient({
        region,
        ...(options.credentials ? { credentials: options.credentials } : {}),
        ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      });
      clients.set(region, client);
    }
    let cluster: Cluster | undefined;
    try {
      cluster = (await client.send(new DescribeClusterCommand({ name: clusterName }))).cluster;
    } catch (error) {
      const { name, message } = error as Error;
      throw new Error(
        `cannot read EKS cluster "${clusterName}" in ${region} (eks:DescribeCluster): ${name}: ${message}`,
        { cause: error },
      );
    }
    const endpoint = cluster?.endpoint;
    const certificateAuthorityData = cluster?.certificateAuthority?.data;
    if (!endpoint || !certificateAuthorityData)
      throw new Error(
        `EKS cluster "${clusterName}" in ${region} has no endpoint or CA yet (status ${cluster?.status ?? 'unknown'})`,
      );
    return { endpoint, certificateAuthorityData };
  };
}
