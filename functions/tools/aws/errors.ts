import type { ToolContext } from '../../ports/tools.ts';
import { ToolError, ToolErrorKind, throwIfAborted } from '../tool.ts';

/**
 * The one place where AWS SDK errors become ToolErrors: the kind the compiled Retry/Catch match, and
 * a message that says which tool, which call, which resource and what to do.
 */

/** Where an AWS call was made, for the error message. */
export interface AwsCallSite {
  tool: string;
  /** The IAM action of the call, e.g. `ec2:RebootInstances`; the API name is the part after the colon. */
  action: string;
  /** What the call is about: instance ids, a group, a function, a metric. */
  resource: string;
  /** The region asked for; undefined: the SDK's default region. */
  region: string | undefined;
}

/** Error codes that mean "not now": AWS rate-limited the call or the resource is busy for a moment. */
const THROTTLED = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'PriorRequestNotComplete',
  // CloudWatch Logs: too many concurrent Insights queries; they finish within minutes.
  'LimitExceededException',
  // Auto Scaling: another update of the same group is in flight (wire code and SDK name).
  'ResourceContention',
  'ResourceContentionFault',
  // Lambda: the function is being updated by another call.
  'ResourceConflictException',
  // SSM: too many updates of the same resource at once.
  'TooManyUpdates',
  // Lambda: the alias or mapping changed since it was read (RevisionId); read again and retry.
  'PreconditionFailedException',
  // API Gateway: another update of the same stage is in flight.
  'ConflictException',
]);

/** Error codes that mean the caller's identity or permissions are not enough. */
const ACCESS_DENIED = new Set([
  'AccessDeniedException',
  'AccessDenied',
  'UnauthorizedOperation',
  'UnauthorizedException',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'MissingAuthenticationToken',
  'AuthFailure',
  'ExpiredToken',
  'ExpiredTokenException',
  'OptInRequired',
  'CredentialsProviderError',
]);

/** Error codes that mean the named resource does not exist (in that region and account). */
const NOT_FOUND = new Set([
  'ResourceNotFoundException',
  'InvalidInstanceID.NotFound',
  'ServiceNotFoundException',
  'ClusterNotFoundException',
  // SSM: the document does not exist, or the instance is not a managed instance that is online.
  'InvalidDocument',
  'InvalidInstanceId',
  'InvocationDoesNotExist',
  'InvalidCommandId',
  // SQS: the JSON protocol's name and the query protocol's wire code for a missing queue.
  'QueueDoesNotExist',
  'AWS.SimpleQueueService.NonExistentQueue',
  // Application Auto Scaling.
  'ObjectNotFoundException',
]);

/** Error codes that mean AWS refused the change in the resource's current state. */
const REFUSED = new Set([
  'ScalingActivityInProgress',
  'ScalingActivityInProgressFault',
  'ResourceInUse',
  'ResourceInUseFault',
  'IncorrectState',
  'IncorrectInstanceState',
  'ServiceNotActiveException',
  'UpdateInProgressException',
  // RDS: the instance is not in a state that allows the change (rebooting, modifying, storage-optimization).
  'InvalidDBInstanceState',
  'InvalidDBInstanceStateFault',
  'StorageQuotaExceeded',
  'StorageQuotaExceededFault',
  // Lambda: the event source mapping is being created, updated or deleted.
  'ResourceInUseException',
  // SQS: a message move task is already running on the queue, or the queue is not a dead-letter queue.
  'UnsupportedOperation',
  'AWS.SimpleQueueService.UnsupportedOperation',
]);

const MAX_AWS_MESSAGE = 300;

/** The AWS error code of an SDK error (`name` in SDK v3, `Code` in some XML protocols). */
export function awsErrorCode(error: unknown): string {
  if (error === null || typeof error !== 'object') return 'UnknownError';
  const candidate = error as { Code?: unknown; code?: unknown; name?: unknown };
  for (const value of [candidate.name, candidate.Code, candidate.code]) {
    if (typeof value === 'string' && value !== '' && value !== 'Error') return value;
  }
  return 'Error';
}

function httpStatusOf(error: unknown): number | undefined {
  const metadata = (error as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata;
  return typeof metadata?.httpStatusCode === 'number' ? metadata.httpStatusCode : undefined;
}

/** The ToolError kind an AWS error code (and, for unknown codes, its HTTP status) stands for. */
export function toolErrorKindOf(code: string, httpStatus?: number): ToolErrorKind {
  if (THROTTLED.has(code)) return ToolErrorKind.Throttled;
  if (ACCESS_DENIED.has(code)) return ToolErrorKind.AccessDenied;
  if (NOT_FOUND.has(code)) return ToolErrorKind.NotFound;
  if (REFUSED.has(code)) return ToolErrorKind.Refused;
  if (/^(Validation|InvalidParameter)/.test(code)) return ToolErrorKind.Failed;
  if (/NotFound(Exception|Fault)?$/.test(code)) return ToolErrorKind.NotFound;
  if (/Throttl/.test(code) || httpStatus === 429) return ToolErrorKind.Throttled;
  if (/AccessDenied|Unauthorized/.test(code) || httpStatus === 403) return ToolErrorKind.AccessDenied;
  return ToolErrorKind.Failed;
}

function regionText(region: string | undefined): string {
  return region ? `in ${region}` : 'in the default region';
}

function shortAwsMessage(error: unknown): string {
  const raw = error instanceof Error ? error.message : String(error);
  const message = raw.replace(/\s+/g, ' ').trim();
  return message.length > MAX_AWS_MESSAGE ? `${message.slice(0, MAX_AWS_MESSAGE)}…` : message;
}

/** Turns an SDK error into the ToolError the state machine catches; a ToolError passes through. */
export function toolErrorFromAws(error: unknown, site: AwsCallSite): ToolError {
  if (error instanceof ToolError) return error;
  const code = awsErrorCode(error);
  const httpStatus = httpStatusOf(error);
  const kind = toolErrorKindOf(code, httpStatus);
  const api = site.action.slice(site.action.indexOf(':') + 1);
  const where = regionText(site.region);
  const detail = `(${code}: ${shortAwsMessage(error)})`;
  const message = {
    [ToolErrorKind.Throttled]: `${site.tool}: ${api} for ${site.resource} ${where} was throttled ${detail}; the step's retry can try again later`,
    [ToolErrorKind.AccessDenied]: `${site.tool}: ${api} for ${site.resource} ${where} was denied ${detail}; the role the step runs as needs ${site.action} (and valid credentials)`,
    [ToolErrorKind.NotFound]: `${site.tool}: ${api}: ${site.resource} not found ${where} ${detail}; check the name and the region`,
    [ToolErrorKind.Refused]: `${site.tool}: ${api} for ${site.resource} ${where} was refused ${detail}`,
    [ToolErrorKind.Failed]: `${site.tool}: ${api} for ${site.resource} ${where} failed ${detail}`,
  }[kind];
  const requestId = (error as { $metadata?: { requestId?: string } } | null)?.$metadata?.requestId;
  return new ToolError(kind, message, {
    cause: error,
    data: {
      awsErrorCode: code,
      action: site.action,
      resource: site.resource,
      ...(site.region ? { region: site.region } : {}),
      ...(httpStatus ? { httpStatusCode: httpStatus } : {}),
      ...(requestId ? { requestId } : {}),
    },
  });
}

/**
 * Makes one SDK call with the step's abort signal. An aborted step rethrows the abort's reason (the
 * runner reports it as a timeout or an operator abort); any other error becomes a ToolError.
 */
export async function callAws<T>(
  site: AwsCallSite,
  context: ToolContext,
  send: (abortSignal: AbortSignal) => Promise<T>,
): Promise<T> {
  throwIfAborted(context);
  try {
    return await send(context.signal);
  } catch (error) {
    throwIfAborted(context);
    throw toolErrorFromAws(error, site);
  }
}
