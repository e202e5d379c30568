import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RunbookAutopilotError } from '../../../functions/core/errors.ts';
import { genericTools } from '../../../functions/tools/generic.ts';
import { runbookWaitTool } from '../../../functions/tools/wait.ts';
import { rejectionOf, runTool, toolContext, toolRuntime } from './generic-harness.ts';

const tool = runbookWaitTool(toolRuntime());

/**
 * The clock and timers are simulated: the tests see exactly when a wait ends, whatever the machine's
 * load (a real 1 s wait could end late by seconds on a busy CI machine).
 */
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
});

afterEach(() => {
  vi.useRealTimers();
});

/** The promise, and whether it has settled by now. */
function watch<T>(promise: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  return { promise, settled: () => settled };
}

describe('runbook.wait', () => {
  it('waits the given seconds', async () => {
    // Act
    const wait = watch(runTool(tool, { seconds: 1 }));
    await vi.advanceTimersByTimeAsync(999);
    const earlier = wait.settled();
    await vi.advanceTimersByTimeAsync(1);

    // Assess
    expect(earlier).toBe(false);
    expect(wait.settled()).toBe(true);
    expect(await wait.promise).toEqual({ waitedSeconds: 1 });
  });

  it('finishes just before the step deadline when the wait would outlast it', async () => {
    // Act: 800 ms to the deadline, less the 500 ms margin
    const wait = watch(runTool(tool, { seconds: 30 }, toolContext({ deadline: Date.now() + 800 })));
    await vi.advanceTimersByTimeAsync(299);
    const earlier = wait.settled();
    await vi.advanceTimersByTimeAsync(1);

    // Assess
    expect(earlier).toBe(false);
    expect(wait.settled()).toBe(true);
    expect(await wait.promise).toEqual({ waitedSeconds: 0.3, clamped: true });
  });

  it('does not wait at all when the deadline has passed', async () => {
    // Act
    const wait = watch(runTool(tool, { seconds: 5 }, toolContext({ deadline: Date.now() - 1_000 })));
    await vi.advanceTimersByTimeAsync(0);

    // Assess
    expect(wait.settled()).toBe(true);
    expect(await wait.promise).toEqual({ waitedSeconds: 0, clamped: true });
  });

  it('ends early with the abort when the step is aborted', async () => {
    // Prepare
    const controller = new AbortController();
    const reason = new Error('step settle aborted by alice@example.com');
    setTimeout(() => controller.abort(reason), 100);

    // Act
    const wait = watch(runTool(tool, { seconds: 30 }, toolContext({ signal: controller.signal })));
    const error = rejectionOf(wait.promise);
    await vi.advanceTimersByTimeAsync(100);

    // Assess
    expect(wait.settled()).toBe(true);
    expect(await error).toBe(reason);
  });

  it('waits in a dry run too (waiting changes nothing)', async () => {
    // Act
    const wait = watch(runTool(tool, { seconds: 1 }, toolContext({ dryRun: true })));
    await vi.advanceTimersByTimeAsync(999);
    const earlier = wait.settled();
    await vi.advanceTimersByTimeAsync(1);

    // Assess
    expect(earlier).toBe(false);
    expect(await wait.promise).toEqual({ waitedSeconds: 1 });
  });

  it('waits the requested time times the scale, and reports the scale', async () => {
    // Prepare
    const scaled = runbookWaitTool(toolRuntime(), { scale: 0.25 });

    // Act
    const wait = watch(runTool(scaled, { seconds: 2 }));
    await vi.advanceTimersByTimeAsync(499);
    const earlier = wait.settled();
    await vi.advanceTimersByTimeAsync(1);

    // Assess
    expect(earlier).toBe(false);
    expect(wait.settled()).toBe(true);
    expect(await wait.promise).toEqual({ waitedSeconds: 0.5, scale: 0.25 });
  });

  it('reports no scale at scale 1', async () => {
    // Act
    const wait = runTool(runbookWaitTool(toolRuntime(), { scale: 1 }), { seconds: 1 });
    await vi.advanceTimersByTimeAsync(1_000);
    const output = await wait;

    // Assess
    expect(output).toEqual({ waitedSeconds: 1 });
  });

  it('cuts a scaled wait short at the step deadline too', async () => {
    // Act
    const wait = runTool(
      runbookWaitTool(toolRuntime(), { scale: 0.5 }),
      { seconds: 60 },
      toolContext({ deadline: Date.now() + 800 }),
    );
    await vi.advanceTimersByTimeAsync(300);

    // Assess
    expect(await wait).toEqual({ waitedSeconds: 0.3, clamped: true, scale: 0.5 });
  });

  it.each([0, -0.5, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('refuses the wait scale %s', (scale) => {
    // Act
    const build = () => runbookWaitTool(toolRuntime(), { scale });

    // Assess
    expect(build).toThrow(RunbookAutopilotError);
    expect(build).toThrow(
      `runbook.wait: the wait scale must be a number greater than 0 and at most 1 (0.1 makes runbook.wait wait a tenth of the requested time, 1 the full time), got ${scale}`,
    );
  });

  it('refuses a wait scale outside the embedded platform, so no deployed runbook waits less', () => {
    // Act
    const onAws = () => runbookWaitTool(toolRuntime({ runtime: 'aws' }), { scale: 0.1 });

    // Assess
    expect(onAws).toThrow(
      'runbook.wait: a wait scale (0.1) is for the embedded platform only; on AWS runbooks always wait the full time',
    );
    expect(runbookWaitTool(toolRuntime({ runtime: 'aws' }), { scale: 1 }).declaration.name).toBe(
      'runbook.wait',
    );
  });

  it('gets its scale from the generic tools', async () => {
    // Prepare
    const wait = genericTools(toolRuntime(), { waitScale: 0.01 }).find(
      (tool) => tool.declaration.name === 'runbook.wait',
    )!;

    // Act
    const waited = runTool(wait, { seconds: 10 });
    await vi.advanceTimersByTimeAsync(100);
    const output = await waited;

    // Assess
    expect(output).toEqual({ waitedSeconds: 0.1, scale: 0.01 });
  });
});
