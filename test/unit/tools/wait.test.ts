import { describe, expect, it } from 'vitest';
import { RunbookAutopilotError } from '../../../functions/core/errors.ts';
import { genericTools } from '../../../functions/tools/generic.ts';
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

  it('waits the requested time times the scale, and reports the scale', async () => {
    // Prepare
    const scaled = runbookWaitTool(toolRuntime(), { scale: 0.25 });
    const started = performance.now();

    // Act
    const output = await runTool(scaled, { seconds: 2 });

    // Assess
    const elapsed = performance.now() - started;
    expect(output).toEqual({ waitedSeconds: 0.5, scale: 0.25 });
    expect(elapsed).toBeGreaterThanOrEqual(490);
    expect(elapsed).toBeLessThan(1_500);
  });

  it('reports no scale at scale 1', async () => {
    // Act
    const output = await runTool(runbookWaitTool(toolRuntime(), { scale: 1 }), { seconds: 1 });

    // Assess
    expect(output).toEqual({ waitedSeconds: 1 });
  });

  it('cuts a scaled wait short at the step deadline too', async () => {
    // Act
    const output = await runTool(
      runbookWaitTool(toolRuntime(), { scale: 0.5 }),
      { seconds: 60 },
      toolContext({ deadline: Date.now() + 800 }),
    );

    // Assess
    expect(output).toEqual({ waitedSeconds: expect.closeTo(0.3, 1), clamped: true, scale: 0.5 });
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
    const output = await runTool(wait, { seconds: 10 });

    // Assess
    expect(output).toEqual({ waitedSeconds: 0.1, scale: 0.01 });
  });
});
