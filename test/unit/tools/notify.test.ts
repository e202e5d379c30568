import { describe, expect, it } from 'vitest';
import { AslErrorName, NotificationError } from '../../../functions/core/errors.ts';
import { Notification } from '../../../functions/core/records.ts';
import { notifyMessageTool } from '../../../functions/tools/notify.ts';
import { RecordingNotifier, rejectionOf, runTool, toolContext, toolRuntime } from './generic-harness.ts';

const clock = { now: () => new Date('2026-05-04T12:00:00.000Z') };
const escalationTargets = {
  'sre-chat': ['sre-chat@example.com'],
  'sre-pager': ['oncall@example.com', 'secondary@example.com'],
};

function setUp(config: { executionLinkTemplate?: string } = {}) {
  const notifier = new RecordingNotifier();
  const tool = notifyMessageTool(toolRuntime({ clock, notifier, config: { escalationTargets, ...config } }));
  return { notifier, tool };
}

const parameters = {
  target: 'sre-pager',
  subject: 'Disk cleanup incomplete on 10.0.1.23:9100',
  message: 'Execution exec-0001 stopped cleaning / on 10.0.1.23:9100.',
};

describe('notify.message', () => {
  it('sends a message notification to the recipients of the escalation target', async () => {
    // Prepare
    const { notifier, tool } = setUp();

    // Act
    const output = await runTool(tool, parameters);

    // Assess
    expect(notifier.sent).toHaveLength(1);
    const sent = notifier.sent[0]!;
    expect(Notification.parse(sent)).toEqual(sent);
    expect(sent).toEqual({
      id: expect.any(String),
      kind: 'message',
      to: ['oncall@example.com', 'secondary@example.com'],
      subject: 'Disk cleanup incomplete on 10.0.1.23:9100',
      text:
        'Execution exec-0001 stopped cleaning / on 10.0.1.23:9100.\n\n' +
        'Runbook node-filesystem-filling, execution exec-0001: https://runbooks.example.com/executions/exec-0001',
      links: [{ label: 'Execution', url: 'https://runbooks.example.com/executions/exec-0001' }],
      severity: 'info',
      executionId: 'exec-0001',
      sentAt: '2026-05-04T12:00:00.000Z',
    });
    expect(output).toEqual({
      target: 'sre-pager',
      recipients: ['oncall@example.com', 'secondary@example.com'],
      sent: true,
      notificationId: sent.id,
    });
  });

  it('names the execution without a link where the deployment shows executions nowhere', async () => {
    // Prepare: a config without executionLinkTemplate
    const notifier = new RecordingNotifier();
    const runtime = toolRuntime({ clock, notifier, config: { escalationTargets } });
    const { executionLinkTemplate: _none, ...config } = runtime.config;
    const tool = notifyMessageTool({ ...runtime, config });

    // Act
    await runTool(tool, parameters);

    // Assess
    expect(notifier.sent[0]).toMatchObject({
      text: 'Execution exec-0001 stopped cleaning / on 10.0.1.23:9100.\n\nRunbook node-filesystem-filling, execution exec-0001',
      links: [],
    });
  });

  it('fails for a target the environment does not define, listing the ones it does', async () => {
    // Prepare
    const { notifier, tool } = setUp();

    // Act
    const unknown = await rejectionOf(runTool(tool, { ...parameters, target: 'storefront-chat' }));
    const approvers = await rejectionOf(runTool(tool, { ...parameters, target: 'approvers' }));
    const inherited = await rejectionOf(runTool(tool, { ...parameters, target: 'constructor' }));

    // Assess
    expect(unknown.name).toBe(AslErrorName.ToolFailed);
    expect(unknown.message).toBe(
      'notify.message: no escalation target "storefront-chat" in the staging environment\'s config ' +
        '(escalationTargets has "sre-chat", "sre-pager"): add it there or send to one of those',
    );
    expect(approvers.name).toBe(AslErrorName.ToolFailed);
    expect(inherited.name).toBe(AslErrorName.ToolFailed);
    expect(notifier.sent).toEqual([]);
  });

  it('turns a notifier failure into Tool.Failed with the notifier’s reason', async () => {
    // Prepare
    const { notifier, tool } = setUp();
    notifier.failWith = new NotificationError(
      'SNS topic arn:aws:sns:eu-west-1:1:escalations rejected the message',
    );

    // Act
    const error = await rejectionOf(runTool(tool, parameters));

    // Assess
    expect(error.name).toBe(AslErrorName.ToolFailed);
    expect(error.message).toBe(
      'notify.message: sending "Disk cleanup incomplete on 10.0.1.23:9100" to sre-pager failed: ' +
        'SNS topic arn:aws:sns:eu-west-1:1:escalations rejected the message',
    );
    expect(error.cause).toBe(notifier.failWith);
  });

  it('returns the message in a dry run and sends nothing', async () => {
    // Prepare
    const { notifier, tool } = setUp();

    // Act
    const output = await runTool(tool, parameters, toolContext({ dryRun: true }));

    // Assess
    expect(output).toEqual({
      target: 'sre-pager',
      recipients: ['oncall@example.com', 'secondary@example.com'],
      sent: false,
      dryRun: true,
      subject: parameters.subject,
      text: expect.stringContaining(parameters.message),
    });
    expect(notifier.sent).toEqual([]);
  });

  it('checks the target in a dry run too', async () => {
    // Prepare
    const { tool } = setUp();

    // Act
    const error = await rejectionOf(
      runTool(tool, { ...parameters, target: 'nobody' }, toolContext({ dryRun: true })),
    );

    // Assess
    expect(error.name).toBe(AslErrorName.ToolFailed);
  });
});
