/**
 * A quantity over time, piecewise linear: from each change on it is `value + slope × (t − at)`. Models
 * record their levels here as they change (a tick appends only when the level moved), and scenarios
 * write the past they describe (a fault that began 14 minutes ago); CloudWatch reads any window back.
 */
export class Timeline {
  private readonly times: number[] = [];
  private readonly values: number[] = [];
  private readonly slopes: number[] = [];

  constructor(
    private readonly initial: number,
    private readonly initialSlope = 0,
    private readonly initialAt = 0,
  ) {}

  /**
   * From `at` on the level is `value`, changing by `slope` per second. A change at or before the last
   * one rewrites what came after it (a scenario writing its history); an unchanged level adds nothing.
   */
  set(at: number, value: number, slope = 0): void {
    while (this.times.length > 0 && this.times.at(-1)! >= at) {
      this.times.pop();
      this.values.pop();
      this.slopes.pop();
    }
    const last = this.times.length - 1;
    const previousSlope = last >= 0 ? this.slopes[last]! : this.initialSlope;
    // Relative tolerance: free storage in bytes predicted along its slope differs only by rounding.
    if (Math.abs(this.at(at) - value) <= 1e-9 * Math.max(1, Math.abs(value)) && previousSlope === slope)
      return;
    this.times.push(at);
    this.values.push(value);
    this.slopes.push(slope);
  }

  at(time: number): number {
    const index = this.indexAt(time);
    if (index < 0) return this.initial + this.initialSlope * (time - this.initialAt);
    return this.values[index]! + this.slopes[index]! * (time - this.times[index]!);
  }

  /** The time of the last change (or undefined: never changed). */
  lastChange(): number | undefined {
    return this.times.at(-1);
  }

  /** Index of the last change at or before `time`; -1 before the first. */
  private indexAt(time: number): number {
    let low = 0;
    let high = this.times.length - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      if (this.times[middle]! <= time) {
        found = middle;
        low = middle + 1;
      } else high = middle - 1;
    }
    return found;
  }
}

/** A deterministic number in [-1, 1] for a key and a time: noise that does not change when read again. */
export function jitter(key: string, time: number): number {
  let hash = 2166136261;
  const text = `${key}@${Math.round(time * 10)}`;
  for (let index = 0; index < text.length; index += 1) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 16777619);
  }
  return ((hash >>> 0) / 0xffffffff) * 2 - 1;
}
