import { createHash, createHmac } from 'node:crypto';
import { DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RuntimeConfig } from '../../../../functions/core/config.ts';
import { AslErrorName, ConfigurationError } from '../../../../functions/core/errors.ts';
import { kubernetesClients } from '../../../../functions/tools/kubernetes/client.ts';
import {
  describeWithSdk,
  EKS_TOKEN_PREFIX,
  EksAccess,
  eksToken,
} from '../../../../functions/tools/kubernetes/eks.ts';
import { kubernetesTools, type NodeResourcesOutput } from '../../../../functions/tools/kubernetes/index.ts';
import type { ToolRuntime } from '../../../../functions/tools/registry.ts';
import { FakeKubeApi } from '../../../../local/demo/fake-kube-api.ts';
import { NOW, toolContext } from './harness.ts';

// The example credentials of the AWS documentation: no account behind them.
const CREDENTIALS = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLE+session/token==',
};
const credentials = async () => CREDENTIALS;
const SIGNED_AT = new Date('2026-11-25T10:00:00Z');
// A CA bundle in the shape EKS returns (base64 PEM); the fake API is plain HTTP, so it is not used.
const CA = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n').toString('base64');

/** What the token says, decoded as the cluster's authenticator decodes it. */
function decode(token: string): URL {
  expect(token.startsWith(EKS_TOKEN_PREFIX)).toBe(true);
  const encoded = token.slice(EKS_TOKEN_PREFIX.length);
  expect(encoded).not.toMatch(/[=+/]/); // base64url without padding
  return new URL(Buffer.from(encoded, 'base64url').toString('utf8'));
}

/**
 * SigV4 for a presigned GET, written from the AWS documentation (not Smithy's signer): the canonical
 * request, the string to sign, the derived key. Returns the signature the URL must carry.
 */
function expectedSignature(url: URL, headers: Record<string, string>, secret: string): string {
  const rfc3986 = (value: string) =>
    encodeURIComponent(value).replace(
      /[!'()*]/g,
      (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
    );
  const query = [...url.searchParams.entries()]
    .filter(([key]) => key !== 'X-Amz-Signature')
    .map(([key, value]) => [rfc3986(key), rfc3986(value)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `${key}=${value}`)
    .join('&');
  const signed = url.searchParams.get('X-Amz-SignedHeaders')!.split(';');
  const canonicalHeaders = signed.map((name) => `${name}:${headers[name]!.trim()}\n`).join('');
  const emptyPayload = createHash('sha256').update('').digest('hex');
  const canonicalRequest = ['GET', '/', query, canonicalHeaders, signed.join(';'), emptyPayload].join('\n');
  const amzDate = url.searchParams.get('X-Amz-Date')!;
  const scope = url.searchParams.get('X-Amz-Credential')!.split('/').slice(1).join('/');
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    amzDate,
    scope,
    createHash('sha256').update(canonicalRequest).digest('hex'),
  ].join('\n');
  const [date, region, service] = scope.split('/');
  let key: Buffer = createHmac('sha256', `AWS4${secret}`).update(date!).digest();
  for (const part of [region!, service!, 'aws4_request'])
    key = createHmac('sha256', key).update(part).digest();
  return createHmac('sha256', key).update(stringToSign).digest('hex');
}

describe('EKS tokens', () => {
  it('are a presigned STS GetCallerIdentity naming the cluster in a signed header, as aws eks get-token makes', async () => {
    // Act
    const token = await eksToken({ clusterName: 'prod-eu', region: 'eu-west-1' }, credentials, SIGNED_AT);

    // Assess
    const url = decode(token);
    expect(url.origin).toBe('https://sts.eu-west-1.amazonaws.com');
    expect(url.pathname).toBe('/');
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      Action: 'GetCallerIdentity',
      Version: '2011-06-15',
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
      'X-Amz-Credential': 'AKIAIOSFODNN7EXAMPLE/20261125/eu-west-1/sts/aws4_request',
      'X-Amz-Date': '20261125T100000Z',
      'X-Amz-Expires': '60',
      'X-Amz-SignedHeaders': 'host;x-k8s-aws-id',
      'X-Amz-Security-Token': CREDENTIALS.sessionToken,
    });
    expect(url.searchParams.get('X-Amz-Signature')).toBe(
      expectedSignature(
        url,
        { host: 'sts.eu-west-1.amazonaws.com', 'x-k8s-aws-id': 'prod-eu' },
        CREDENTIALS.secretAccessKey,
      ),
    );
    // Another cluster, another signature: the cluster name is part of what is signed
    const other = decode(
      await eksToken({ clusterName: 'staging-eu', region: 'eu-west-1' }, credentials, SIGNED_AT),
    );
    expect(other.searchParams.get('X-Amz-Signature')).not.toBe(url.searchParams.get('X-Amz-Signature'));
  });

  it('are reused for 10 minutes, then made again; a failed signing is not kept', async () => {
    // Prepare
    let now = SIGNED_AT;
    let calls = 0;
    let failing = true;
    const source = new EksAccess({
      credentials: async () => {
        calls++;
        if (failing) throw new Error('no credentials yet');
        return CREDENTIALS;
      },
      defaultRegion: () => 'eu-west-1',
      now: () => now,
    });

    // Act
    const failed = await source.token('prod-eu').catch((error: Error) => error.message);
    failing = false;
    const first = await source.token('prod-eu');
    now = new Date(SIGNED_AT.getTime() + 9 * 60_000);
    const reused = await source.token('prod-eu');
    now = new Date(SIGNED_AT.getTime() + 10 * 60_000);
    const renewed = await source.token('prod-eu');

    // Assess
    expect(failed).toBe('no credentials yet');
    expect(reused).toBe(first);
    expect(renewed).not.toBe(first);
    expect(decode(renewed).searchParams.get('X-Amz-Date')).toBe('20261125T101000Z');
    expect(calls).toBe(3);
  });

  it('say which region is missing', async () => {
    const source = new EksAccess({ credentials, defaultRegion: () => undefined });
    await expect(source.token('prod-eu')).rejects.toThrow(
      'no region for EKS cluster "prod-eu": set its region in tools.kubernetes.eks or AWS_REGION',
    );
  });
});

describe('Kubernetes tools on an EKS cluster (tools.kubernetes.eks)', () => {
  let api: FakeKubeApi;
  let token: string;
  const source = new EksAccess({ credentials, defaultRegion: () => 'eu-west-1', now: () => SIGNED_AT });

  beforeAll(async () => {
    // The fake API server accepts exactly the token the cluster's authenticator would verify
    token = await eksToken({ clusterName: 'prod-eu-cluster', region: 'eu-west-1' }, credentials, SIGNED_AT);
    api = await FakeKubeApi.start({ now: () => NOW, token });
    api.addNode({ name: 'ip-10-1-0-1', capacity: { cpu: '16' } });
  });
  afterAll(() => api.stop());

  function runtimeFor(
    environment: string,
    eks: Record<string, unknown>,
    contexts: Record<string, string> = {},
  ) {
    return {
      runtime: 'aws',
      config: RuntimeConfig.parse({
        environment,
        publicBaseUrl: 'https://autopilot.example.com/',
        tools: { kubernetes: { contexts, eks } },
      }),
      clock: { now: () => NOW },
      notifier: { send: async () => undefined },
      fetch,
    } satisfies ToolRuntime;
  }

  it("reads a node with the function's own EKS token, no kubeconfig needed", async () => {
    // Prepare: the environment's cluster is an EKS cluster (the config schema wants https; the fake is http)
    const eks = { prod: { clusterName: 'prod-eu-cluster', endpoint: api.url, certificateAuthorityData: CA } };
    const runtime = runtimeFor('prod', {});
    runtime.config.tools.kubernetes.eks = eks;
    const clients = kubernetesClients({ contexts: {}, eks, eksAccess: source });
    const tool = kubernetesTools({ clients, runtime }).find(
      (implementation) => implementation.declaration.name === 'k8s.node-resources',
    )!;

    // Act: no cluster named: the environment's
    const output = (await tool.run(
      tool.declaration.parameters.parse({ node: 'ip-10-1-0-1' }) as Record<string, unknown>,
      toolContext(),
    )) as NodeResourcesOutput;

    // Assess
    expect(output.name).toBe('ip-10-1-0-1');
    expect(api.requestsTo('GET', '/api/v1/nodes/ip-10-1-0-1')).toHaveLength(1);
    await expect(clients.forCluster('prod')).resolves.toMatchObject({ context: 'eks:prod', server: api.url });
  });

  describe('a cluster configured by name only (endpoint and CA from eks:DescribeCluster)', () => {
    const eksApi = mockClient(EKSClient);
    afterEach(() => eksApi.reset());
    afterAll(() => eksApi.restore());

    /** Tokens as the step runner signs them, endpoints read through the SDK (EKS mocked). */
    const describingAccess = () =>
      new EksAccess({
        credentials,
        defaultRegion: () => 'eu-west-1',
        describe: describeWithSdk({ credentials }),
        now: () => SIGNED_AT,
      });

    function nodeResourcesOn(access: EksAccess) {
      const eks = { prod: { clusterName: 'prod-eu-cluster' } };
      const runtime = runtimeFor('prod', eks);
      const clients = kubernetesClients({ contexts: {}, eks, eksAccess: access });
      const tool = kubernetesTools({ clients, runtime }).find(
        (implementation) => implementation.declaration.name === 'k8s.node-resources',
      )!;
      return () =>
        tool.run(
          tool.declaration.parameters.parse({ node: 'ip-10-1-0-1' }) as Record<string, unknown>,
          toolContext(),
        ) as Promise<NodeResourcesOutput>;
    }

    it('reads the endpoint and CA once, then every step talks to the cluster', async () => {
      // Prepare: EKS answers as DescribeCluster does (the fake API stands in for the endpoint)
      eksApi.on(DescribeClusterCommand, { name: 'prod-eu-cluster' }).resolves({
        cluster: {
          name: 'prod-eu-cluster',
          status: 'ACTIVE',
          endpoint: api.url,
          certificateAuthority: { data: CA },
        },
      });
      const run = nodeResourcesOn(describingAccess());

      // Act
      const first = await run();
      const second = await run();

      // Assess
      expect([first.name, second.name]).toEqual(['ip-10-1-0-1', 'ip-10-1-0-1']);
      expect(eksApi.commandCalls(DescribeClusterCommand).map((call) => call.args[0].input)).toEqual([
        { name: 'prod-eu-cluster' },
      ]);
    });

    it('fails the step with what was refused, and asks again at the next step', async () => {
      // Prepare: the role may not describe the cluster (yet)
      eksApi
        .on(DescribeClusterCommand)
        .rejectsOnce(
          Object.assign(
            new Error(
              'User: arn:aws:sts::111122223333:assumed-role/runner is not authorized to perform: eks:DescribeCluster',
            ),
            {
              name: 'AccessDeniedException',
            },
          ),
        )
        .resolves({ cluster: { status: 'ACTIVE', endpoint: api.url, certificateAuthority: { data: CA } } });
      const run = nodeResourcesOn(describingAccess());

      // Act
      const refused = await run().catch((error: Error) => error);
      const retried = await run();

      // Assess
      expect(refused).toMatchObject({
        name: AslErrorName.ToolFailed,
        message: expect.stringContaining(
          'cannot read EKS cluster "prod-eu-cluster" in eu-west-1 (eks:DescribeCluster): AccessDeniedException: User: arn:aws:sts::111122223333:assumed-role/runner is not authorized',
        ),
      });
      expect(retried.name).toBe('ip-10-1-0-1');
      expect(eksApi.commandCalls(DescribeClusterCommand)).toHaveLength(2);
    });
  });

  it('accepts only https endpoints and base64 CA data in the config', () => {
    const parsed = RuntimeConfig.safeParse({
      environment: 'prod',
      publicBaseUrl: 'https://autopilot.example.com/',
      tools: {
        kubernetes: {
          eks: { prod: { endpoint: 'http://10.0.0.1', certificateAuthorityData: 'not base64!' } },
        },
      },
    });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`)).toEqual([
      'tools.kubernetes.eks.prod.endpoint: must be an https URL',
      expect.stringMatching(/^tools\.kubernetes\.eks\.prod\.certificateAuthorityData: /),
    ]);
  });

  it('says so when a runtime cannot sign tokens, and lets a kubeconfig context take precedence', async () => {
    const eks = {
      prod: { endpoint: 'https://ABC.gr7.eu-west-1.eks.amazonaws.com', certificateAuthorityData: CA },
    };

    const unsigned = kubernetesClients({ contexts: {}, eks });
    await expect(unsigned.forCluster('prod')).rejects.toThrow(ConfigurationError);
    await expect(unsigned.forCluster('prod')).rejects.toThrow(
      /cluster "prod" is an EKS cluster \(tools\.kubernetes\.eks\)/,
    );

    const local = kubernetesClients({
      contexts: { prod: 'local-prod' },
      eks,
      eksAccess: source,
      kubeConfigFactory: () => FakeKubeApi.kubeConfigOf([{ api, context: 'local-prod' }]),
    });
    await expect(local.forCluster('prod')).resolves.toMatchObject({ context: 'local-prod', server: api.url });
  });
});
