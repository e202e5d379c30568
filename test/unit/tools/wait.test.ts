import { describe, expect, it } from 'vitest';
import { runbookWaitTool } from '../../../functions/tools/wait.ts';
import { rejectionOf, runTool, toolContext, toolRuntime } from './generic-harness.ts';

const tool = runbookWaitTool(toolRuntime());

describe('runbook.wait', () => {
  it('waits the given seconds', async () => {
    // Prepare
    const started = performance.now();

    // Act
    const output = await runTool(tool, { seconds: 1 });

    // Assess
    expect(output).toEqual({ waitedSeconds: 1 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(990);
  });

  it('finishes just before the step deadline when the wait would outlast it', async () => {
    // Prepare
    const started = performance.now();

    // Act
    const output = await runTool(tool, { seconds: 30 }, toolContext({ deadline: Date.now() + 800 }));

    // Assess
    expect(output).toEqual({ waitedSeconds: expect.closeTo(0.3, 1), clamped: true });
    expect(performance.now() - started).toBeLessThan(800);
  });

  it('does not wait at all when the deadline has passed', async () => {
    // Act
    const output = await runTool(tool, { seconds: 5 }, toolContext({ deadline: Date.now() - 1_000 }));

    // Assess
    expect(output).toEqual({ waitedSeconds: 0, clamped: true });
  });

  it('ends early with the abort when the step is aborted', async () => {
    // Prepare
    const controller = new AbortController();
    const reason = new Error('step settle aborted by alice@example.com');
    setTimeout(() => controller.abort(reason), 100);
    const started = performance.now();

    // Act
    const error = await rejectionOf(
      runTool(tool, { seconds: 30 }, toolContext({ signal: controller.signal })),
    );

    // Assess
    expect(error).toBe(reason);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('waits in a dry run too (waiting changes nothing)', async () => {
    // Prepare
    const started = performance.now();

    // Act
    const output = await runTool(tool, { seconds: 1 }, toolContext({ dryRun: true }));

    // Assess
    expect(output).toEqual({ waitedSeconds: 1 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(990);
  });
});
