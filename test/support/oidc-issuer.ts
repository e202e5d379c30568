import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';

/**
 * A sign-in server for tests, shaped like Cognito's hosted UI: /oauth2/authorize (signs in the person
 * the test chose, answers with a code), /oauth2/token (the code and its PKCE verifier for an ID token
 * signed with this issuer's own RSA key), /.well-known/jwks.json (the public key the control API
 * verifies with) and /logout. Only for tests: it signs in whoever the test names.
 */

export interface TestPerson {
  email: string;
  groups: string[];
  username?: string;
}

interface PendingCode {
  person: TestPerson;
  challenge: string;
  redirectUri: string;
  clientId: string;
}

export interface TestIssuer {
  /** The issuer (`iss`), without a trailing slash. */
  url: string;
  clientId: string;
  /** Who the next sign-in signs in as. */
  signInAs(person: TestPerson): void;
  /** An ID token for `person`, as the token endpoint would give it (tests call the API with it). */
  idToken(
    person: TestPerson,
    overrides?: { expiresIn?: string; audience?: string; issuer?: string },
  ): Promise<string>;
  /** A token signed with a key that is not the issuer's. */
  forgedToken(person: TestPerson): Promise<string>;
  /** How many codes were exchanged (each once). */
  exchanged: number;
  close(): Promise<void>;
}

export async function startTestIssuer(clientId: string): Promise<TestIssuer> {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const kid = randomBytes(8).toString('hex');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  const codes = new Map<string, PendingCode>();
  let next: TestPerson | undefined;
  let url = '';

  const sign = async (
    person: TestPerson,
    key: Parameters<SignJWT['sign']>[0] = privateKey,
    overrides: { expiresIn?: string; audience?: string; issuer?: string } = {},
  ) =>
    new SignJWT({
      email: person.email,
      'cognito:groups': person.groups,
      'cognito:username': person.username ?? person.email.split('@')[0],
      token_use: 'id',
    })
      .setProtectedHeader({ alg: 'RS256', kid })
      .setIssuer(overrides.issuer ?? url)
      .setAudience(overrides.audience ?? clientId)
      .setSubject(createHash('sha256').update(person.email).digest('hex').slice(0, 32))
      .setIssuedAt()
      .setExpirationTime(overrides.expiresIn ?? '1h')
      .sign(key);

  const issuer: TestIssuer = {
    url: '',
    clientId,
    exchanged: 0,
    signInAs(person) {
      next = person;
    },
    idToken: (person, overrides) => sign(person, privateKey, overrides),
    async forgedToken(person) {
      const other = await generateKeyPair('RS256');
      return sign(person, other.privateKey);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };

  const server: Server = createServer((request, response) => {
    const target = new URL(request.url ?? '/', url);
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      response.writeHead(status, {
        'content-type': 'application/json',
        'access-control-allow-origin': '*',
        ...headers,
      });
      response.end(JSON.stringify(body));
    };
    if (request.method === 'GET' && target.pathname === '/.well-known/jwks.json')
      return reply(200, { keys: [jwk] });
    if (request.method === 'GET' && target.pathname === '/oauth2/authorize') {
      const query = target.searchParams;
      const redirectUri = query.get('redirect_uri') ?? '';
      if (
        query.get('response_type') !== 'code' ||
        query.get('client_id') !== clientId ||
        query.get('code_challenge_method') !== 'S256' ||
        !query.get('code_challenge') ||
        !redirectUri ||
        !next
      )
        return reply(400, { error: 'invalid_request' });
      const code = randomBytes(16).toString('hex');
      codes.set(code, { person: next, challenge: query.get('code_challenge')!, redirectUri, clientId });
      const back = new URL(redirectUri);
      back.searchParams.set('code', code);
      back.searchParams.set('state', query.get('state') ?? '');
      response.writeHead(302, { location: back.href });
      return response.end();
    }
    if (request.method === 'GET' && target.pathname === '/logout') {
      response.writeHead(302, { location: target.searchParams.get('logout_uri') ?? '/' });
      return response.end();
    }
    if (request.method === 'OPTIONS') {
      response.writeHead(204, {
        'access-control-allow-origin': '*',
        'access-control-allow-methods': 'POST',
        'access-control-allow-headers': 'content-type',
      });
      return response.end();
    }
    if (request.method === 'POST' && target.pathname === '/oauth2/token') {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
        const pending = codes.get(form.get('code') ?? '');
        codes.delete(form.get('code') ?? '');
        const verifier = form.get('code_verifier') ?? '';
        const challenge = createHash('sha256').update(verifier).digest('base64url');
        if (
          !pending ||
          form.get('grant_type') !== 'authorization_code' ||
          form.get('client_id') !== pending.clientId ||
          form.get('redirect_uri') !== pending.redirectUri ||
          challenge !== pending.challenge
        )
          return reply(400, { error: 'invalid_grant' });
        issuer.exchanged++;
        void sign(pending.person).then((idToken) =>
          reply(200, { id_token: idToken, access_token: 'not-used', token_type: 'Bearer', expires_in: 3600 }),
        );
      });
      return;
    }
    reply(404, { error: 'not_found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  issuer.url = url;
  return issuer;
}
