import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { RunbookAutopilotError } from '../../../functions/core/errors.ts';

/**
 * A monitoring binary run as our child: in its own process group, behind a small shell watchdog that
 * reads our end of a pipe and stops the binary when the pipe closes. The pipe closes when we call
 * stop(), and also when this process dies in any way (a test worker killed, SIGKILL), so no
 * Prometheus outlives the test or demo that started it.
 */

export class MonitoringProcessError extends RunbookAutopilotError {
  override readonly name = 'MonitoringProcessError';
}

// $@ is the binary and its arguments; fd 3 keeps the pipe for the watcher (an asynchronous list's
// stdin is /dev/null unless redirected explicitly).
const WATCHDOG = [
  'exec 3<&0',
  '"$@" &',
  'child=$!',
  '( exec 0<&3; cat >/dev/null; kill -TERM "$child" 2>/dev/null ) &',
  'exec 3<&-',
  'wait "$child"',
].join('\n');

/** A free TCP port on 127.0.0.1 (for a process that binds it itself a moment later). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function tail(file: string, lines = 8): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export class MonitoringProcess {
  private exitCode: number | null | undefined;
  private readonly exited: Promise<void>;
  private stopping: Promise<void> | undefined;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    readonly logFile: string,
  ) {
    this.exited = new Promise((resolve) =>
      child.once('exit', (code) => {
        this.exitCode = code;
        resolve();
      }),
    );
  }

  /** Starts the binary and waits until `readyUrl` answers 200. */
  static async start(options: {
    name: string;
    binary: string;
    args: string[];
    logFile: string;
    readyUrl: string;
    timeoutMs?: number;
  }): Promise<MonitoringProcess> {
    const log = openSync(options.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(
        '/bin/sh',
        ['-c', WATCHDOG, `${options.name}-watchdog`, options.binary, ...options.args],
        {
          stdio: ['pipe', log, log],
          detached: true,
        },
      );
    } finally {
      closeSync(log);
    }
    const started = new MonitoringProcess(options.name, child, options.logFile);
    child.once('error', () => {});
    const deadline = Date.now() + (options.timeoutMs ?? 30_000);
    for (;;) {
      if (started.exitCode !== undefined)
        throw new MonitoringProcessError(
          `${options.name} exited (code ${started.exitCode}) before it was ready; its log ${options.logFile} ends:\n${tail(options.logFile)}`,
        );
      try {
        const response = await fetch(options.readyUrl, { signal: AbortSignal.timeout(1_000) });
        await response.arrayBuffer();
        if (response.ok) return started;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await started.stop();
        throw new MonitoringProcessError(
          `${options.name} was not ready within ${options.timeoutMs ?? 30_000} ms; its log ${options.logFile} ends:\n${tail(options.logFile)}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** Closes the watchdog's pipe (the binary gets SIGTERM); kills the process group if it lingers. */
  stop(timeoutMs = 5_000): Promise<void> {
    this.stopping ??= (async () => {
      if (!this.running) return;
      this.child.stdin?.end();
      const timer = setTimeout(() => {
        try {
          process.kill(-this.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }, timeoutMs);
      await this.exited;
      clearTimeout(timer);
    })();
    return this.stopping;
  }
}
