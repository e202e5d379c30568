import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AslErrorName } from '../../../functions/core/errors.ts';
import { KILL_GRACE_MS, shellExecTool } from '../../../functions/tools/shell.ts';
import { rejectionOf, runTool, toolContext, toolRuntime } from './generic-harness.ts';

/** Real child processes: node itself (by absolute path) is the allow-listed command. */
const NODE = process.execPath;
const scratch = mkdtempSync(join(tmpdir(), 'shell-exec-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const enabled = toolRuntime({ config: { tools: { shell: { enabled: true, allow: [NODE, 'true'] } } } });
const tool = shellExecTool(enabled);

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitUntilDead(pid: number, withinMs: number): Promise<boolean> {
  const until = Date.now() + withinMs;
  while (Date.now() < until) {
    if (!isAlive(pid)) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return !isAlive(pid);
}

async function waitForFile(path: string, withinMs = 5_000): Promise<string> {
  const until = Date.now() + withinMs;
  while (Date.now() < until) {
    if (existsSync(path)) {
      const text = readFileSync(path, 'utf8');
      if (text.trim()) return text.trim();
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`${path} was not written`);
}

/** A script that starts a grandchild in its group, records both pids, then waits forever. */
function lingeringScript(pidFile: string): string {
  return [
    "const { spawn } = require('node:child_process');",
    "const { writeFileSync } = require('node:fs');",
    "const grandchild = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });",
    `writeFileSync(${JSON.stringify(pidFile)}, process.pid + ' ' + grandchild.pid);`,
    'setInterval(() => {}, 1000);',
  ].join('\n');
}

describe('shell.exec', () => {
  it('is off by default and says how to enable it', async () => {
    // Prepare
    const disabled = shellExecTool(toolRuntime());

    // Act
    const error = await rejectionOf(runTool(disabled, { command: 'true' }));

    // Assess
    expect(error.name).toBe(AslErrorName.ToolAccessDenied);
    expect(error.message).toBe(
      'shell.exec: shell.exec is disabled: set tools.shell.enabled to true and list "true" in ' +
        "tools.shell.allow in the staging environment's config",
    );
  });

  it('refuses a command that is not allow-listed, showing the list', async () => {
    // Act
    const error = await rejectionOf(runTool(tool, { command: 'rm', args: ['-rf', '/tmp/x'] }));

    // Assess
    expect(error.name).toBe(AslErrorName.ToolAccessDenied);
    expect(error.message).toBe(
      `shell.exec: "rm" is not in tools.shell.allow ("${NODE}", "true") in the staging environment's ` +
        'config: add the exact name or absolute path to allow it',
    );
  });

  it('matches the allow-list exactly: a bare name does not allow a path, and relative paths never run', async () => {
    // Act
    const byPath = await rejectionOf(runTool(tool, { command: '/usr/bin/true' }));
    const relative = await rejectionOf(
      runTool(
        shellExecTool(toolRuntime({ config: { tools: { shell: { enabled: true, allow: ['./run.sh'] } } } })),
        {
          command: './run.sh',
        },
      ),
    );

    // Assess
    expect(byPath.name).toBe(AslErrorName.ToolAccessDenied);
    expect(relative.name).toBe(AslErrorName.ToolAccessDenied);
    expect(relative.message).toContain('"./run.sh" is a relative path');
  });

  it('never runs in the AWS runtime, whatever the config says', async () => {
    // Prepare
    const aws = shellExecTool(
      toolRuntime({ runtime: 'aws', config: { tools: { shell: { enabled: true, allow: ['true'] } } } }),
    );

    // Act
    const error = await rejectionOf(runTool(aws, { command: 'true' }));

    // Assess
    expect(error.name).toBe(AslErrorName.ToolAccessDenied);
    expect(error.message).toContain('embedded platform only');
  });

  it('runs the command with its arguments and no shell: metacharacters stay literal', async () => {
    // Prepare
    const args = [
      '-e',
      'console.log(JSON.stringify(process.argv.slice(1))); console.error("  warn  ")',
      '$(id); echo injected',
      '`id`',
      '*',
      '>out',
    ];

    // Act
    const output = await runTool(tool, { command: NODE, args });

    // Assess
    expect(output).toEqual({
      command: NODE,
      args,
      exitCode: 0,
      stdout: JSON.stringify(['$(id); echo injected', '`id`', '*', '>out']),
      stderr: 'warn',
      durationMs: expect.any(Number),
    });
    expect(existsSync('out')).toBe(false);
  });

  it('fails on a non-zero exit with the exit code and the tail of stderr', async () => {
    // Prepare
    const script = 'process.stderr.write("x".repeat(2000) + "\\ndisk /var is read-only\\n"); process.exit(3)';

    // Act
    const error = await rejectionOf(runTool(tool, { command: NODE, args: ['-e', script] }));

    // Assess
    expect(error.name).toBe(AslErrorName.ToolFailed);
    expect(error.message).toMatch(/ exited with 3: …x+\ndisk \/var is read-only$/);
    expect(error.message.length).toBeLessThan(700);
    expect(error.data).toMatchObject({ exitCode: 3, command: NODE });
  });

  it('kills the command and what it started when it outlives timeoutSeconds', async () => {
    // Prepare
    const pidFile = join(scratch, 'timeout.pids');
    const started = performance.now();

    // Act
    const error = await rejectionOf(
      runTool(tool, { command: NODE, args: ['-e', lingeringScript(pidFile)], timeoutSeconds: 1 }),
    );

    // Assess
    expect(error.name).toBe(AslErrorName.ToolFailed);
    expect(error.message).toMatch(/did not finish within 1s and was killed$/);
    expect(performance.now() - started).toBeLessThan(4_000);
    const [child, grandchild] = (await waitForFile(pidFile)).split(' ').map(Number);
    expect(await waitUntilDead(child!, 3_000)).toBe(true);
    expect(await waitUntilDead(grandchild!, 3_000)).toBe(true);
  });

  it('sends SIGKILL when the command ignores SIGTERM', async () => {
    // Prepare
    const stubborn =
      "process.on('SIGTERM', () => console.log('ignoring SIGTERM')); setInterval(() => {}, 1000)";
    const started = performance.now();

    // Act
    const error = await rejectionOf(
      runTool(tool, { command: NODE, args: ['-e', stubborn], timeoutSeconds: 1 }),
    );

    // Assess
    expect(error.message).toMatch(/was killed$/);
    expect(error.data).toMatchObject({ signal: 'SIGKILL', stdout: 'ignoring SIGTERM' });
    expect(performance.now() - started).toBeLessThan(1_000 + KILL_GRACE_MS + 1_500);
  });

  it('is cut short by the step deadline when that comes before timeoutSeconds', async () => {
    // Prepare
    const started = performance.now();

    // Act
    const error = await rejectionOf(
      runTool(
        tool,
        { command: NODE, args: ['-e', 'setInterval(() => {}, 1000)'], timeoutSeconds: 60 },
        toolContext({ deadline: Date.now() + 500 }),
      ),
    );

    // Assess
    expect(error.message).toMatch(/did not finish within 0\.5s and was killed$/);
    expect(performance.now() - started).toBeLessThan(3_000);
  });

  it('kills the process group when the step is aborted, rejecting with the abort reason', async () => {
    // Prepare
    const pidFile = join(scratch, 'abort.pids');
    const controller = new AbortController();
    const reason = new Error('step cleanup aborted by alice@example.com');
    const running = runTool(
      tool,
      { command: NODE, args: ['-e', lingeringScript(pidFile)] },
      toolContext({ signal: controller.signal }),
    );
    const [child, grandchild] = (await waitForFile(pidFile)).split(' ').map(Number);

    // Act
    controller.abort(reason);
    const error = await rejectionOf(running);

    // Assess
    expect(error).toBe(reason);
    expect(await waitUntilDead(child!, 3_000)).toBe(true);
    expect(await waitUntilDead(grandchild!, 3_000)).toBe(true);
  });

  it('says when an allow-listed command is not installed', async () => {
    // Prepare
    const missing = shellExecTool(
      toolRuntime({ config: { tools: { shell: { enabled: true, allow: ['no-such-command-4711'] } } } }),
    );

    // Act
    const error = await rejectionOf(runTool(missing, { command: 'no-such-command-4711' }));

    // Assess
    expect(error.name).toBe(AslErrorName.ToolFailed);
    expect(error.message).toContain(
      'cannot run no-such-command-4711: spawn no-such-command-4711 ENOENT (not found',
    );
  });

  it('returns the command line in a dry run and runs nothing', async () => {
    // Prepare
    const marker = join(scratch, 'dry-run-marker');
    const args = ['-e', `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "ran")`, "it's"];

    // Act
    const output = await runTool(tool, { command: NODE, args }, toolContext({ dryRun: true }));

    // Assess
    expect(output).toEqual({
      dryRun: true,
      command: NODE,
      args,
      commandLine: `${NODE} -e 'require("node:fs").writeFileSync(${JSON.stringify(marker)}, "ran")' 'it'\\''s'`,
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(existsSync(marker)).toBe(false);
  });

  it('checks the allow-list in a dry run too, so a rehearsal finds what would be refused', async () => {
    // Act
    const error = await rejectionOf(runTool(tool, { command: 'rm' }, toolContext({ dryRun: true })));

    // Assess
    expect(error.name).toBe(AslErrorName.ToolAccessDenied);
  });
});
