import {
  AccessDeniedException,
  CancelCommandCommand,
  GetCommandInvocationCommand,
  InvalidInstanceId,
  ListCommandInvocationsCommand,
  ListCommandsCommand,
  SendCommandCommand,
  SSMClient,
  ThrottlingException,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { MAX_OUTPUT_CHARS } from '../../../../functions/tools/aws/ssm.ts';
import { awsToolset, NOW, rejectionOf, testContext } from './tool-context.ts';

const ssm = mockClient(SSMClient);
const tools = awsToolset();

const COMMAND_ID = '0831e1a8-a1ac-4257-a1fd-c831bEXAMPLE';
const NODE_A = 'i-0abc1234def567890';
const NODE_B = 'i-0def5678abc123456';
const vacuum = {
  instanceIds: [NODE_A, NODE_B],
  commands: ['set -eu', 'journalctl --vacuum-size=200M --vacuum-time=3d', 'df -hP -x tmpfs'],
  executionTimeoutSeconds: 300,
};
const sentCommand = {
  CommandId: COMMAND_ID,
  DocumentName: 'AWS-RunShellScript',
  InstanceIds: [NODE_A, NODE_B],
  Status: 'Pending' as const,
  RequestedDateTime: NOW,
  TargetCount: 2,
};

function invocation(
  instanceId: string,
  status: 'Pending' | 'InProgress' | 'Success' | 'Failed',
  details = status,
) {
  return {
    CommandId: COMMAND_ID,
    InstanceId: instanceId,
    InstanceName: '',
    DocumentName: 'AWS-RunShellScript',
    RequestedDateTime: NOW,
    Status: status,
    StatusDetails: details,
  };
}

function invocationDetail(
  instanceId: string,
  status: 'Success' | 'Failed',
  stdout: string,
  stderr = '',
  responseCode = status === 'Success' ? 0 : 1,
) {
  return {
    CommandId: COMMAND_ID,
    InstanceId: instanceId,
    DocumentName: 'AWS-RunShellScript',
    PluginName: 'aws:runShellScript',
    ResponseCode: responseCode,
    Status: status,
    StatusDetails: status,
    StandardOutputContent: stdout,
    StandardErrorContent: stderr,
    ExecutionStartDateTime: '2026-11-25T10:00:01.000Z',
    ExecutionEndDateTime: '2026-11-25T10:00:09.000Z',
  };
}

describe('ssm.run-command', () => {
  beforeEach(() => ssm.reset());

  it('runs a command once per change: a repeat of an interrupted run finds its command and waits for it', async () => {
    // Prepare: the first run sent the command (its Comment carries the change key), then the platform died
    const change = { key: 'ffffeeeeddddcccc0001', since: NOW.toISOString(), repeat: true };
    ssm.on(ListCommandsCommand).resolves({
      Commands: [
        {
          ...sentCommand,
          CommandId: 'someone-elses',
          Comment: 'runbook-autopilot 1111222233334444aaaa exec-other',
        },
        { ...sentCommand, Comment: `runbook-autopilot ${change.key} exec-2026-11-25-0001` },
      ],
    });
    ssm
      .on(ListCommandInvocationsCommand)
      .resolves({ CommandInvocations: [invocation(NODE_A, 'Success'), invocation(NODE_B, 'Success')] });
    ssm.on(GetCommandInvocationCommand).resolves(invocationDetail(NODE_A, 'Success', 'done\n'));

    // Act
    const output = (await tools.run('ssm.run-command', vacuum, testContext({ change }))) as {
      commandId: string;
    };

    // Assess
    expect(output.commandId).toBe(COMMAND_ID);
    expect(ssm.commandCalls(SendCommandCommand)).toHaveLength(0);
    expect(ssm.commandCalls(ListCommandsCommand)[0]?.args[0].input.Filters).toEqual([
      { key: 'InvokedAfter', value: '2026-11-25T09:55:00.000Z' },
    ]);
  });

  it('sends the command when a repeated run finds none of its change (the first never reached SSM)', async () => {
    // Prepare
    const change = { key: 'ffffeeeeddddcccc0002', since: NOW.toISOString(), repeat: true };
    ssm.on(ListCommandsCommand).resolves({ Commands: [] });
    ssm.on(SendCommandCommand).resolves({ Command: sentCommand });
    ssm
      .on(ListCommandInvocationsCommand)
      .resolves({ CommandInvocations: [invocation(NODE_A, 'Success'), invocation(NODE_B, 'Success')] });
    ssm.on(GetCommandInvocationCommand).resolves(invocationDetail(NODE_A, 'Success', 'done\n'));

    // Act
    await tools.run('ssm.run-command', vacuum, testContext({ change }));

    // Assess
    expect(ssm.commandCalls(SendCommandCommand)).toHaveLength(1);
    expect(ssm.commandCalls(SendCommandCommand)[0]?.args[0].input.Comment).toBe(
      `runbook-autopilot ${change.key} exec-2026-11-25-0001`,
    );
  });

  it('does not look for an earlier command on a first run', async () => {
    // Prepare
    ssm.on(SendCommandCommand).resolves({ Command: sentCommand });
    ssm
      .on(ListCommandInvocationsCommand)
      .resolves({ CommandInvocations: [invocation(NODE_A, 'Success'), invocation(NODE_B, 'Success')] });
    ssm.on(GetCommandInvocationCommand).resolves(invocationDetail(NODE_A, 'Success', 'done\n'));

    // Act
    await tools.run('ssm.run-command', vacuum);

    // Assess
    expect(ssm.commandCalls(ListCommandsCommand)).toHaveLength(0);
  });

  it('sends the commands, waits for every invocation and returns each one’s output', async () => {
    // Prepare: the list is empty right after SendCommand, then in progress, then done.
    ssm.on(SendCommandCommand).resolves({ Command: sentCommand });
    ssm
      .on(ListCommandInvocationsCommand)
      .resolvesOnce({ CommandInvocations: [] })
      .resolvesOnce({ CommandInvocations: [invocation(NODE_A, 'InProgress'), invocation(NODE_B, 'Pending')] })
      .resolves({ CommandInvocations: [invocation(NODE_A, 'Success'), invocation(NODE_B, 'Success')] });
    ssm
      .on(GetCommandInvocationCommand, { InstanceId: NODE_A })
      .resolves(invocationDetail(NODE_A, 'Success', 'Vacuuming done, freed 1.4G of archived journals.\n'));
    ssm
      .on(GetCommandInvocationCommand, { InstanceId: NODE_B })
      .resolves(
        invocationDetail(NODE_B, 'Success', 'Vacuuming done, freed 812.0M.\n', 'warning: /var/log/old\n'),
      );

    // Act
    const output = await tools.run('ssm.run-command', vacuum);

    // Assess
    expect(output).toEqual({
      commandId: COMMAND_ID,
      documentName: 'AWS-RunShellScript',
      invocations: [
        {
          instanceId: NODE_A,
          status: 'Success',
          statusDetails: 'Success',
          responseCode: 0,
          output: 'Vacuuming done, freed 1.4G of archived journals.',
          error: '',
        },
        {
          instanceId: NODE_B,
          status: 'Success',
          statusDetails: 'Success',
          responseCode: 0,
          output: 'Vacuuming done, freed 812.0M.',
          error: 'warning: /var/log/old',
        },
      ],
    });
    expect(ssm.commandCalls(SendCommandCommand)[0]?.args[0].input).toEqual({
      InstanceIds: [NODE_A, NODE_B],
      DocumentName: 'AWS-RunShellScript',
      Parameters: { commands: vacuum.commands, executionTimeout: ['300'] },
      TimeoutSeconds: 60,
      Comment: 'runbook-autopilot 0123456789abcdef0123 exec-2026-11-25-0001',
    });
    expect(ssm.commandCalls(ListCommandInvocationsCommand)).toHaveLength(3);
    expect(ssm.commandCalls(CancelCommandCommand)).toHaveLength(0);
  });

  it('fails, naming the instance, its exit code and stderr, when an invocation does not succeed', async () => {
    ssm.on(SendCommandCommand).resolves({ Command: sentCommand });
    ssm
      .on(ListCommandInvocationsCommand)
      .resolves({ CommandInvocations: [invocation(NODE_A, 'Success'), invocation(NODE_B, 'Failed')] });
    ssm
      .on(GetCommandInvocationCommand, { InstanceId: NODE_A })
      .resolves(invocationDetail(NODE_A, 'Success', 'ok'));
    ssm
      .on(GetCommandInvocationCommand, { InstanceId: NODE_B })
      .resolves(
        invocationDetail(
          NODE_B,
          'Failed',
          '',
          'Failed to open journal: Read-only file system\nfailed to run commands: exit status 1',
          1,
        ),
      );

    const error = await rejectionOf(tools.run('ssm.run-command', vacuum));

    expect(error.name).toBe('Runbook.ToolFailed');
    expect(error.message).toContain(
      `ssm.run-command: command ${COMMAND_ID} did not succeed on 1 of 2 instances`,
    );
    expect(error.message).toContain(`${NODE_B} Failed (Failed, exit 1)`);
    expect(error.message).toContain('Read-only file system');
    expect(error.data?.commandId).toBe(COMMAND_ID);
  });

  it('keeps the end of a long output', async () => {
    const lines = Array.from(
      { length: 2_000 },
      (_, index) => `deleted /var/log/app/rotated-${index}.gz`,
    ).join('\n');
    ssm.on(SendCommandCommand).resolves({ Command: sentCommand });
    ssm.on(ListCommandInvocationsCommand).resolves({ CommandInvocations: [invocation(NODE_A, 'Success')] });
    ssm
      .on(GetCommandInvocationCommand)
      .resolves(invocationDetail(NODE_A, 'Success', `${lines}\n/dev/nvme0n1p1 80G 41G 39G 52% /`));

    const output = (await tools.run('ssm.run-command', { ...vacuum, instanceIds: [NODE_A] })) as {
      invocations: Array<{ output: string }>;
    };

    const text = output.invocations[0]?.output ?? '';
    expect(text.endsWith('52% /')).toBe(true);
    expect(text.length).toBeLessThan(MAX_OUTPUT_CHARS + 40);
    expect(text).toMatch(/^\[\d+ chars before\]…/);
  });

  it('sends nothing in a dry run and returns the document, targets and commands', async () => {
    const output = await tools.run('ssm.run-command', vacuum, testContext({ dryRun: true }));

    expect(output).toEqual({
      dryRun: true,
      commandId: null,
      documentName: 'AWS-RunShellScript',
      instanceIds: [NODE_A, NODE_B],
      commands: vacuum.commands,
      executionTimeoutSeconds: 300,
      invocations: [],
    });
    expect(ssm.calls()).toHaveLength(0);
  });

  it('cancels the command when the step is aborted, without waiting out the poll interval', async () => {
    const slow = awsToolset({ polling: { initialMs: 60_000, maxMs: 60_000 } });
    ssm.on(SendCommandCommand).resolves({ Command: sentCommand });
    ssm
      .on(ListCommandInvocationsCommand)
      .resolves({ CommandInvocations: [invocation(NODE_A, 'InProgress')] });
    ssm.on(CancelCommandCommand).resolves({});
    const context = testContext();
    setTimeout(() => context.controller.abort(new Error('vacuum-journal aborted by bob@example.com')), 20);

    const started = Date.now();
    const error = await rejectionOf(slow.run('ssm.run-command', vacuum, context));

    expect(error.message).toBe('vacuum-journal aborted by bob@example.com');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(ssm.commandCalls(CancelCommandCommand).map((call) => call.args[0].input)).toEqual([
      { CommandId: COMMAND_ID, InstanceIds: [NODE_A, NODE_B] },
    ]);
    expect(ssm.commandCalls(GetCommandInvocationCommand)).toHaveLength(0);
  });

  it('cancels the command and fails when the step deadline comes first', async () => {
    ssm.on(SendCommandCommand).resolves({ Command: sentCommand });
    ssm
      .on(ListCommandInvocationsCommand)
      .resolves({ CommandInvocations: [invocation(NODE_A, 'InProgress')] });
    ssm.on(CancelCommandCommand).resolves({});

    const error = await rejectionOf(
      tools.run('ssm.run-command', vacuum, testContext({ deadline: NOW.getTime() })),
    );

    expect(error.name).toBe('Runbook.ToolFailed');
    expect(error.message).toContain("did not finish before the step's timeout and was cancelled");
    expect(ssm.commandCalls(CancelCommandCommand)).toHaveLength(1);
    // The delivery timeout never goes below SSM's minimum.
    expect(ssm.commandCalls(SendCommandCommand)[0]?.args[0].input.TimeoutSeconds).toBe(30);
  });

  it('maps an unmanaged instance, throttling and access denied', async () => {
    const cases = [
      [
        new InvalidInstanceId({
          message: 'Instances [[i-0abc1234def567890]] not in a valid state for account 333333333333',
          $metadata: {},
        }),
        'Tool.NotFound',
        `instances ${NODE_A}, ${NODE_B} not found in eu-west-1`,
      ],
      [
        new ThrottlingException({ message: 'Rate exceeded', Message: 'Rate exceeded', $metadata: {} }),
        'Tool.Throttled',
        'was throttled',
      ],
      [
        new AccessDeniedException({
          message: 'not authorized to perform: ssm:SendCommand',
          Message: 'not authorized to perform: ssm:SendCommand',
          $metadata: {},
        }),
        'Tool.AccessDenied',
        'needs ssm:SendCommand',
      ],
    ] as const;
    for (const [thrown, name, message] of cases) {
      ssm.reset();
      ssm.on(SendCommandCommand).rejects(thrown);

      const error = await rejectionOf(tools.run('ssm.run-command', vacuum));

      expect(error.name).toBe(name);
      expect(error.message).toContain(message);
    }
  });
});
