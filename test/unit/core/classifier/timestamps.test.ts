import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isoByDate, matchTimestamp, toIsoTimestamp } from '../../../../functions/core/classifier/payloads.ts';

/**
 * toIsoTimestamp reads everyday timestamps character by character before its pattern: it accepts
 * nothing the pattern refuses and gives what Date gives for what it accepts, over texts a character
 * away from a timestamp (one replaced, dropped or added, the text cut short) in every sender's shape.
 */

const two = (min: number, max: number) => fc.integer({ min, max }).map((n) => String(n).padStart(2, '0'));

const timestamp = fc
  .tuple(
    fc.integer({ min: 0, max: 9999 }).map((n) => String(n).padStart(4, '0')),
    two(0, 13),
    two(0, 32),
    fc.constantFrom('T', 't'),
    two(0, 24),
    two(0, 60),
    two(0, 60),
    fc.option(fc.stringMatching(/^[0-9]{1,10}$/), { nil: undefined }),
    fc.oneof(
      fc.constantFrom('Z', 'z'),
      fc
        .tuple(fc.constantFrom('+', '-'), two(0, 24), fc.constantFrom(':', ''), two(0, 60))
        .map((parts) => parts.join('')),
    ),
  )
  .map(
    ([year, month, day, t, hour, minute, second, fraction, zone]) =>
      `${year}-${month}-${day}${t}${hour}:${minute}:${second}${fraction === undefined ? '' : `.${fraction}`}${zone}`,
  );

const CHARACTERS = ['0', '5', '9', '-', ':', '.', 'T', 'Z', 'z', '+', ' ', 'x', '٣'];

/** The text with one edit at a position: a character replaced, removed or inserted, or the rest cut. */
const edited = fc
  .record({
    text: timestamp,
    at: fc.nat(),
    edit: fc.constantFrom('replace', 'remove', 'insert', 'cut', 'none'),
    character: fc.constantFrom(...CHARACTERS),
  })
  .map(({ text, at, edit, character }) => {
    const index = at % (text.length + 1);
    if (edit === 'replace') return text.slice(0, index) + character + text.slice(index + 1);
    if (edit === 'remove') return text.slice(0, index) + text.slice(index + 1);
    if (edit === 'insert') return text.slice(0, index) + character + text.slice(index);
    if (edit === 'cut') return text.slice(0, index);
    return text;
  });

describe('toIsoTimestamp', () => {
  it('accepts what its pattern accepts, and gives what Date gives, on texts near a timestamp', () => {
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(edited, (text) => {
        const match = matchTimestamp(text);
        const expected = match ? isoByDate(match) : undefined;
        expect(toIsoTimestamp(text)).toBe(expected);
        if (expected === undefined) refused++;
        else accepted++;
      }),
      { numRuns: 20_000, seed: 20 },
    );
    expect(accepted).toBeGreaterThan(2_000);
    expect(refused).toBeGreaterThan(2_000);
  });
});
