import { DescribeInstanceStatusCommand, EC2Client, RebootInstancesCommand } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { declarationOf } from '../../../../functions/tools/declarations.ts';
import { awsError, awsToolset, rejectionOf, testContext } from './tool-context.ts';

const ec2 = mockClient(EC2Client);
const tools = awsToolset();

const WEB = 'i-0abc1234def567890';
const BATCH = 'i-0def5678abc123456';

const impairedWeb = {
  InstanceId: WEB,
  AvailabilityZone: 'eu-west-1a',
  InstanceState: { Code: 16, Name: 'running' as const },
  SystemStatus: {
    Status: 'ok' as const,
    Details: [{ Name: 'reachability' as const, Status: 'passed' as const }],
  },
  InstanceStatus: {
    Status: 'impaired' as const,
    Details: [
      {
        Name: 'reachability' as const,
        Status: 'failed' as const,
        ImpairedSince: new Date('2026-11-25T09:41:00.000Z'),
      },
    ],
  },
  AttachedEbsStatus: {
    Status: 'ok' as const,
    Details: [{ Name: 'reachability' as const, Status: 'passed' as const }],
  },
  Events: [
    {
      InstanceEventId: 'instance-event-0d59937288b749b32',
      Code: 'system-reboot' as const,
      Description: '[Completed] Scheduled reboot',
      NotBefore: new Date('2026-11-18T02:00:00.000Z'),
    },
  ],
};
const stoppedBatch = {
  InstanceId: BATCH,
  AvailabilityZone: 'eu-west-1b',
  InstanceState: { Code: 80, Name: 'stopped' as const },
  SystemStatus: { Status: 'not-applicable' as const },
  InstanceStatus: { Status: 'not-applicable' as const },
  AttachedEbsStatus: { Status: 'not-applicable' as const },
};

describe('ec2.describe-instance-status', () => {
  beforeEach(() => ec2.reset());

  it('reads all instances (also stopped ones) in the order asked, without settled events', async () => {
    ec2.on(DescribeInstanceStatusCommand).resolves({ InstanceStatuses: [stoppedBatch, impairedWeb] });

    const output = await tools.run('ec2.describe-instance-status', { instanceIds: [WEB, BATCH] });

    expect(output).toEqual({
      instances: [
        {
          instanceId: WEB,
          state: 'running',
          availabilityZone: 'eu-west-1a',
          systemStatus: 'ok',
          instanceStatus: 'impaired',
          attachedEbsStatus: 'ok',
          events: [],
        },
        {
          instanceId: BATCH,
          state: 'stopped',
          availabilityZone: 'eu-west-1b',
          systemStatus: 'not-applicable',
          instanceStatus: 'not-applicable',
          attachedEbsStatus: 'not-applicable',
          events: [],
        },
      ],
    });
    expect(ec2.commandCalls(DescribeInstanceStatusCommand)[0]?.args[0].input).toEqual({
      InstanceIds: [WEB, BATCH],
      IncludeAllInstances: true,
      NextToken: undefined,
    });
  });

  it('lists scheduled events that are still ahead', async () => {
    ec2.on(DescribeInstanceStatusCommand).resolves({
      InstanceStatuses: [
        {
          ...impairedWeb,
          SystemStatus: { Status: 'impaired' },
          Events: [
            ...impairedWeb.Events,
            {
              InstanceEventId: 'instance-event-0e3c7b0a5f1e2d9c4',
              Code: 'instance-retirement',
              Description: 'The instance is running on degraded hardware',
              NotBefore: new Date('2026-11-27T08:00:00.000Z'),
            },
          ],
        },
      ],
    });

    const output = (await tools.run('ec2.describe-instance-status', { instanceIds: [WEB] })) as {
      instances: Array<{ systemStatus: string; events: unknown[] }>;
    };

    expect(output.instances[0]?.systemStatus).toBe('impaired');
    expect(output.instances[0]?.events).toEqual([
      {
        code: 'instance-retirement',
        description: 'The instance is running on degraded hardware',
        notBefore: '2026-11-27T08:00:00.000Z',
      },
    ]);
  });

  it('maps a missing instance, throttling and access denied', async () => {
    const cases = [
      [
        awsError('InvalidInstanceID.NotFound', `The instance ID '${WEB}' does not exist`),
        'Tool.NotFound',
        `instances ${WEB} not found in eu-west-1`,
      ],
      [awsError('RequestLimitExceeded', 'Request limit exceeded.', 503), 'Tool.Throttled', 'was throttled'],
      [
        awsError('UnauthorizedOperation', 'You are not authorized to perform this operation.', 403),
        'Tool.AccessDenied',
        'needs ec2:DescribeInstanceStatus',
      ],
    ] as const;
    for (const [thrown, name, message] of cases) {
      ec2.reset();
      ec2.on(DescribeInstanceStatusCommand).rejects(thrown);

      const error = await rejectionOf(tools.run('ec2.describe-instance-status', { instanceIds: [WEB] }));

      expect(error.name).toBe(name);
      expect(error.message).toContain(message);
      expect(error.message).toContain('ec2.describe-instance-status: DescribeInstanceStatus');
    }
  });

  it('is NotFound when an instance is missing from the answer', async () => {
    ec2.on(DescribeInstanceStatusCommand).resolves({ InstanceStatuses: [impairedWeb] });

    const error = await rejectionOf(tools.run('ec2.describe-instance-status', { instanceIds: [WEB, BATCH] }));

    expect(error.name).toBe('Tool.NotFound');
    expect(error.message).toContain(BATCH);
  });
});

describe('ec2.reboot-instances', () => {
  beforeEach(() => ec2.reset());

  it('reboots the instances', async () => {
    ec2.on(RebootInstancesCommand).resolves({});

    const output = await tools.run('ec2.reboot-instances', { instanceIds: [WEB], region: 'eu-central-1' });

    expect(output).toEqual({ instanceIds: [WEB], rebooted: true, dryRun: false });
    expect(ec2.commandCalls(RebootInstancesCommand)[0]?.args[0].input).toEqual({
      InstanceIds: [WEB],
      DryRun: false,
    });
  });

  it('dry run asks EC2 with DryRun=true and takes DryRunOperation as "would succeed"', async () => {
    ec2
      .on(RebootInstancesCommand, { DryRun: true })
      .rejects(awsError('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.', 412));

    const output = await tools.run(
      'ec2.reboot-instances',
      { instanceIds: [WEB] },
      testContext({ dryRun: true }),
    );

    expect(output).toEqual({ instanceIds: [WEB], rebooted: false, dryRun: true });
    const calls = ec2.commandCalls(RebootInstancesCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input.DryRun).toBe(true);
  });

  it('dry run without the permission is access denied', async () => {
    ec2
      .on(RebootInstancesCommand)
      .rejects(awsError('UnauthorizedOperation', 'You are not authorized to perform this operation.', 403));

    const error = await rejectionOf(
      tools.run('ec2.reboot-instances', { instanceIds: [WEB] }, testContext({ dryRun: true })),
    );

    expect(error.name).toBe('Tool.AccessDenied');
    expect(error.message).toContain('needs ec2:RebootInstances');
    expect(ec2.commandCalls(RebootInstancesCommand).every((call) => call.args[0].input.DryRun === true)).toBe(
      true,
    );
  });

  it('maps a missing instance and throttling', async () => {
    ec2
      .on(RebootInstancesCommand)
      .rejects(awsError('InvalidInstanceID.NotFound', `The instance ID '${WEB}' does not exist`));
    expect((await rejectionOf(tools.run('ec2.reboot-instances', { instanceIds: [WEB] }))).name).toBe(
      'Tool.NotFound',
    );

    ec2.reset();
    ec2.on(RebootInstancesCommand).rejects(awsError('RequestLimitExceeded', 'Request limit exceeded.', 503));
    expect((await rejectionOf(tools.run('ec2.reboot-instances', { instanceIds: [WEB] }))).name).toBe(
      'Tool.Throttled',
    );
  });

  it('declares no inverse: a reboot cannot be undone', () => {
    expect('compensation' in declarationOf('ec2.reboot-instances')).toBe(false);
  });
});
