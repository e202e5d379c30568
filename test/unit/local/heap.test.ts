import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RunbookAutopilotError } from '../../../functions/core/errors.ts';

const run = promisify(execFile);

const heap = vi.hoisted(() => ({ tuned: 0 }));
vi.mock('../../../local/heap.ts', async (original) => ({
  ...(await original<typeof import('../../../local/heap.ts')>()),
  tuneHeapForServer: () => {
    heap.tuned++;
  },
}));
// The platform refuses to start, as with a project without runbooks: serve stops right after tuning.
vi.mock('../../../local/platform.ts', () => ({
  startPlatform: async () => {
    throw new RunbookAutopilotError('no valid runbook to run');
  },
}));

const { SERVER_HEAP_FLAGS, tuneHeapForServer } =
  await vi.importActual<typeof import('../../../local/heap.ts')>('../../../local/heap.ts');
const { main } = await import('../../../local/cli.ts');

let workspace: string | undefined;
afterEach(() => {
  if (workspace) rmSync(workspace, { recursive: true, force: true });
  workspace = undefined;
  heap.tuned = 0;
});

describe("runbook serve's heap tuning", () => {
  it('hands every flag to V8', () => {
    // Prepare
    const given: string[] = [];

    // Act
    tuneHeapForServer((flag) => given.push(flag));

    // Assess
    expect(given).toEqual([...SERVER_HEAP_FLAGS]);
    expect(given).toContain('--heap-growing-percent=50');
  });

  it('uses only flags this Node’s V8 knows (v8.setFlagsFromString ignores a misspelled one silently)', async () => {
    // Act
    const answers = await Promise.all(
      SERVER_HEAP_FLAGS.map((flag) => run(process.execPath, [flag, '-e', '0'])),
    );
    const misspelled = await run(process.execPath, ['--heap-growing-percents=50', '-e', '0']).then(
      () => undefined,
      (error: { stderr: string }) => error.stderr,
    );

    // Assess
    expect(answers.map((answer) => answer.stderr)).toEqual(SERVER_HEAP_FLAGS.map(() => ''));
    expect(misspelled).toMatch(/bad option: --heap-growing-percents=50/);
  });

  it('is applied by runbook serve once its arguments are valid, and not before', async () => {
    // Prepare
    workspace = mkdtempSync(join(tmpdir(), 'runbook-serve-heap-'));
    const err: string[] = [];
    const io = { cwd: workspace, out: () => {}, err: (line: string) => err.push(line) };

    // Act
    const refused = await main(['node', 'runbook', 'serve', '--port', 'eighty'], io);
    const tunedOnRefusal = heap.tuned;
    const failed = await main(['node', 'runbook', 'serve', '--port', '0', '--data', 'data'], io);

    // Assess
    expect(refused).toBe(2);
    expect(tunedOnRefusal).toBe(0);
    expect(failed).toBe(1);
    expect(err.at(-1)).toContain('no valid runbook to run');
    expect(heap.tuned).toBe(1);
  });
});
