import middy from '@middy/core';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { ApiAuthConfig, permissionFor } from '../../../functions/core/api-access.ts';
import { httpErrors, json } from '../../../functions/handlers/http.ts';
import { type ApiAccessOptions, apiAccess, callerOf } from '../../../functions/handlers/identity.ts';
import { silentLogger } from '../../../functions/ports/logger.ts';

const ISSUER = 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TEST';
const AUTH = ApiAuthConfig.parse({
  issuer: ISSUER,
  audience: 'client-1',
  groupsClaims: ['cognito:groups', 'custom:groups'],
  roles: { operators: ['operators', 'sre'] },
  tokenUse: 'id',
});

let sign: (claims: Record<string, unknown>) => Promise<string>;
let keys: ReturnType<typeof createLocalJWKSet>;

beforeAll(async () => {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  keys = createLocalJWKSet({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256' }] });
  sign = (claims) =>
    new SignJWT({ token_use: 'id', ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuer(ISSUER)
      .setAudience('client-1')
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(privateKey);
});

function event(method: string, path: string, token?: string, iam?: string): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: '',
    headers: token ? { authorization: `Bearer ${token}` } : {},
    requestContext: {
      http: { method, path },
      ...(iam ? { authorizer: { iam: { userArn: iam } } } : {}),
    },
    isBase64Encoded: false,
  } as unknown as APIGatewayProxyEventV2;
}

/** A handler behind the access check that answers who it saw. */
function guarded(options: ApiAccessOptions) {
  return middy(async (request: APIGatewayProxyEventV2) => json(200, { caller: callerOf(request) }))
    .use(httpErrors(silentLogger))
    .use(apiAccess(options));
}

async function ask(options: ApiAccessOptions, method: string, path: string, token?: string, iam?: string) {
  const result = await guarded(options)(event(method, path, token, iam), {} as never);
  return { status: result.statusCode, body: JSON.parse(String(result.body)) };
}

describe('the control API’s access check', () => {
  it('needs reading for GET, deciding for approval decisions, operating for every other change', () => {
    expect(permissionFor('GET', '/api/executions')).toBe('read');
    expect(permissionFor('POST', '/api/approvals/abc/decision')).toBe('approve');
    expect(permissionFor('POST', '/api/executions/x/pause')).toBe('operate');
    expect(permissionFor('POST', '/api/some-route-added-later')).toBe('operate');
  });

  it('maps groups from either claim to roles, including a provider’s groups sent as one string', async () => {
    const options = { auth: AUTH, keys };
    const federated = await ask(
      options,
      'POST',
      '/api/kill-switch',
      await sign({ email: 'sam@example.com', 'custom:groups': '[sre, payments]' }),
    );
    const viewer = await ask(
      options,
      'GET',
      '/api/executions',
      await sign({ 'cognito:username': 'vic', 'cognito:groups': ['viewers'] }),
    );
    expect(federated.status).toBe(200);
    expect(federated.body.caller).toEqual({
      id: 'sam@example.com',
      email: 'sam@example.com',
      groups: ['sre', 'payments'],
      roles: ['operators'],
      permissions: ['read', 'operate'],
      via: 'jwt',
    });
    expect(viewer.body.caller).toMatchObject({ id: 'vic', roles: ['viewers'], permissions: ['read'] });
  });

  it('refuses an access token (token_use access), another audience, and a signed-in person in no group', async () => {
    const options = { auth: AUTH, keys };
    const access = await ask(
      options,
      'GET',
      '/api/executions',
      await sign({ token_use: 'access', 'cognito:groups': ['operators'] }),
    );
    const outsider = await ask(options, 'GET', '/api/executions', await sign({ email: 'x@example.com' }));
    expect(access.status).toBe(401);
    expect(access.body.error).toContain('token_use');
    expect(outsider).toMatchObject({
      status: 403,
      body: { error: expect.stringContaining('x@example.com') },
    });
  });

  it('on AWS: an IAM principal may do anything its policy allows; an unsigned request is refused, even before sign-in is set up', async () => {
    const aws: ApiAccessOptions = { authSource: async () => undefined, anonymous: 'refuse' };
    const iam = await ask(
      aws,
      'POST',
      '/api/kill-switch',
      undefined,
      'arn:aws:iam::111111111111:role/oncall',
    );
    const anonymous = await ask(aws, 'GET', '/api/executions');
    const local = await ask({}, 'POST', '/api/kill-switch');
    expect(iam.status).toBe(200);
    expect(iam.body.caller).toMatchObject({ id: 'arn:aws:iam::111111111111:role/oncall', via: 'iam' });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error).toContain('only IAM-signed requests');
    expect(local.body.caller).toMatchObject({ id: 'operator', via: 'local' });
  });
});
