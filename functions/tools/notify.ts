import { randomUUID } from 'node:crypto';
import { executionLink } from '../core/config.ts';
import type { Notification } from '../core/records.ts';
import type { ToolImplementation } from '../ports/tools.ts';
import type { NotifyMessageOutput } from './declarations/generic.ts';
import { declarationOf } from './declarations.ts';
import type { ToolRuntime } from './registry.ts';
import { defineTool, ToolError, ToolErrorKind } from './tool.ts';

/**
 * notify.message: a message from a runbook step to one of the environment's escalation targets (SNS on
 * AWS, the outbox locally). Approvers are asked through approval requests, never through this tool.
 */

export function notifyMessageTool(runtime: ToolRuntime): ToolImplementation {
  const declaration = declarationOf('notify.message');
  const tool = declaration.name;
  return defineTool(declaration, async (parameters, context) => {
    const { target, subject, message } = parameters;
    const { config } = runtime;
    const recipients = Object.hasOwn(config.escalationTargets, target)
      ? config.escalationTargets[target]
      : undefined;
    if (!recipients) {
      const known = Object.keys(config.escalationTargets).sort();
      throw new ToolError(
        ToolErrorKind.Failed,
        `${tool}: no escalation target "${target}" in the ${config.environment} environment's config ` +
          `(escalationTargets has ${known.length > 0 ? known.map((name) => `"${name}"`).join(', ') : 'none'}): ` +
          'add it there or send to one of those',
        { data: { target, known } },
      );
    }
    const { execution } = context;
    const link = executionLink(config, execution);
    // SNS delivers text only: the link to the execution goes in the message as well as in `links`.
    const text = `${message}\n\nRunbook ${execution.runbookId}, execution ${execution.id}${link ? `: ${link}` : ''}`;
    if (context.dryRun) {
      const dryRun: NotifyMessageOutput = { target, recipients, sent: false, dryRun: true, subject, text };
      return dryRun;
    }
    const notification: Notification = {
      id: randomUUID(),
      kind: 'message',
      to: [...recipients],
      subject,
      text,
      links: link ? [{ label: 'Execution', url: link }] : [],
      severity: 'info',
      executionId: execution.id,
      sentAt: runtime.clock.now().toISOString(),
    };
    try {
      await runtime.notifier.send(notification);
    } catch (error) {
      throw new ToolError(
        ToolErrorKind.Failed,
        `${tool}: sending "${subject}" to ${target} failed: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error, data: { target } },
      );
    }
    context.log('message sent', { target, recipients: recipients.length, notificationId: notification.id });
    const output: NotifyMessageOutput = {
      target,
      recipients: [...recipients],
      sent: true,
      notificationId: notification.id,
    };
    return output;
  });
}

export type { NotifyMessageOutput } from './declarations/generic.ts';
