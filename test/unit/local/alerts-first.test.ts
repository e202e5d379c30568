import { afterEach, describe, expect, it, vi } from 'vitest';
import { AlertsFirst } from '../../../functions/adapters/local/alerts-first.ts';

/** A promise and the function that settles it: work that ends when the test says. */
function gate(): { done: Promise<void>; open: () => void } {
  let open = () => {};
  const done = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { done, open };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('AlertsFirst: a new alert’s classification before running executions’ next steps', () => {
  it('holds background work started while an alert is classified until the classification ends', async () => {
    // Prepare
    const priority = new AlertsFirst(60_000);
    const order: string[] = [];
    const classification = gate();
    const alert = priority.alert(async () => {
      order.push('alert started');
      await classification.done;
      order.push('alert decided');
    });

    // Act
    const step = priority.background(async () => {
      order.push('next step started');
    });
    await new Promise((resolve) => setImmediate(resolve));
    const heldWhileClassifying = [...order];
    classification.open();
    await Promise.all([alert, step]);

    // Assess
    expect(heldWhileClassifying).toEqual(['alert started']);
    expect(order).toEqual(['alert started', 'alert decided', 'next step started']);
    expect(priority.deferred).toBe(1);
    expect(priority.inFlight).toBe(0);
  });

  it('runs background work at once when no alert is being classified', async () => {
    // Prepare
    const priority = new AlertsFirst(60_000);

    // Act
    const result = await priority.background(async () => 'ran');

    // Assess
    expect(result).toBe('ran');
    expect(priority.deferred).toBe(0);
  });

  it('waits for every alert in flight, not only the first to end', async () => {
    // Prepare
    const priority = new AlertsFirst(60_000);
    const first = gate();
    const second = gate();
    let stepRan = false;
    const alerts = [priority.alert(() => first.done), priority.alert(() => second.done)];
    const step = priority.background(async () => {
      stepRan = true;
    });

    // Act
    first.open();
    await alerts[0];
    await new Promise((resolve) => setImmediate(resolve));
    const afterFirst = stepRan;
    second.open();
    await Promise.all([...alerts, step]);

    // Assess
    expect(afterFirst).toBe(false);
    expect(stepRan).toBe(true);
  });

  it('lets held work go after maxDeferMs even while alerts keep coming (a storm never stalls executions)', async () => {
    // Prepare
    vi.useFakeTimers();
    const priority = new AlertsFirst(250);
    const endless = gate();
    void priority.alert(() => endless.done);
    let stepRan = false;

    // Act
    const step = priority.background(async () => {
      stepRan = true;
    });
    await vi.advanceTimersByTimeAsync(249);
    const before = stepRan;
    await vi.advanceTimersByTimeAsync(1);
    await step;
    endless.open();

    // Assess
    expect(before).toBe(false);
    expect(stepRan).toBe(true);
  });

  it('still ends the alert and wakes held work when the classification fails', async () => {
    // Prepare
    const priority = new AlertsFirst(60_000);
    const classification = gate();
    const alert = priority.alert(async () => {
      await classification.done;
      throw new Error('store unavailable');
    });
    const step = priority.background(async () => 'ran');

    // Act
    classification.open();

    // Assess
    await expect(alert).rejects.toThrow('store unavailable');
    await expect(step).resolves.toBe('ran');
    expect(priority.inFlight).toBe(0);
  });
});
