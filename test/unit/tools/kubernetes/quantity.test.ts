import { describe, expect, it } from 'vitest';
import {
  InvalidQuantityError,
  parseQuantity,
  quantityOr,
  roundCores,
} from '../../../../functions/tools/kubernetes/quantity.ts';

describe('Kubernetes quantities', () => {
  it.each<[string, number]>([
    ['2', 2],
    ['500m', 0.5],
    ['100m', 0.1],
    ['1500m', 1.5],
    ['250n', 2.5e-7],
    ['123456789n', 0.123456789],
    ['10u', 0.00001],
    ['1k', 1_000],
    ['1.5M', 1_500_000],
    ['2G', 2e9],
    ['1T', 1e12],
    ['1E', 1e18],
    ['1Ki', 1_024],
    ['1536Mi', 1_536 * 2 ** 20],
    ['2Gi', 2 * 2 ** 30],
    ['0.5Gi', 2 ** 29],
    ['1Ti', 2 ** 40],
    ['16303232Ki', 16_303_232 * 1_024],
    ['1e3', 1_000],
    ['1E3', 1_000],
    ['5e-3', 0.005],
    ['12e+2', 1_200],
    ['.5', 0.5],
    ['5.', 5],
    ['+3', 3],
    ['-1', -1],
    ['0', 0],
  ])('%s is %d', (text, value) => {
    expect(parseQuantity(text)).toBeCloseTo(value, 12);
  });

  it('keeps decimal suffixes exact where binary floating point would not', () => {
    expect(parseQuantity('100m')).toBe(0.1);
    expect(parseQuantity('300m')).toBe(0.3);
    expect(parseQuantity('1.1k')).toBe(1_100);
  });

  it('accepts numbers as they are', () => {
    expect(parseQuantity(3)).toBe(3);
  });

  it.each(['', 'Gi', '2 Gi', '2gi', '1.2.3', '1Kb', 'abc', '1e', '--1'])(
    'rejects "%s" with the grammar in the message',
    (text) => {
      expect(() => parseQuantity(text)).toThrow(InvalidQuantityError);
      expect(() => parseQuantity(text)).toThrow(/is not a Kubernetes quantity .*500m, 2Gi/);
    },
  );

  it('falls back only for absent values', () => {
    expect(quantityOr(undefined, 0)).toBe(0);
    expect(quantityOr(null, 7)).toBe(7);
    expect(quantityOr('250m', 0)).toBe(0.25);
    expect(() => quantityOr('lots', 0)).toThrow(InvalidQuantityError);
  });

  it('rounds cores to millicores', () => {
    expect(roundCores(0.123456789)).toBe(0.123);
    expect(roundCores(1.9996)).toBe(2);
  });
});
