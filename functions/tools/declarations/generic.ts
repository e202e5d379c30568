import * as z from 'zod';
import { touchesOne } from '../../core/limits/blast-radius.ts';
import type { ToolDeclaration } from '../../core/tool-catalog.ts';

/** Declarations of the generic tools: HTTP checks, notifications, waits and the local shell. */

export const HttpCheckOutput = z.object({
  url: z.string(),
  status: z.number(),
  latencyMs: z.number().describe('from sending the request to the end of the body'),
  ok: z.literal(true),
  bodyMatched: z.boolean().optional().describe('present when bodyContains was given'),
});
export type HttpCheckOutput = z.infer<typeof HttpCheckOutput>;

export const NotifyMessageOutput = z.object({
  target: z.string(),
  recipients: z.array(z.string()),
  sent: z.boolean(),
  notificationId: z.string().optional().describe('absent in a dry run'),
  dryRun: z.literal(true).optional(),
  subject: z.string().optional(),
  text: z.string().optional(),
});
export type NotifyMessageOutput = z.infer<typeof NotifyMessageOutput>;

export const RunbookWaitOutput = z.object({
  waitedSeconds: z.number(),
  clamped: z.literal(true).optional().describe('set when the step’s deadline cut the wait short'),
  scale: z.number().optional().describe('set when the embedded platform shortens waits (--wait-scale)'),
});
export type RunbookWaitOutput = z.infer<typeof RunbookWaitOutput>;

export const ShellExecOutput = z.object({
  command: z.string(),
  args: z.array(z.string()),
  exitCode: z.number(),
  stdout: z.string(),
  stderr: z.string(),
  durationMs: z.number(),
  stdoutTruncated: z.boolean().optional(),
  stderrTruncated: z.boolean().optional(),
});
export type ShellExecOutput = z.infer<typeof ShellExecOutput>;

export const ShellExecDryRunOutput = z.object({
  dryRun: z.literal(true),
  command: z.string(),
  args: z.array(z.string()),
  commandLine: z.string().describe('quoted for a POSIX shell, for people to read; never run by a shell'),
});
export type ShellExecDryRunOutput = z.infer<typeof ShellExecDryRunOutput>;

export const GENERIC_TOOL_DECLARATIONS = [
  {
    name: 'http.check',
    description: 'Requests a URL and checks the status, the latency and optionally the body.',
    parameters: z
      .object({
        url: z.string().url(),
        method: z.enum(['GET', 'HEAD']).default('GET'),
        expectStatus: z.array(z.number().int().min(100).max(599)).min(1).default([200]),
        maxLatencyMs: z.number().int().min(1).max(60_000).optional(),
        bodyContains: z.string().min(1).optional(),
        timeoutMs: z.number().int().min(100).max(60_000).default(5_000),
      })
      .strict(),
    output: HttpCheckOutput,
    mutating: false,
    risk: 'low',
    dryRun: 'makes the request (read-only tools run for real in dry-run)',
    permissions: { http: true },
  },
  {
    name: 'notify.message',
    description:
      'Sends a message to one of the environment’s escalation targets (SNS on AWS, the outbox locally).',
    parameters: z
      .object({
        target: z
          .string()
          .min(1)
          .describe('escalation target name (escalationTargets in the environment’s config)'),
        subject: z.string().min(1).max(100),
        message: z.string().min(1).max(10_000),
      })
      .strict(),
    output: NotifyMessageOutput,
    mutating: false,
    risk: 'low',
    dryRun: 'returns the message it would send, sends nothing',
    permissions: { iam: ['sns:Publish'] },
  },
  {
    name: 'runbook.wait',
    description:
      'Waits, e.g. for a restarted workload to settle before the next check. A step compiles to a Step Functions Wait state: no function runs while it waits.',
    parameters: z.object({ seconds: z.number().int().min(1).max(840) }).strict(),
    output: RunbookWaitOutput,
    mutating: false,
    risk: 'low',
    dryRun: 'waits (waiting changes nothing)',
    permissions: {},
  },
  {
    name: 'shell.exec',
    description: 'Runs an allow-listed local command (embedded platform only; off unless enabled).',
    parameters: z
      .object({
        command: z.string().min(1),
        args: z.array(z.string()).max(100).default([]),
        timeoutSeconds: z.number().int().min(1).max(840).default(60),
      })
      .strict(),
    output: z.union([ShellExecOutput, ShellExecDryRunOutput]),
    mutating: true,
    blastRadius: touchesOne('host'),
    risk: 'high',
    dryRun: 'returns the command line it would run, runs nothing',
    onRepeat: {
      effect: 'repeats',
      how: 'a local command cannot tell whether it ran: a second run runs it again',
    },
    permissions: { localProcess: true },
    runtimes: ['local'],
  },
] as const satisfies ReadonlyArray<ToolDeclaration>;
