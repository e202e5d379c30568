import type middy from '@middy/core';
import {
  createRemoteJWKSet,
  type JWTPayload,
  type JWTVerifyGetKey,
  errors as joseErrors,
  jwtVerify,
} from 'jose';
import {
  type ApiAuthConfig,
  type ApiCaller,
  fullAccess,
  permissionFor,
  permissionsOf,
  rolesOf,
  rolesWith,
} from '../core/api-access.ts';
import { ForbiddenError, type HttpEvent, type HttpResult, header, UnauthorizedError } from './http.ts';

export { ForbiddenError };

export interface ApiAccessOptions {
  /** Absent: no sign-in (the embedded platform, where --token guards the API). */
  auth?: ApiAuthConfig;
  /** Where the sign-in config is read at run time (AWS: a parameter the dashboard's stack writes). */
  authSource?: () => Promise<ApiAuthConfig | undefined>;
  /**
   * `refuse`: a request that is neither an IAM principal's nor signed in is refused even when no sign-in
   * is configured (on AWS, where only IAM and the dashboard reach the API); default `operator` (local).
   */
  anonymous?: 'operator' | 'refuse';
  /** The issuer's keys; default: fetched from `jwksUri` (and cached, refreshed when a new key appears). */
  keys?: JWTVerifyGetKey;
}

const callers = new WeakMap<HttpEvent, ApiCaller>();

/** Who the access check found behind a request (after `apiAccess` ran). */
export function callerOf(event: HttpEvent): ApiCaller | undefined {
  return callers.get(event);
}

/** A groups claim as tokens carry it: a list, or one string (an IdP attribute: `a,b` or `[a, b]`). */
function groupsIn(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((group): group is string => typeof group === 'string');
  if (typeof value !== 'string') return [];
  return value
    .replace(/^\[|\]$/g, '')
    .split(/[,\s]+/)
    .map((group) => group.trim())
    .filter(Boolean);
}

function whyRefused(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'it has expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed)
    return `its ${error.claim} claim is not this API's`;
  if (
    error instanceof joseErrors.JWSSignatureVerificationFailed ||
    error instanceof joseErrors.JWKSNoMatchingKey
  )
    return 'its signature is not the identity provider’s';
  if (error instanceof joseErrors.JOSEError) return `it is not a valid token (${error.code})`;
  return 'it could not be checked';
}

/**
 * The control API's access check: an IAM principal (the Function URL with IAM auth) may do what its
 * policy allows; otherwise, with sign-in configured, the request must carry the ID token the dashboard
 * got from the identity provider (`Authorization: Bearer …`), verified here with the issuer's keys
 * (signature, issuer, audience, expiry), and the person's groups must allow the route: GET needs a
 * viewer, an approval decision an approver, any other change an operator.
 */
export function apiAccess(options: ApiAccessOptions): middy.MiddlewareObj<HttpEvent, HttpResult> {
  let keys = options.keys;
  let keysFor: string | undefined;
  const verify = async (auth: ApiAuthConfig, token: string): Promise<JWTPayload> => {
    const jwksUri = auth.jwksUri ?? `${auth.issuer.replace(/\/$/, '')}/.well-known/jwks.json`;
    if (!options.keys && keysFor !== jwksUri) {
      keys = createRemoteJWKSet(new URL(jwksUri));
      keysFor = jwksUri;
    }
    const { payload } = await jwtVerify(token, keys!, {
      issuer: auth.issuer,
      audience: auth.audience,
      algorithms: ['RS256', 'ES256'],
      clockTolerance: 30,
    });
    if (auth.tokenUse && payload.token_use !== auth.tokenUse)
      throw new joseErrors.JWTClaimValidationFailed(
        'unexpected token_use',
        payload,
        'token_use',
        'check_failed',
      );
    return payload;
  };
  return {
    before: async function apiAccessBefore(request) {
      const event = request.event;
      const iam = (event.requestContext as { authorizer?: { iam?: { userArn?: string } } }).authorizer?.iam
        ?.userArn;
      let caller: ApiCaller;
      const auth = iam ? undefined : (options.auth ?? (await options.authSource?.()));
      if (iam) caller = fullAccess(iam, 'iam');
      else if (!auth && options.anonymous === 'refuse')
        throw new UnauthorizedError(
          'sign-in is not set up for this API yet (deploy the dashboard stack), so only IAM-signed requests are accepted',
        );
      else if (!auth) caller = fullAccess('operator', 'local');
      else {
        const authorization = header(event, 'authorization');
        if (!authorization?.startsWith('Bearer '))
          throw new UnauthorizedError(
            'sign in first: this API needs Authorization: Bearer <the ID token of your sign-in>',
          );
        let claims: JWTPayload;
        try {
          claims = await verify(auth, authorization.slice(7).trim());
        } catch (error) {
          throw new UnauthorizedError(`the sign-in token was refused: ${whyRefused(error)}; sign in again`);
        }
        const groups = [...new Set(auth.groupsClaims.flatMap((claim) => groupsIn(claims[claim])))];
        const roles = rolesOf(groups, auth);
        const email = typeof claims.email === 'string' ? claims.email : undefined;
        const username = claims['cognito:username'];
        caller = {
          id:
            email ?? (typeof username === 'string' ? username : undefined) ?? String(claims.sub ?? 'unknown'),
          ...(email ? { email } : {}),
          groups,
          roles,
          permissions: permissionsOf(roles),
          via: 'jwt',
        };
        if (roles.length === 0)
          throw new ForbiddenError(
            `signed in as ${caller.id}, who is in none of the groups that may use this API (${Object.values(auth.roles).flat().join(', ')}); ask an administrator to add you to one`,
          );
      }
      const method = event.requestContext?.http?.method ?? 'GET';
      const needed = permissionFor(method, event.rawPath ?? '');
      if (!caller.permissions.includes(needed))
        throw new ForbiddenError(
          `${method} ${event.rawPath} needs the ${rolesWith(needed).join(' or ')} group; ${caller.id} is in ${caller.roles.join(', ')}`,
        );
      callers.set(event, caller);
    },
  };
}
