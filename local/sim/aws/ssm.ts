import { randomUUID } from 'node:crypto';
import { DEMO_ACCOUNT, DEMO_REGION } from '../cluster.ts';
import { GI, type Host, MI } from '../host.ts';
import { nowSeconds, type World } from '../world.ts';
import { type AwsAnswer, type AwsCall, AwsError, type ServiceDefinition } from './protocol.ts';

/**
 * AWS Systems Manager Run Command over AWS JSON 1.1 (SendCommand, ListCommands, ListCommandInvocations,
 * GetCommandInvocation, CancelCommand) whose AWS-RunShellScript runs the few commands the node
 * runbooks send (df, journalctl, find … -delete, crictl; systemctl and journalctl for the kubelet)
 * against the nodes' filesystems and kubelets.
 */

/** SSM Run Command: an invocation is Pending, then InProgress, then done. */
const SSM_IN_PROGRESS_AFTER_MS = 300;
const SSM_DONE_AFTER_MS = 1_500;

const iso = (seconds: number) => new Date(seconds * 1_000).toISOString();

/** df -h style: powers of 1024, one decimal under 10. */
export function humanBytes(bytes: number): string {
  const units = ['B', 'K', 'M', 'G', 'T'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  if (unit === 0) return `${Math.round(value)}B`;
  return value < 10
    ? `${(Math.ceil(value * 10) / 10).toFixed(1)}${units[unit]}`
    : `${Math.ceil(value)}${units[unit]}`;
}

function gib(bytes: number): string {
  return `${(bytes / GI).toFixed(1)} GiB`;
}

function sizeArgument(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([KMGT]?)$/i.exec(text);
  if (!match) return Number.NaN;
  const power = { '': 0, K: 1, M: 2, G: 3, T: 4 }[match[2]!.toUpperCase() as '' | 'K' | 'M' | 'G' | 'T'];
  return Number(match[1]) * 1024 ** power;
}

export class SsmRunCommand {
  private readonly commands = new Map<string, SsmCommand>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly world: World) {}

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
  }

  private later(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.stopped) run();
    }, ms);
    this.timers.add(timer);
  }

  /** The service the simulated account's endpoint dispatches AmazonSSM.* calls to. */
  service(): ServiceDefinition {
    return {
      name: 'ssm',
      protocol: 'json',
      jsonVersion: '1.1',
      target: 'AmazonSSM',
      handle: (call: AwsCall): AwsAnswer | undefined => {
        const body = call.input;
        switch (call.operation) {
          case 'SendCommand':
            return { body: this.sendCommand(body) };
          case 'ListCommandInvocations':
            return { body: this.listCommandInvocations(body) };
          case 'GetCommandInvocation':
            return { body: this.getCommandInvocation(body) };
          case 'CancelCommand':
            return { body: this.cancelCommand(body) };
          case 'ListCommands':
            return { body: this.listCommands(body) };
          default:
            return undefined;
        }
      },
    };
  }

  private sendCommand(body: Record<string, unknown>) {
    const instanceIds = Array.isArray(body.InstanceIds) ? (body.InstanceIds as string[]) : [];
    const documentName = String(body.DocumentName ?? '');
    const parameters = (body.Parameters ?? {}) as Record<string, string[]>;
    const commands = parameters.commands ?? [];
    if (documentName !== 'AWS-RunShellScript') {
      throw new AwsError(
        'InvalidDocument',
        `Document ${documentName} does not exist in your account (the demo target has AWS-RunShellScript only)`,
      );
    }
    const unknown = instanceIds.filter((id) => !this.world.hostByInstanceId(id));
    if (instanceIds.length === 0 || unknown.length > 0) {
      throw new AwsError(
        'InvalidInstanceId',
        `Instances [[${unknown.join(', ')}]] not in a valid state for account ${DEMO_ACCOUNT}`,
      );
    }
    if (commands.length === 0) {
      throw new AwsError('InvalidParameters', 'the parameter commands is required');
    }
    const requested = nowSeconds();
    const command: SsmCommand = {
      id: randomUUID(),
      documentName,
      comment: String(body.Comment ?? ''),
      parameters,
      instanceIds,
      requested,
      timeoutSeconds: Number(body.TimeoutSeconds ?? 3_600),
      invocations: new Map(
        instanceIds.map((instanceId) => [
          instanceId,
          { instanceId, status: 'Pending', stdout: '', stderr: '', responseCode: -1 } as SsmInvocation,
        ]),
      ),
    };
    this.commands.set(command.id, command);
    this.world.note(
      `ssm: SendCommand ${documentName} to ${instanceIds.join(', ')} (${commands.length} command lines) ${command.id}`,
    );
    this.later(SSM_IN_PROGRESS_AFTER_MS, () => {
      for (const invocation of command.invocations.values())
        if (invocation.status === 'Pending') {
          invocation.status = 'InProgress';
          invocation.started = nowSeconds();
        }
    });
    this.later(SSM_DONE_AFTER_MS, () => {
      for (const invocation of command.invocations.values()) {
        if (invocation.status !== 'InProgress' && invocation.status !== 'Pending') continue;
        invocation.started ??= nowSeconds();
        const result = this.runScript(invocation.instanceId, commands);
        Object.assign(invocation, result, { ended: nowSeconds() });
      }
    });
    return { Command: this.commandShape(command) };
  }

  /** ListCommands with the InvokedAfter filter (how a repeated run finds the command it sent before). */
  private listCommands(body: Record<string, unknown>) {
    const filters = Array.isArray(body.Filters)
      ? (body.Filters as Array<{ key?: string; value?: string }>)
      : [];
    const after = filters.find((filter) => filter.key === 'InvokedAfter')?.value;
    const since = after === undefined ? 0 : Date.parse(after) / 1_000;
    const commands = [...this.commands.values()]
      .filter((command) => command.requested >= since)
      .map((command) => this.commandShape(command));
    return { Commands: commands };
  }

  private commandShape(command: SsmCommand) {
    const invocations = [...command.invocations.values()];
    const done = invocations.filter((invocation) => TERMINAL_SSM.has(invocation.status));
    const failed = done.filter((invocation) => invocation.status !== 'Success');
    const status =
      done.length < invocations.length
        ? invocations.some((invocation) => invocation.status === 'InProgress')
          ? 'InProgress'
          : 'Pending'
        : failed.length > 0
          ? 'Failed'
          : 'Success';
    return {
      CommandId: command.id,
      DocumentName: command.documentName,
      DocumentVersion: '$DEFAULT',
      Comment: command.comment,
      ExpiresAfter: command.requested + command.timeoutSeconds,
      Parameters: command.parameters,
      InstanceIds: command.instanceIds,
      Targets: [],
      RequestedDateTime: command.requested,
      Status: status,
      StatusDetails: status,
      OutputS3Region: DEMO_REGION,
      OutputS3BucketName: '',
      OutputS3KeyPrefix: '',
      MaxConcurrency: '50',
      MaxErrors: '0',
      TargetCount: invocations.length,
      CompletedCount: done.length,
      ErrorCount: failed.length,
      DeliveryTimedOutCount: 0,
      ServiceRole: '',
      NotificationConfig: { NotificationArn: '', NotificationEvents: [], NotificationType: '' },
      CloudWatchOutputConfig: { CloudWatchLogGroupName: '', CloudWatchOutputEnabled: false },
      TimeoutSeconds: command.timeoutSeconds,
    };
  }

  private listCommandInvocations(body: Record<string, unknown>) {
    const command = this.commands.get(String(body.CommandId ?? ''));
    if (!command) {
      throw new AwsError('InvalidCommandId', `no command ${String(body.CommandId ?? '')}`);
    }
    const only = body.InstanceId === undefined ? undefined : String(body.InstanceId);
    const details = body.Details === true;
    const invocations = [...command.invocations.values()]
      .filter((invocation) => only === undefined || invocation.instanceId === only)
      .map((invocation) => ({
        CommandId: command.id,
        InstanceId: invocation.instanceId,
        InstanceName: this.world.hostByInstanceId(invocation.instanceId)?.name ?? '',
        Comment: command.comment,
        DocumentName: command.documentName,
        DocumentVersion: '$DEFAULT',
        RequestedDateTime: command.requested,
        Status: invocation.status,
        StatusDetails: invocation.status === 'Failed' ? 'Failed' : invocation.status,
        TraceOutput: '',
        StandardOutputUrl: '',
        StandardErrorUrl: '',
        CommandPlugins: details
          ? [
              {
                Name: 'aws:runShellScript',
                Status: invocation.status,
                StatusDetails: invocation.status,
                ResponseCode: invocation.responseCode,
                Output: invocation.stdout.slice(-2_500),
                OutputS3Region: DEMO_REGION,
              },
            ]
          : [],
        ServiceRole: '',
        NotificationConfig: { NotificationArn: '', NotificationEvents: [], NotificationType: '' },
        CloudWatchOutputConfig: { CloudWatchLogGroupName: '', CloudWatchOutputEnabled: false },
      }));
    return { CommandInvocations: invocations };
  }

  private getCommandInvocation(body: Record<string, unknown>) {
    const command = this.commands.get(String(body.CommandId ?? ''));
    const invocation = command?.invocations.get(String(body.InstanceId ?? ''));
    if (!command || !invocation) {
      throw new AwsError(
        'InvocationDoesNotExist',
        `no invocation of command ${String(body.CommandId ?? '')} on ${String(body.InstanceId ?? '')}`,
      );
    }
    const elapsed =
      invocation.started !== undefined && invocation.ended !== undefined
        ? `PT${(invocation.ended - invocation.started).toFixed(3)}S`
        : '';
    return {
      CommandId: command.id,
      InstanceId: invocation.instanceId,
      Comment: command.comment,
      DocumentName: command.documentName,
      DocumentVersion: '$DEFAULT',
      PluginName: 'aws:runShellScript',
      ResponseCode: invocation.responseCode,
      ExecutionStartDateTime: invocation.started === undefined ? '' : iso(invocation.started),
      ExecutionElapsedTime: elapsed,
      ExecutionEndDateTime: invocation.ended === undefined ? '' : iso(invocation.ended),
      Status: invocation.status,
      StatusDetails: invocation.status,
      StandardOutputContent: invocation.stdout.slice(-24_000),
      StandardOutputUrl: '',
      StandardErrorContent: invocation.stderr.slice(-8_000),
      StandardErrorUrl: '',
      CloudWatchOutputConfig: { CloudWatchLogGroupName: '', CloudWatchOutputEnabled: false },
    };
  }

  private cancelCommand(body: Record<string, unknown>) {
    const command = this.commands.get(String(body.CommandId ?? ''));
    if (!command) {
      throw new AwsError('InvalidCommandId', `no command ${String(body.CommandId ?? '')}`);
    }
    const only = Array.isArray(body.InstanceIds) ? (body.InstanceIds as string[]) : undefined;
    for (const invocation of command.invocations.values()) {
      if (only && !only.includes(invocation.instanceId)) continue;
      if (TERMINAL_SSM.has(invocation.status)) continue;
      invocation.status = 'Cancelled';
      invocation.ended = nowSeconds();
    }
    this.world.note(`ssm: CancelCommand ${command.id}`);
    return {};
  }

  /**
   * Runs an AWS-RunShellScript script on the simulated host: `set -eu`, df, journalctl, find … -delete
   * and crictl, acting on the filesystem model, and the kubelet's unit (systemctl, journalctl -u); any
   * other command is not found (exit 127), and the script stops at the first failure as `set -e` would.
   */
  private runScript(
    instanceId: string,
    commands: string[],
  ): Pick<SsmInvocation, 'status' | 'stdout' | 'stderr' | 'responseCode'> {
    const node = this.world.hostByInstanceId(instanceId)!;
    const root = node.filesystems.find((filesystem) => filesystem.mountpoint === '/')!;
    const out: string[] = [];
    const err: string[] = [];
    const freedBefore = root.availAt(nowSeconds());
    let line = 0;
    for (const raw of commands.flatMap((command) => command.split('\n'))) {
      line += 1;
      const command = raw.trim();
      if (command === '' || command.startsWith('#') || /^set -[eux]+$/.test(command)) continue;
      const time = nowSeconds();
      if (/^df\b/.test(command)) {
        const avail = root.availAt(time);
        const used = root.sizeBytes - avail;
        out.push(
          'Filesystem       Size  Used Avail Use% Mounted on',
          `${root.device.padEnd(16)} ${humanBytes(root.sizeBytes).padStart(4)} ${humanBytes(used).padStart(5)} ${humanBytes(avail).padStart(5)} ${String(Math.ceil((100 * used) / root.sizeBytes)).padStart(3)}% /`,
          '/dev/nvme0n1p128   10M  1.3M  8.7M  13% /boot/efi',
        );
        continue;
      }
      const unit = this.kubeletCommand(node, command);
      if (unit) {
        out.push(...unit.stdout);
        if (unit.exitCode !== 0)
          return {
            status: 'Failed',
            stdout: out.join('\n'),
            stderr: err.join('\n'),
            responseCode: unit.exitCode,
          };
        continue;
      }
      if (/^journalctl --disk-usage$/.test(command)) {
        out.push(
          `Archived and active journals take up ${humanBytes(root.journalBytes(time))} in the file system.`,
        );
        continue;
      }
      const vacuum = /^journalctl\b.*--vacuum-size=(\S+)/.exec(command);
      if (vacuum) {
        const keep = sizeArgument(vacuum[1]!);
        if (!Number.isFinite(keep)) {
          err.push(`Failed to parse size value: ${vacuum[1]}`);
          return { status: 'Failed', stdout: out.join('\n'), stderr: err.join('\n'), responseCode: 1 };
        }
        const freed = root.vacuumJournal(time, keep);
        const files = Math.floor(freed / (128 * MI));
        for (let index = 0; index < files; index += 1) {
          out.push(
            `Deleted archived journal /var/log/journal/ec2a5f1c9b8d4e7f8a9b0c1d2e3f4a5b/system@8f2c${index.toString(16).padStart(4, '0')}-00000000000${index}.journal (128.0M).`,
          );
        }
        out.push(
          `Vacuuming done, freed ${humanBytes(freed)} of archived journals from /var/log/journal/ec2a5f1c9b8d4e7f8a9b0c1d2e3f4a5b.`,
        );
        out.push('Vacuuming done, freed 0B of archived journals from /run/log/journal.');
        continue;
      }
      if (/^find \/var\/log\b.*-delete$/s.test(command.replace(/\s+/g, ' '))) {
        const removed = root.deleteRotatedLogs(time);
        if (removed > 0)
          out.push(
            '/var/log/aws-routed-eni/ipamd.log.2024-11-02-09',
            '/var/log/aws-routed-eni/plugin.log.2024-11-02-09',
            '/var/log/amazon/ssm/amazon-ssm-agent.log.1',
            '/var/log/dnf.log.1',
          );
        continue;
      }
      if (/crictl\b.*\bimages \| wc -l$/.test(command)) {
        out.push(String(root.imageCount()));
        continue;
      }
      if (/crictl\b.*\brmi --prune$/.test(command)) {
        const removed = root.pruneImages(time);
        if (removed > 0)
          out.push(
            'Deleted: registry.example.com/shop/cart:2.11.0',
            'Deleted: registry.example.com/shop/checkout:3.15.0',
          );
        continue;
      }
      const name = command.split(/\s+/)[0];
      err.push(
        `/var/lib/amazon/ssm/${instanceId}/document/orchestration/script.sh: line ${line}: ${name}: command not found (the demo target simulates df, journalctl, find, crictl and systemctl for the kubelet only)`,
      );
      return { status: 'Failed', stdout: out.join('\n'), stderr: err.join('\n'), responseCode: 127 };
    }
    const freed = root.availAt(nowSeconds()) - freedBefore;
    if (freed > 0)
      this.world.note(
        `ssm: ${node.name}: freed ${gib(freed)}; ${root.mountpoint} is now ${root.freePercent(nowSeconds()).toFixed(1)}% free`,
      );
    return { status: 'Success', stdout: out.join('\n'), stderr: err.join('\n'), responseCode: 0 };
  }

  /**
   * The kubelet's unit: `systemctl status|is-active|restart kubelet` and `journalctl -u kubelet [-n N]`,
   * with systemctl's exit codes (3: not active). Undefined for any other command.
   */
  private kubeletCommand(host: Host, command: string): { stdout: string[]; exitCode: number } | undefined {
    const unit = host.kubelet;
    const state = unit.active ? 'active' : 'failed';
    if (/^systemctl is-active kubelet(\.service)?$/.test(command))
      return { stdout: [state], exitCode: unit.active ? 0 : 3 };
    if (/^systemctl status kubelet(\.service)?\b/.test(command)) {
      const since = new Date(unit.since * 1_000).toUTCString();
      return {
        stdout: [
          '● kubelet.service - Kubernetes Kubelet',
          '     Loaded: loaded (/etc/systemd/system/kubelet.service; enabled; preset: disabled)',
          unit.active
            ? `     Active: active (running) since ${since}`
            : `     Active: failed (Result: start-limit-hit) since ${since}`,
          ...unit.journal.slice(-5),
        ],
        exitCode: unit.active ? 0 : 3,
      };
    }
    if (/^systemctl restart kubelet(\.service)?$/.test(command)) {
      this.world.startKubelet(host.name);
      return { stdout: [], exitCode: 0 };
    }
    const journal = /^journalctl\b.*\s-u\s+kubelet(?:\.service)?\b(.*)$/.exec(command);
    if (journal) {
      const lines = Number(/(?:^|\s)-n\s*(\d+)/.exec(command)?.[1] ?? unit.journal.length);
      return { stdout: unit.journal.slice(-Math.max(1, lines)), exitCode: 0 };
    }
    return undefined;
  }
}

interface SsmInvocation {
  instanceId: string;
  status: 'Pending' | 'InProgress' | 'Success' | 'Failed' | 'Cancelled' | 'TimedOut';
  stdout: string;
  stderr: string;
  responseCode: number;
  started?: number;
  ended?: number;
}

interface SsmCommand {
  id: string;
  documentName: string;
  comment: string;
  parameters: Record<string, string[]>;
  instanceIds: string[];
  requested: number;
  timeoutSeconds: number;
  invocations: Map<string, SsmInvocation>;
}

const TERMINAL_SSM = new Set(['Success', 'Failed', 'Cancelled', 'TimedOut']);
