import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import * as z from 'zod';
import { StateError } from '../../core/errors.ts';
import type { ApprovalTask, RiskApprovalTask } from '../../core/execution-contract.ts';
import type { ApprovalRequester } from '../../core/risk/checkpoint.ts';

/**
 * The read-only step runner's way to ask for an approval (the risk policy's, the approve level's): it invokes the approval-request function
 * (which alone holds the link-signing key and publishes to the approvals topic) and waits for its
 * answer, so a request that cannot be routed fails the checkpoint that asked, with the same error name.
 */
export class LambdaApprovalRequester implements ApprovalRequester {
  constructor(private readonly options: { client: LambdaClient; functionName: string }) {}

  async request(payload: RiskApprovalTask | z.infer<typeof ApprovalTask>): Promise<unknown> {
    const response = await this.options.client.send(
      new InvokeCommand({
        FunctionName: this.options.functionName,
        InvocationType: 'RequestResponse',
        Payload: new TextEncoder().encode(JSON.stringify(payload)),
      }),
    );
    const text = response.Payload ? new TextDecoder().decode(response.Payload) : 'null';
    let answer: unknown = null;
    try {
      answer = JSON.parse(text);
    } catch {
      answer = text;
    }
    if (response.FunctionError) {
      const failure = (answer ?? {}) as { errorType?: unknown; errorMessage?: unknown };
      const error = new StateError(
        typeof failure.errorType === 'string' ? failure.errorType : 'Approval.RequestFailed',
        `the approval-request function could not ask for the approval: ${typeof failure.errorMessage === 'string' ? failure.errorMessage : response.FunctionError}`,
      );
      error.stack = `${error.name}: ${error.message}`;
      throw error;
    }
    return answer;
  }
}

/** What the approval-request function answers for an approval task (ApprovalService.request). */
const RequestedApproval = z.object({
  approvalId: z.string(),
  approvers: z.array(z.string()),
  created: z.boolean(),
  skipped: z.string().optional(),
});

/** An approval task asked of the approval-request function, its answer checked before it is used. */
export async function requestApprovalThrough(
  requester: LambdaApprovalRequester,
  payload: z.infer<typeof ApprovalTask>,
): Promise<z.infer<typeof RequestedApproval>> {
  const answer = RequestedApproval.safeParse(await requester.request(payload));
  if (!answer.success) {
    const error = new StateError(
      'Approval.RequestFailed',
      `the approval-request function answered an approval task with something else: ${answer.error.issues.map((issue) => `${issue.path.join('.') || '(answer)'}: ${issue.message}`).join('; ')}`,
    );
    error.stack = `${error.name}: ${error.message}`;
    throw error;
  }
  return answer.data;
}
