import { describe, expect, it } from 'vitest';
import { formatCents, toCents } from '../../legacy-monolith/money.js';
import { describeValue, formatPath } from '../../legacy-monolith/validation.js';

describe('money', () => {
  it.each([
    ['0.00', 0],
    ['0.01', 1],
    ['19.99', 1999],
    ['120.00', 12000],
    ['-3.50', -350],
    ['9999999999.99', 999999999999],
  ])('%s is %i cents and back', (text, cents) => {
    expect(toCents(text)).toBe(cents);
    expect(formatCents(cents)).toBe(text);
  });

  it.each(['19.9', '19', '1.999', 'abc', '', ' 1.00'])('refuses %j', (text) => {
    expect(() => toCents(text)).toThrow(TypeError);
  });

  it('refuses fractional cents', () => {
    expect(() => formatCents(1.5)).toThrow(RangeError);
  });
});

describe('validation messages', () => {
  it.each([
    [['items', 2, 'quantity'], 'items[2].quantity'],
    [['pageSize'], 'pageSize'],
    [['items', 0], 'items[0]'],
  ])('formats the path %j as %s', (path, text) => {
    expect(formatPath(path)).toBe(text);
  });

  it.each([
    ['500', '"500"'],
    [7, '7'],
    [null, 'null'],
    [undefined, 'nothing'],
    [{}, 'an object'],
    [[], 'an empty array'],
    [[1, 2], 'an array of 2 items'],
    [['1', '2'], '["1","2"]'],
    ['x'.repeat(41), 'a string of 41 characters'],
    [true, 'true'],
  ])('describes %j as %s', (value, text) => {
    expect(describeValue(value)).toBe(text);
  });
});
