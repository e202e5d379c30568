import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
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

/** Makes tokens per cluster and reuses each for 10 minutes (they are valid for 15). */
export class EksTokenSource {
  private readonly cache = new Map<string, { token: Promise<string>; madeAt: number }>();

  constructor(
    private readonly credentials: AwsCredentialIdentityProvider,
    private readonly defaultRegion: () => string | undefined,
    private readonly now: () => Date = () => new Date(),
  ) {}

  token(clusterName: string, region?: string): Promise<string> {
    const resolved = region ?? this.defaultRegion();
    if (!resolved)
      return Promise.reject(
        new Error(
          `no region for EKS cluster "${clusterName}": set its region in tools.kubernetes.eks or AWS_REGION`,
        ),
      );
    const key = `${resolved}/${clusterName}`;
    const now = this.now();
    const cached = this.cache.get(key);
    if (cached && now.getTime() - cached.madeAt < TOKEN_REUSE_MS) return cached.token;
    const token = eksToken({ clusterName, region: resolved }, this.credentials, now);
    this.cache.set(key, { token, madeAt: now.getTime() });
    // A failed signing (no credentials yet) is not kept: the next request tries again.
    token.catch(() => {
      if (this.cache.get(key)?.token === token) this.cache.delete(key);
    });
    return token;
  }
}
