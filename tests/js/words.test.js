// The wall page's words (feed/static/words.js) under node's test runner: the catalogue's labels as
// the page looks them up in /display/wording.js (entries as in wording/catalogue.py), and its own.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { capitalised, label, unitLabel, wording, WORDS } from '../../feed/static/words.js';

const CATALOGUE = {
  unknown: { vi: 'Cảnh báo {rule}: {subject}', en: 'Alert {rule}: {subject}' },
  'group.source.failing': { vi: 'nguồn lỗi', en: 'source failure' },
  'status.provisional': { vi: 'sơ bộ', en: 'provisional' },
  'only.vi': { vi: 'chỉ tiếng Việt' },
};

test('a label in each language, its placeholders filled', () => {
  assert.equal(label('group.source.failing', 'vi', {}, CATALOGUE), 'nguồn lỗi');
  assert.equal(label('group.source.failing', 'en', {}, CATALOGUE), 'source failure');
  assert.equal(label('unknown', 'en', { rule: 'source.failing', subject: 'mof' }, CATALOGUE), 'Alert source.failing: mof');
  assert.equal(label('unknown', 'vi', { rule: 'x' }, CATALOGUE), 'Cảnh báo x: {subject}'); // a value not given stays marked
});

test('Vietnamese where a label has no English; the key where the catalogue has no label', () => {
  assert.equal(label('only.vi', 'en', {}, CATALOGUE), 'chỉ tiếng Việt');
  assert.equal(label('no.such.key', 'en', {}, CATALOGUE), 'no.such.key');
});

test('labels come from /display/wording.js, which sets window.OPSCENTRE_WORDING', () => {
  assert.deepEqual(wording(), {}); // nothing loaded: no labels, no failure
  assert.equal(label('status.provisional', 'en'), 'status.provisional');
  globalThis.OPSCENTRE_WORDING = { catalogue: CATALOGUE, locales: { vi: 'vi-VN', en: 'en-US' } };
  try {
    assert.equal(label('status.provisional', 'en'), 'provisional');
    assert.equal(capitalised(label('status.provisional', 'vi'), 'vi'), 'Sơ bộ');
  } finally {
    delete globalThis.OPSCENTRE_WORDING;
  }
});

test('the page\'s own words exist in both languages alike', () => {
  const keys = (o) => Object.keys(o).sort();
  assert.deepEqual(keys(WORDS.en), keys(WORDS.vi));
  for (const part of ['conn', 'ago', 'stale', 'outcome', 'period', 'periodShort', 'closeReason']) {
    assert.deepEqual(keys(WORDS.en[part]), keys(WORDS.vi[part]), part);
  }
  assert.equal(unitLabel('nghìn tỷ đồng', 'en'), 'trillion VND');
  assert.equal(unitLabel('nghìn tỷ đồng', 'vi'), 'nghìn tỷ đồng');
  assert.equal(unitLabel('made-up unit', 'en'), 'made-up unit');
});
