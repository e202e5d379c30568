import { ApiException } from '@kubernetes/client-node';
import { ToolError, ToolErrorKind } from '../tool.ts';

/** What a request was about, for messages and RBAC hints: `patch deployments/scale shop/cart`. */
export interface KubernetesTarget {
  verb: 'get' | 'list' | 'patch' | 'create' | 'delete';
  /** Plural resource, with its subresource: `nodes`, `pods/log`, `deployments/scale`. */
  resource: string;
  /** API group; '' (core) when absent. */
  group?: string;
  namespace?: string;
  name?: string;
}

/** The parts of a Kubernetes `Status` object (the body of every API error) this code reads. */
export interface KubernetesStatus {
  message?: string;
  reason?: string;
  code?: number;
  details?: {
    name?: string;
    kind?: string;
    causes?: Array<{ reason?: string; message?: string; field?: string }>;
  };
}

const MAX_QUOTED = 500;

/** The Status in an ApiException's body: the client hands it over as JSON text (or not at all for 401). */
export function statusOf(error: ApiException<unknown>): KubernetesStatus {
  const body = error.body;
  if (body && typeof body === 'object') return body as KubernetesStatus;
  if (typeof body !== 'string' || body.trim() === '') return {};
  try {
    const parsed: unknown = JSON.parse(body);
    if (parsed && typeof parsed === 'object') return parsed as KubernetesStatus;
  } catch {
    // Not JSON (an aggregated API's or a proxy's plain-text page): quote it.
  }
  return { message: body.trim().slice(0, MAX_QUOTED) };
}

export function describeTarget(target: KubernetesTarget): string {
  const where = [target.namespace, target.name].filter(Boolean).join('/');
  return where ? `${target.resource} ${where}` : target.resource;
}

function rbacHint(target: KubernetesTarget): string {
  const scope = target.namespace ? ` in namespace "${target.namespace}"` : '';
  return `the role needs "${target.verb}" on "${target.resource}" in API group "${target.group ?? ''}"${scope}`;
}

function retryAfterSeconds(error: ApiException<unknown>): number | undefined {
  const header = error.headers?.['retry-after'];
  const seconds = header === undefined ? Number.NaN : Number(header);
  return Number.isFinite(seconds) ? seconds : undefined;
}

export interface FailureScope {
  tool: string;
  /** `cluster "prod" (context "prod-admin")` or `context "kind-dev"`. */
  where: string;
  server: string;
}

/**
 * Translates an API error into the tool error the state machine matches: 401/403 AccessDenied,
 * 404 NotFound, 422 Refused (the API server rejected the change as invalid), 429 Throttled (API
 * priority and fairness), and Failed for everything else (409 conflicts and 5xx are worth a retry).
 */
export function toToolError(error: unknown, target: KubernetesTarget, scope: FailureScope): ToolError {
  if (error instanceof ToolError) return error;
  const action = `${scope.tool}: cannot ${target.verb} ${describeTarget(target)} in ${scope.where}`;
  if (!(error instanceof ApiException)) {
    const message = error instanceof Error ? error.message : String(error);
    return new ToolError(
      ToolErrorKind.Failed,
      `${action}: the API server ${scope.server} did not answer: ${message}`,
      { cause: error, data: { server: scope.server } },
    );
  }
  const code = error.code;
  const status = statusOf(error);
  const said = status.message ? `: ${status.message}` : '';
  const data = {
    status: code,
    ...(status.reason ? { reason: status.reason } : {}),
    ...(retryAfterSeconds(error) !== undefined ? { retryAfterSeconds: retryAfterSeconds(error) } : {}),
  };
  const options = { cause: error, data };
  switch (true) {
    case code === 401:
      return new ToolError(
        ToolErrorKind.AccessDenied,
        `${action}: unauthorized (401): the API server rejected the credentials; check the kubeconfig user or the role's cluster access entry${said}`,
        options,
      );
    case code === 403:
      return new ToolError(
        ToolErrorKind.AccessDenied,
        `${action}: forbidden (403)${said}; ${rbacHint(target)}`,
        options,
      );
    case code === 404:
      return new ToolError(ToolErrorKind.NotFound, `${action}: not found (404)${said}`, options);
    case code === 422:
      return new ToolError(
        ToolErrorKind.Refused,
        `${action}: the API server refused the change as invalid (422)${said}`,
        options,
      );
    case code === 429:
      return new ToolError(
        ToolErrorKind.Throttled,
        `${action}: throttled by the API server (429, API priority and fairness); retry later${said}`,
        options,
      );
    case code === 409:
      return new ToolError(
        ToolErrorKind.Failed,
        `${action}: conflict (409), the object changed meanwhile; a retry reads it again${said}`,
        options,
      );
    case code >= 500:
      return new ToolError(ToolErrorKind.Failed, `${action}: API server error (${code})${said}`, options);
    default:
      return new ToolError(ToolErrorKind.Failed, `${action}: rejected (${code})${said}`, options);
  }
}
