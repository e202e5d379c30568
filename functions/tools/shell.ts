import { spawn } from 'node:child_process';
import { isAbsolute } from 'node:path';
import type { ToolImplementation } from '../ports/tools.ts';
import type { ShellExecDryRunOutput, ShellExecOutput } from './declarations/generic.ts';
import { declarationOf } from './declarations.ts';
import type { ToolRuntime } from './registry.ts';
import { defineTool, ToolError, ToolErrorKind } from './tool.ts';

/**
 * shell.exec: runs one allow-listed local command on the embedded platform. The command is spawned
 * directly with its arguments (never through a shell), in its own process group so a timeout or an
 * abort ends it and everything it started.
 */

/** Each stream keeps at most this much (stdout its beginning, stderr its end). */
export const MAX_STREAM_BYTES = 262_144;
/** After SIGTERM, a process group gets this long before SIGKILL. */
export const KILL_GRACE_MS = 2_000;
/** A failure quotes this much of the end of stderr. */
const STDERR_TAIL_CHARS = 500;
/** Messages quote this much of the command line, so the stderr tail still fits in an error's Cause. */
const COMMAND_LINE_CHARS = 120;

/** Quotes a word for display as a POSIX shell would need it. */
function shellQuote(word: string): string {
  if (word !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export function commandLine(command: string, args: readonly string[]): string {
  return [command, ...args].map(shellQuote).join(' ');
}

/** Why this command may not run here, or undefined when it may. */
function refusal(runtime: ToolRuntime, command: string): string | undefined {
  const where = `the ${runtime.config.environment} environment's config`;
  if (runtime.runtime !== 'local')
    return 'shell.exec runs on the embedded platform only (runtime "local"), never in Lambda';
  const { enabled, allow } = runtime.config.tools.shell;
  if (!enabled)
    return (
      `shell.exec is disabled: set tools.shell.enabled to true and list "${command}" in ` +
      `tools.shell.allow in ${where}`
    );
  if (command.includes('/') && !isAbsolute(command))
    return `"${command}" is a relative path: allow and call commands by name (found on PATH) or absolute path`;
  if (!allow.includes(command))
    return (
      `"${command}" is not in tools.shell.allow (${allow.length > 0 ? allow.map((entry) => `"${entry}"`).join(', ') : 'empty'}) ` +
      `in ${where}: add the exact name or absolute path to allow it`
    );
  return undefined;
}

/** Collects a stream up to a cap, keeping its head or its tail. */
class StreamCapture {
  private chunks: Buffer[] = [];
  private bytes = 0;
  truncated = false;

  constructor(private readonly keep: 'head' | 'tail') {}

  add(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bytes += chunk.byteLength;
    if (this.bytes <= MAX_STREAM_BYTES) return;
    this.truncated = true;
    const all = Buffer.concat(this.chunks);
    const kept =
      this.keep === 'head'
        ? all.subarray(0, MAX_STREAM_BYTES)
        : all.subarray(all.byteLength - MAX_STREAM_BYTES);
    this.chunks = [kept];
    this.bytes = kept.byteLength;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8').trim();
  }
}

/**
 * Ends the process group (the command and what it started): SIGTERM, then SIGKILL if its output pipes
 * are still open after the grace period (something in the group is still alive).
 */
function killGroup(pid: number | undefined, closed: () => boolean): void {
  if (pid === undefined) return;
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal);
    } catch {
      // ESRCH: the group is already gone.
    }
  };
  signalGroup('SIGTERM');
  const escalate = setTimeout(() => {
    if (!closed()) signalGroup('SIGKILL');
  }, KILL_GRACE_MS);
  escalate.unref();
}

export function shellExecTool(runtime: ToolRuntime): ToolImplementation {
  const declaration = declarationOf('shell.exec');
  const tool = declaration.name;
  return defineTool(declaration, async (parameters, context) => {
    const { command, args, timeoutSeconds } = parameters;
    const refused = refusal(runtime, command);
    if (refused)
      throw new ToolError(ToolErrorKind.AccessDenied, `${tool}: ${refused}`, { data: { command } });
    const line = commandLine(command, args);
    const quoted = line.length > COMMAND_LINE_CHARS ? `${line.slice(0, COMMAND_LINE_CHARS - 1)}…` : line;
    if (context.dryRun) {
      const dryRun: ShellExecDryRunOutput = { dryRun: true, command, args, commandLine: line };
      return dryRun;
    }
    if (context.signal.aborted) throw context.signal.reason;

    const remainingMs = context.deadline - runtime.clock.now().getTime();
    const timeoutMs = Math.max(0, Math.min(timeoutSeconds * 1_000, remainingMs));
    const started = performance.now();
    context.log('running local command', { commandLine: line });

    return new Promise<ShellExecOutput>((resolve, reject) => {
      const child = spawn(command, args, {
        shell: false,
        detached: true, // its own process group, so a kill reaches what it started too
        stdio: ['ignore', 'pipe', 'pipe'],
        windowsHide: true,
      });
      const stdout = new StreamCapture('head');
      const stderr = new StreamCapture('tail');
      child.stdout.on('data', (chunk: Buffer) => stdout.add(chunk));
      child.stderr.on('data', (chunk: Buffer) => stderr.add(chunk));

      let closed = false;
      let stopped: 'timeout' | 'abort' | undefined;
      const stop = (why: 'timeout' | 'abort') => {
        if (closed || stopped) return;
        stopped = why;
        killGroup(child.pid, () => closed);
      };
      const timer = setTimeout(() => stop('timeout'), timeoutMs);
      const onAbort = () => stop('abort');
      context.signal.addEventListener('abort', onAbort, { once: true });
      const cleanUp = () => {
        clearTimeout(timer);
        context.signal.removeEventListener('abort', onAbort);
      };

      child.on('error', (error: NodeJS.ErrnoException) => {
        closed = true;
        cleanUp();
        const hint =
          error.code === 'ENOENT'
            ? ' (not found: is it installed and on the PATH of the platform process?)'
            : error.code === 'EACCES'
              ? ' (not executable by the platform process)'
              : '';
        reject(
          new ToolError(ToolErrorKind.Failed, `${tool}: cannot run ${quoted}: ${error.message}${hint}`, {
            cause: error,
            data: { command },
          }),
        );
      });
      // 'close' comes after both streams ended, so the output is complete.
      child.on('close', (exitCode: number | null, signal: NodeJS.Signals | null) => {
        closed = true;
        cleanUp();
        const durationMs = Math.round(performance.now() - started);
        const result = {
          command,
          args,
          stdout: stdout.text(),
          stderr: stderr.text(),
          durationMs,
          ...(stdout.truncated ? { stdoutTruncated: true } : {}),
          ...(stderr.truncated ? { stderrTruncated: true } : {}),
        };
        if (stopped === 'abort') {
          reject(context.signal.reason);
          return;
        }
        if (stopped === 'timeout') {
          reject(
            new ToolError(
              ToolErrorKind.Failed,
              `${tool}: ${quoted} did not finish within ${Math.round(timeoutMs / 100) / 10}s and was killed`,
              { data: { ...result, exitCode, signal } },
            ),
          );
          return;
        }
        if (exitCode !== 0) {
          const tail = result.stderr.slice(-STDERR_TAIL_CHARS);
          const how = exitCode === null ? `was killed by ${signal}` : `exited with ${exitCode}`;
          reject(
            new ToolError(
              ToolErrorKind.Failed,
              `${tool}: ${quoted} ${how}${tail ? `: ${tail.length < result.stderr.length ? '…' : ''}${tail}` : ' (no stderr)'}`,
              { data: { ...result, exitCode, signal } },
            ),
          );
          return;
        }
        resolve({ ...result, exitCode });
      });
    });
  });
}

export type { ShellExecDryRunOutput, ShellExecOutput } from './declarations/generic.ts';
