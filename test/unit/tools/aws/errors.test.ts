import { describe, expect, it } from 'vitest';
import { callAws, toolErrorFromAws, toolErrorKindOf } from '../../../../functions/tools/aws/errors.ts';
import { ToolError, ToolErrorKind } from '../../../../functions/tools/tool.ts';
import { awsError, rejectionOf, testContext } from './tool-context.ts';

const site = {
  tool: 'ec2.reboot-instances',
  action: 'ec2:RebootInstances',
  resource: 'instances i-0abc1234def567890',
  region: 'eu-west-1',
};

describe('AWS error mapping', () => {
  it.each([
    ['ThrottlingException', ToolErrorKind.Throttled],
    ['Throttling', ToolErrorKind.Throttled],
    ['TooManyRequestsException', ToolErrorKind.Throttled],
    ['RequestLimitExceeded', ToolErrorKind.Throttled],
    ['ResourceContentionFault', ToolErrorKind.Throttled],
    ['AccessDeniedException', ToolErrorKind.AccessDenied],
    ['AccessDenied', ToolErrorKind.AccessDenied],
    ['UnauthorizedOperation', ToolErrorKind.AccessDenied],
    ['UnrecognizedClientException', ToolErrorKind.AccessDenied],
    ['ExpiredTokenException', ToolErrorKind.AccessDenied],
    ['ResourceNotFoundException', ToolErrorKind.NotFound],
    ['InvalidInstanceID.NotFound', ToolErrorKind.NotFound],
    ['ServiceNotFoundException', ToolErrorKind.NotFound],
    ['ClusterNotFoundException', ToolErrorKind.NotFound],
    ['InvalidGroup.NotFound', ToolErrorKind.NotFound],
    ['ScalingActivityInProgressFault', ToolErrorKind.Refused],
    ['ValidationError', ToolErrorKind.Failed],
    ['InvalidParameterValueException', ToolErrorKind.Failed],
    ['InvalidParameterCombination', ToolErrorKind.Failed],
    ['InvalidInstanceID.Malformed', ToolErrorKind.Failed],
    ['InternalFailure', ToolErrorKind.Failed],
  ])('%s -> %s', (code, kind) => {
    expect(toolErrorKindOf(code)).toBe(kind);
  });

  it('falls back on the HTTP status for codes it does not know', () => {
    expect(toolErrorKindOf('SomethingNew', 429)).toBe(ToolErrorKind.Throttled);
    expect(toolErrorKindOf('SomethingNew', 403)).toBe(ToolErrorKind.AccessDenied);
    expect(toolErrorKindOf('SomethingNew', 500)).toBe(ToolErrorKind.Failed);
  });

  it('says which tool, which call, which resource, where, and what to do', () => {
    const error = toolErrorFromAws(
      awsError('UnauthorizedOperation', 'You are not authorized to perform this operation.', 403),
      site,
    );

    expect(error).toBeInstanceOf(ToolError);
    expect(error.name).toBe('Tool.AccessDenied');
    expect(error.message).toBe(
      'ec2.reboot-instances: RebootInstances for instances i-0abc1234def567890 in eu-west-1 was denied (UnauthorizedOperation: You are not authorized to perform this operation.); the role the step runs as needs ec2:RebootInstances (and valid credentials)',
    );
    expect(error.data).toEqual({
      awsErrorCode: 'UnauthorizedOperation',
      action: 'ec2:RebootInstances',
      resource: 'instances i-0abc1234def567890',
      region: 'eu-west-1',
      httpStatusCode: 403,
      requestId: 'b0e91dc8-3807-11e2-83c6-5d7a44a3a8ce',
    });
    expect(error.stack).not.toContain('    at ');
  });

  it('keeps a validation message and names the default region when none was given', () => {
    const error = toolErrorFromAws(
      awsError(
        'ValidationError',
        'New SetDesiredCapacity value 12 is above max value 10 for the AutoScalingGroup.',
      ),
      { ...site, region: undefined },
    );

    expect(error.name).toBe('Runbook.ToolFailed');
    expect(error.message).toContain(
      'in the default region failed (ValidationError: New SetDesiredCapacity value 12',
    );
  });

  it('shortens a very long AWS message', () => {
    const error = toolErrorFromAws(awsError('InternalFailure', 'x'.repeat(5_000), 500), site);
    expect(error.message.length).toBeLessThan(600);
  });

  it('passes a ToolError through unchanged', () => {
    const original = new ToolError(ToolErrorKind.Refused, 'refused on purpose');
    expect(toolErrorFromAws(original, site)).toBe(original);
  });
});

describe('callAws', () => {
  it('hands the step signal to the call and maps its errors', async () => {
    const context = testContext();
    let received: AbortSignal | undefined;

    const error = await rejectionOf(
      callAws(site, context, async (abortSignal) => {
        received = abortSignal;
        throw awsError('RequestLimitExceeded', 'Request limit exceeded.', 503);
      }),
    );

    expect(received).toBe(context.signal);
    expect(error.name).toBe('Tool.Throttled');
  });

  it('rethrows the abort reason, not an AWS error, when the step was aborted during the call', async () => {
    const context = testContext();
    const reason = new Error('reboot-instance aborted by alice@example.com');

    const error = await rejectionOf(
      callAws(site, context, async () => {
        context.controller.abort(reason);
        throw Object.assign(new Error('This operation was aborted'), { name: 'AbortError' });
      }),
    );

    expect(error).toBe(reason);
  });

  it('does not call AWS after the step was aborted', async () => {
    const context = testContext();
    context.controller.abort(new Error('timed out'));
    let called = false;

    await rejectionOf(
      callAws(site, context, async () => {
        called = true;
      }),
    );

    expect(called).toBe(false);
  });
});
