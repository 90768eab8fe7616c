// The wall page's periods (feed/static/periods.js) under node's test runner.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  comparePeriods, frequencyOfPeriod, periodEnd, periodLabel, previousPeriod, staleness, STALE,
} from '../../feed/static/periods.js';

test('each period in the words of each language', () => {
  const periods = [['2026', 'Y'], ['2026-Q3', 'Q'], ['2026-10', 'M'], ['2026-10-05', 'D']];
  assert.deepEqual(periods.map(([p, f]) => periodLabel(p, f, 'vi')), ['Năm 2026', 'Quý III/2026', 'Tháng 10/2026', 'Ngày 5/10/2026']);
  assert.deepEqual(periods.map(([p, f]) => periodLabel(p, f, 'en')), ['2026', 'Q3 2026', 'Oct 2026', '5 Oct 2026']);
  assert.equal(periodLabel('2026-10-05', 'D', 'vi', true), '5/10');
  assert.equal(periodLabel('2026-10-05T02:05:09Z', 'live', 'vi'), '09:05:09'); // a counter's instant, the centre's time
  assert.equal(periodLabel('2026/10', 'M', 'vi'), '2026/10'); // not a period: as given
});

test('the period before, across years', () => {
  assert.equal(previousPeriod('2026-01', 'M'), '2025-12');
  assert.equal(previousPeriod('2026-Q1', 'Q'), '2025-Q4');
  assert.equal(previousPeriod('2026-03-01', 'D'), '2026-02-28');
  assert.equal(previousPeriod('2024-03-01', 'D'), '2024-02-29');
  assert.equal(previousPeriod('2026', 'Y'), '2025');
  assert.equal(previousPeriod('2026-10-05T02:05:09Z', 'live'), null);
});

test('when a period ends, and its form', () => {
  assert.equal(periodEnd('2026-Q3', 'Q'), Date.UTC(2026, 9, 1));
  assert.equal(periodEnd('2026-12', 'M'), Date.UTC(2027, 0, 1));
  assert.ok(Number.isNaN(periodEnd('2026-13x', 'M')));
  assert.deepEqual(['2026-10-05', '2026-10', '2026-Q3', '2026', '2026-10-05T02:05:09Z'].map(frequencyOfPeriod), ['D', 'M', 'Q', 'Y', 'live']);
});

test('periods of one series in order; live instants by time', () => {
  assert.ok(comparePeriods('2026-09', '2026-10', 'M') < 0);
  assert.equal(comparePeriods('2026-Q3', '2026-Q3', 'Q'), 0);
  assert.ok(comparePeriods('2026-10-05T02:05:09Z', '2026-10-05T02:05:09.5Z', 'live') < 0);
});

test('a figure turns amber, then red, as its next period is late', () => {
  const end = periodEnd('2026-09', 'M');
  const fig = { period: '2026-09', collectedAt: end + 86400000 };
  assert.equal(staleness(null, 'M', end, 'vi').level, 'none');
  assert.equal(staleness(fig, 'M', end + STALE.M.amber - 1, 'vi').level, 'fresh');
  assert.equal(staleness(fig, 'M', end + STALE.M.amber + 1, 'vi').level, 'amber');
  assert.equal(staleness(fig, 'M', end + STALE.M.red + 1, 'en').level, 'red');
  assert.equal(staleness(fig, 'M', fig.collectedAt + 120000, 'en').age, '2 min ago');
  const counter = { period: '2026-10-05T02:05:00Z', collectedAt: Date.UTC(2026, 9, 5, 2, 5) };
  assert.equal(staleness(counter, 'live', counter.collectedAt + 31000, 'vi').level, 'amber');
});
