import * as z from 'zod';

/**
 * Who may do what through the control API, per group: viewers look, approvers also decide approvals
 * (as themselves), operators also act (pause, resume, abort, kill switch, manual starts, rollbacks).
 * Least privilege: a signed-in person in none of the groups may do nothing; every change needs a
 * group that allows it. The groups come from the identity provider's token (Cognito groups, or the
 * organization's groups mapped in cdk.json).
 */

export const ApiRole = z.enum(['viewers', 'approvers', 'operators']);
export type ApiRole = z.infer<typeof ApiRole>;

export const ApiPermission = z.enum(['read', 'approve', 'operate']);
export type ApiPermission = z.infer<typeof ApiPermission>;

export const ROLE_PERMISSIONS: Readonly<Record<ApiRole, readonly ApiPermission[]>> = {
  viewers: ['read'],
  approvers: ['read', 'approve'],
  operators: ['read', 'operate'],
};

/** How the control API checks a signed-in person's token (RUNBOOK_AUTOPILOT_API_AUTH on AWS). */
export const ApiAuthConfig = z
  .object({
    /** The token issuer (the Cognito user pool's URL): `iss` must equal it. */
    issuer: z.url(),
    /** The app client the dashboard signs in with: the ID token's `aud`. */
    audience: z.string().min(1),
    /** Where the issuer's signing keys are; default `<issuer>/.well-known/jwks.json` (Cognito's). */
    jwksUri: z.url().optional(),
    /** Claims that list a person's groups; Cognito puts them in `cognito:groups`. */
    groupsClaims: z.array(z.string().min(1)).min(1).default(['cognito:groups']),
    /** The group names that give each role (an organization's own group names map here). */
    roles: z
      .object({
        viewers: z.array(z.string().min(1)).default(['viewers']),
        approvers: z.array(z.string().min(1)).default(['approvers']),
        operators: z.array(z.string().min(1)).default(['operators']),
      })
      .strict()
      .prefault({}),
    /** Cognito marks ID tokens `token_use: id`; an access token is refused (it names no person). */
    tokenUse: z.enum(['id']).optional(),
  })
  .strict();
export type ApiAuthConfig = z.infer<typeof ApiAuthConfig>;

/** The person or principal a request comes from, and what it may do. */
export interface ApiCaller {
  /** What the records say did it: an e-mail, a user name, an IAM principal, `operator` locally. */
  id: string;
  email?: string;
  groups: string[];
  roles: ApiRole[];
  permissions: ApiPermission[];
  /** How it proved who it is. */
  via: 'jwt' | 'iam' | 'local';
}

/** The roles a person's groups give them. */
export function rolesOf(groups: readonly string[], config: ApiAuthConfig): ApiRole[] {
  return ApiRole.options.filter((role) => config.roles[role].some((group) => groups.includes(group)));
}

export function permissionsOf(roles: readonly ApiRole[]): ApiPermission[] {
  return ApiPermission.options.filter((permission) =>
    roles.some((role) => ROLE_PERMISSIONS[role].includes(permission)),
  );
}

/** Every permission: an IAM principal (its policy decides) or the embedded platform's own operator. */
export function fullAccess(id: string, via: ApiCaller['via']): ApiCaller {
  return {
    id,
    groups: [],
    roles: [...ApiRole.options],
    permissions: [...ApiPermission.options],
    via,
  };
}

/** What a request needs: reading for GET, deciding for approval decisions, operating for any other change. */
export function permissionFor(method: string, path: string): ApiPermission {
  if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return 'read';
  if (/^\/api\/approvals\/[^/]+\/decision$/.test(path)) return 'approve';
  return 'operate';
}

/** Which groups give a permission, in words for a 403. */
export function rolesWith(permission: ApiPermission): ApiRole[] {
  return ApiRole.options.filter((role) => ROLE_PERMISSIONS[role].includes(permission));
}
