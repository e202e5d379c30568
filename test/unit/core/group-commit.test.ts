import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../../functions/core/group-commit.ts';

/** A write the test finishes by hand, so what arrives while it is in flight is under the test's control. */
function heldWrites() {
  const calls: Array<{ key: string; items: string[]; finish: (error?: Error) => void }> = [];
  const commit = new GroupCommit<string, string>(
    (key, items) =>
      new Promise((resolve, reject) =>
        calls.push({
          key,
          items: [...items],
          finish: (error) => (error ? reject(error) : resolve(`${key}:${items.join(',')}`)),
        }),
      ),
  );
  return { commit, calls };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('GroupCommit', () => {
  it('writes the first item at once and everything that arrived meanwhile with the next write', async () => {
    // Prepare
    const { commit, calls } = heldWrites();

    // Act
    const first = commit.add('incident-1', 'a');
    const waiting = ['b', 'c', 'd'].map((item) => commit.add('incident-1', item));
    await settle();
    calls[0]!.finish();
    await settle();
    calls[1]!.finish();

    // Assess
    expect(calls.map((call) => call.items)).toEqual([['a'], ['b', 'c', 'd']]);
    await expect(first).resolves.toBe('incident-1:a');
    await expect(Promise.all(waiting)).resolves.toEqual([
      'incident-1:b,c,d',
      'incident-1:b,c,d',
      'incident-1:b,c,d',
    ]);
  });

  it('keeps keys apart: one key in flight does not hold another', async () => {
    // Prepare
    const { commit, calls } = heldWrites();

    // Act
    void commit.add('incident-1', 'a');
    const other = commit.add('incident-2', 'x');
    await settle();

    // Assess
    expect(calls.map((call) => [call.key, call.items])).toEqual([
      ['incident-1', ['a']],
      ['incident-2', ['x']],
    ]);
    calls[1]!.finish();
    await expect(other).resolves.toBe('incident-2:x');
  });

  it('fails only the callers of the failed write, and writes the next batch all the same', async () => {
    // Prepare
    const { commit, calls } = heldWrites();

    // Act
    const first = commit.add('incident-1', 'a').catch((error: Error) => error);
    const second = commit.add('incident-1', 'b');
    await settle();
    calls[0]!.finish(new Error('ProvisionedThroughputExceededException'));
    await settle();
    calls[1]!.finish();

    // Assess
    expect(await first).toEqual(new Error('ProvisionedThroughputExceededException'));
    await expect(second).resolves.toBe('incident-1:b');
  });

  it('starts afresh once a key is drained: a later item is written at once, alone', async () => {
    // Prepare
    const { commit, calls } = heldWrites();
    const first = commit.add('incident-1', 'a');
    await settle();
    calls[0]!.finish();
    await first;
    await settle();

    // Act
    const later = commit.add('incident-1', 'b');
    await settle();

    // Assess
    expect(calls.map((call) => call.items)).toEqual([['a'], ['b']]);
    calls[1]!.finish();
    await expect(later).resolves.toBe('incident-1:b');
  });
});
