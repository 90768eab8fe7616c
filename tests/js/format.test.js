// The wall page's number and time formatting (feed/static/format.js) under node's test runner: the
// cases of tests/test_wording.py that wording/numbers.py passes, so the two formatters agree here
// too (tests/test_wording_browser.py holds them equal in Chromium on many more values).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ago, formatNumber, whenText } from '../../feed/static/format.js';

const both = (value, decimals, others = []) => [
  formatNumber(value, decimals, others, 'vi'),
  formatNumber(value, decimals, others, 'en'),
];

test('separators of each language', () => {
  assert.deepEqual(both(1234.5), ['1.234,5', '1,234.5']);
  assert.equal(formatNumber(1234567, null, [], 'vi'), '1.234.567');
  assert.equal(formatNumber(3.10, null, [], 'en'), '3.1');
  assert.equal(formatNumber(null, null, [], 'en'), '—');
  assert.equal(formatNumber(4.4, 2, [], 'vi'), '4,40');
});

test('signs, rounding and large figures', () => {
  const cases = [
    [-1234.5, 1, '-1.234,5', '-1,234.5'], // CLDR's minus sign for both languages
    [-0.001, 2, '0,00', '0.00'], // rounds to zero: no sign
    [0.125, 2, '0,13', '0.13'], // a tie: half away from zero
    [1.005, 2, '1,01', '1.01'], // its shortest text is a tie
    [2.5, 0, '3', '3'],
    [-2.5, 0, '-3', '-3'],
    [1e21, null, '1.000.000.000.000.000.000.000', '1,000,000,000,000,000,000,000'],
    [Infinity, 1, '∞', '∞'],
    [-Infinity, 1, '-∞', '-∞'],
    [NaN, 1, '—', '—'],
  ];
  for (const [value, decimals, vi, en] of cases) assert.deepEqual(both(value, decimals), [vi, en], String(value));
});

test('a revision gets the digits that tell it from what it revised', () => {
  assert.equal(formatNumber(1.11, null, [1.111345], 'vi'), '1,11');
  assert.equal(formatNumber(1.111345, null, [1.11], 'vi'), '1,111');
  // Unrelated or equal values change nothing.
  assert.equal(formatNumber(1.111345, null, [1.111345, null], 'vi'), '1,11');
  assert.equal(formatNumber(2.004, 1, [2.001], 'vi'), '2,004');
  const revised = [[1.111345, 1.11], [2.004, 2.001], [1234.54, 1234.51], [1000.0, 1000.4], [7, 7.000001], [0.1 + 0.2, 0.3]];
  for (const [before, after] of revised) {
    for (const lang of ['vi', 'en']) {
      assert.notEqual(formatNumber(before, null, [after], lang), formatNumber(after, null, [before], lang));
    }
  }
});

test('ages and times of day in the centre\'s zone', () => {
  assert.equal(ago(3000, 'vi'), 'vừa xong');
  assert.equal(ago(125000, 'vi'), '2 phút trước');
  assert.equal(ago(3 * 86400000, 'en'), '3 days ago');
  const at = Date.UTC(2026, 11, 1, 2, 5); // 09:05 on 1 December in Hanoi (UTC+7)
  assert.equal(whenText(at, at + 3600000, 'vi'), '09:05');
  assert.equal(whenText(at, at + 2 * 86400000, 'vi'), '09:05 1/12');
  assert.equal(whenText(at, at + 2 * 86400000, 'en'), '09:05 Dec 1');
});
