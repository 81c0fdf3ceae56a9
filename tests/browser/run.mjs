// SPDX-License-Identifier: MIT
// Browser tests of the gymhelper web app (served at / by `gymhelper serve`), driven with
// playwright-core against Debian's Chromium (/usr/bin/chromium; no browser is downloaded).
//
// usage: node tests/browser/run.mjs --base http://127.0.0.1:P --fake http://127.0.0.1:F
//            --photo A.jpg --photo2 B.jpg --server-log SERVER.stderr --out result.json
//            [--docs docs] [--artifacts DIR]
//
// The server must be fresh (empty database) and point at tests/fake_openai.py answering
// lat-pulldown-machine; tests/browser/test_browser.py starts both and reports each scenario as
// its own pytest case. Scenarios run in order and build on each other (identify, correct,
// re-upload, ...); a failing one is recorded and the next still runs. The result JSON holds
// every scenario's outcome, every console error and page error, and any request to a
// non-loopback address. Only loopback traffic: the browser resolves no other host. Chromium
// runs on a fresh temporary profile (chromium.launch makes its own user-data-dir and removes
// it on close).
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    base: { type: 'string' }, fake: { type: 'string' }, photo: { type: 'string' },
    photo2: { type: 'string' }, 'server-log': { type: 'string' }, out: { type: 'string' },
    docs: { type: 'string', default: 'docs' }, artifacts: { type: 'string' },
  },
});
for (const k of ['base', 'fake', 'photo', 'photo2', 'server-log', 'out']) {
  if (!opt[k]) { console.error(`run.mjs: --${k} is required`); process.exit(2); }
}
const BASE = opt.base.replace(/\/$/, '');
const FAKE = opt.fake.replace(/\/$/, '');
const ARTIFACTS = opt.artifacts || fs.mkdtempSync(path.join(os.tmpdir(), 'gh-browser-'));
fs.mkdirSync(ARTIFACTS, { recursive: true });
fs.mkdirSync(opt.docs, { recursive: true });

const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
  // belt and braces for "only loopback traffic": no other host name resolves
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost',
];
const DESKTOP = { viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 };
const MOBILE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
const FIRST_PAINT_LIMIT_MS = 100; // the target, reported (see first_paint)
// Asserted only against a blocked render (a paint waiting on a failing fetch or script takes
// seconds); the speed itself is measured, not asserted: 150 ms of slack flaked at load 20+.
const FIRST_PAINT_BLOCKED_MS = 2000;
const T = 10000; // per wait

const result = {
  browser: null, scenarios: [], console_errors: [], page_errors: [], non_loopback_requests: [],
  failed_requests: [], artifacts: ARTIFACTS, wall_ms: 0,
  csp_violations: [], documents: [],
};
const t0 = performance.now();
let current = null; // the scenario running now (console errors are attributed to it)

// ---- small helpers -----------------------------------------------------------------------------

class Fail extends Error {}
function check(cond, msg) { if (!cond) throw new Fail(msg); }
function eq(actual, expected, what) {
  check(JSON.stringify(actual) === JSON.stringify(expected),
    `${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Retries fn until it returns a truthy value (returned) or timeout passes (then fails with what). */
async function poll(fn, what, timeout = T) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try { last = await fn(); } catch (e) { last = e; }
    if (last && !(last instanceof Error)) return last;
    if (Date.now() > end) throw new Fail(`timed out after ${timeout} ms waiting for ${what}` + (last instanceof Error ? ` (${last.message})` : ''));
    await sleep(50);
  }
}

const tid = (id) => `[data-testid="${id}"]`;
const text = async (loc) => ((await loc.textContent()) || '').replace(/\s+/g, ' ').trim();
const pct = (x) => `${Math.round(Math.max(0, Math.min(1, Number(x) || 0)) * 100)}%`;

async function getJSON(url) {
  const r = await fetch(url, { headers: { Accept: 'application/json' } });
  check(r.ok, `GET ${url}: HTTP ${r.status}`);
  return r.json();
}
const api = (p) => getJSON(BASE + p);

function accessLogCount() {
  return accessLogPaths().length;
}

/** The access log's length once it has stopped growing for 300 ms. A request is logged when its
 * answer has gone out completely, which can be after the browser has used it: the catalogue
 * was drawn while its GET (157 ms to complete) was still unlogged, and that line then counted as
 * a request made offline. */
async function settledAccessLogCount() {
  let n = accessLogCount();
  for (let i = 0; i < 50; i++) {
    await sleep(300);
    const m = accessLogCount();
    if (m === n) return n;
    n = m;
  }
  return n;
}

/** "METHOD path status" of every request in the server's access log so far. */
function accessLogPaths() {
  const out = [];
  for (const line of fs.readFileSync(opt['server-log'], 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    try { const o = JSON.parse(line); if (o.method && o.path && 'status' in o) out.push(`${o.method} ${o.path} ${o.status}`); } catch { /* partial line */ }
  }
  return out;
}

function isLoopback(u) {
  if (/^(data|blob|about|chrome-error|chrome):/.test(u)) return true;
  try { const h = new URL(u).hostname; return h === '127.0.0.1' || h === 'localhost' || h === '[::1]'; } catch { return false; }
}

/** Every Content-Security-Policy violation on a page (securitypolicyviolation events, reported
 * through a binding), and the CSP header of every HTML document loaded. */
async function watchCsp(context, label) {
  await context.exposeBinding('__ghCsp', (src, rec) => {
    result.csp_violations.push({ context: label, scenario: current && current.id, ...rec });
  });
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__ghCsp({ directive: e.violatedDirective, blocked: e.blockedURI, source: e.sourceFile, line: e.lineNumber, sample: e.sample });
    });
  });
  context.on('response', (r) => {
    if (r.request().resourceType() === 'document' && isLoopback(r.url())) {
      result.documents.push({ context: label, url: r.url(), status: r.status(), csp: r.headers()['content-security-policy'] || null });
    }
  });
}

/** Attaches the listeners every page and service worker of the run gets. */
function watch(context, label) {
  const onPage = (page) => {
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      const loc = m.location();
      const rec = { context: label, scenario: current && current.id, text: m.text(), url: loc.url, line: loc.lineNumber };
      result.console_errors.push(rec);
      if (current) current.console_errors.push(rec);
    });
    page.on('pageerror', (e) => {
      const rec = { context: label, scenario: current && current.id, text: String(e && e.stack || e) };
      result.page_errors.push(rec);
      if (current) current.page_errors.push(rec);
    });
  };
  context.pages().forEach(onPage);
  context.on('page', onPage);
  context.on('serviceworker', (w) => w.on('console', (m) => {
    if (m.type() !== 'error') return;
    const rec = { context: label + ' (service worker)', scenario: current && current.id, text: m.text(), url: m.location().url };
    result.console_errors.push(rec);
    if (current) current.console_errors.push(rec);
  }));
  context.on('request', (r) => {
    if (!isLoopback(r.url())) result.non_loopback_requests.push({ context: label, url: r.url(), scenario: current && current.id });
  });
  context.on('requestfailed', (r) => {
    result.failed_requests.push({ context: label, scenario: current && current.id, url: r.url(), method: r.method(), failure: r.failure() && r.failure().errorText });
  });
}

async function scenario(id, title, page, fn) {
  const rec = { id, title, ok: false, error: null, details: {}, console_errors: [], page_errors: [], ms: 0 };
  result.scenarios.push(rec);
  current = rec;
  const start = performance.now();
  try {
    await fn(rec.details);
    rec.ok = true;
  } catch (e) {
    rec.error = e instanceof Fail ? e.message : String(e && e.stack || e);
    const pg = typeof page === 'function' ? page() : page;
    if (pg && !pg.isClosed()) {
      const shot = path.join(ARTIFACTS, `failed-${id}.png`);
      try { await pg.screenshot({ path: shot, fullPage: true, timeout: 5000 }); rec.error += `\n(screenshot: ${shot})`; } catch { /* best effort */ }
    }
  }
  rec.ms = Math.round(performance.now() - start);
  current = null;
  process.stderr.write(`${rec.ok ? 'ok  ' : 'FAIL'} ${id} (${rec.ms} ms)${rec.ok ? '' : '\n  ' + rec.error.replace(/\n/g, '\n  ')}\n`);
}

/** Opens / and waits until app.js has routed (it sets the title) so the inputs are wired up. */
async function openApp(page, hash = '') {
  await page.goto(BASE + '/' + hash, { waitUntil: 'load' });
  await page.waitForFunction(() => / · GymHelper$/.test(document.title), null, { timeout: T });
}

async function waitScrollSettled(page) {
  let last = -1, same = 0;
  for (let i = 0; i < 60 && same < 4; i++) {
    const y = await page.evaluate(() => window.scrollY);
    same = y === last ? same + 1 : 0;
    last = y;
    await sleep(50);
  }
}

/** Uploads a photo through the file input; resolves with the new result card (a locator). */
async function uploadAndWait(page, file) {
  // mark a card already on screen so that the new one is told apart from it
  await page.evaluate(() => document.querySelectorAll('[data-testid="result-card"]').forEach((c) => { c.dataset.e2eOld = '1'; }));
  await page.locator(tid('file-input')).setInputFiles(file);
  const card = page.locator(`${tid('result-card')}:not([data-e2e-old])`);
  await card.waitFor({ state: 'visible', timeout: T });
  return card;
}

async function sectionItems(card, heading) {
  return card.locator('section').filter({ has: card.page().locator('h3', { hasText: heading }) }).locator('li').allTextContents();
}

/** The concrete content of a result card: name, badges, muscles, steps, safety tips. */
async function readCard(card) {
  const q = (id) => card.locator(tid(id));
  return {
    slug: await card.getAttribute('data-slug'),
    name: await text(q('result-name')),
    confidence: (await q('confidence').count()) ? await text(q('confidence')) : null,
    cache: (await q('cache-status').count()) ? await text(q('cache-status')) : null,
    corrected: (await q('corrected-badge').count()) ? await text(q('corrected-badge')) : null,
    primary_muscles: await q('primary-muscles').locator('li').allTextContents(),
    secondary_muscles: await q('secondary-muscles').locator('li').allTextContents(),
    steps: await q('steps').locator('li').allTextContents(),
    safety_tips: await sectionItems(card, 'Safety tips'),
    exercises: await q('exercise').evaluateAll((els) => els.map((e) => e.dataset.slug)),
  };
}

/** The app's search rule (web/ui.js matches): every word of the query in name, slug or aliases. */
const norm = (s) => String(s || '').toLowerCase().normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/[^a-z0-9]+/g, ' ').trim();
const matchesQuery = (e, q) => norm(q).split(' ').every((w) => norm([e.name, e.slug, ...(e.aliases || [])].join(' ')).includes(w));

const prettyMuscle = (s) => { const t = String(s).replace(/[_-]+/g, ' ').trim(); return t.charAt(0).toUpperCase() + t.slice(1); };

/** Checks a card's content against the catalogue entry of slug. */
async function checkCardMatches(c, slug) {
  const e = await api(`/api/v1/equipment/${slug}`);
  const entry = e.equipment || e;
  eq(c.name, entry.name, 'card name');
  eq(c.primary_muscles, entry.primary_muscles.map(prettyMuscle), 'primary muscles');
  eq(c.steps, entry.instructions, 'steps');
  eq(c.safety_tips, entry.safety_tips, 'safety tips');
  eq(c.exercises, entry.exercises.map((x) => x.slug), 'exercises');
  check(c.exercises.length > 0, 'card lists the exercises');
  check(c.steps.length > 0 && c.safety_tips.length > 0 && c.primary_muscles.length > 0,
    'card has muscles, steps and safety tips');
}

async function hScrollFree(page) {
  return page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
}

// ---- the run -----------------------------------------------------------------------------------

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, timeout: 30000 });
result.browser = browser.version();
let desk, deskPage, mob, mobPage;
try {
  const catalogue = await api('/api/v1/equipment');
  const N = catalogue.equipment.length;
  const bySlug = new Map(catalogue.equipment.map((e) => [e.slug, e]));

  desk = await browser.newContext(DESKTOP);
  watch(desk, 'desktop');
  await watchCsp(desk, 'desktop');
  deskPage = await desk.newPage();
  deskPage.setDefaultTimeout(T);
  const page = deskPage;

  await scenario('identify', 'Identify a real photo of a lat pulldown machine', page, async (d) => {
    await openApp(page);
    check(await page.locator(tid('file-input')).isEnabled(), 'file input is enabled');
    const card = await uploadAndWait(page, opt.photo);
    const c = await readCard(card);
    d.card = { ...c, steps: c.steps.length, safety_tips: c.safety_tips.length };
    eq(c.slug, 'lat-pulldown-machine', 'card slug');
    eq(c.name, 'Lat Pulldown Machine', 'result name');
    check(/^\d{1,3}% confident$/.test(c.confidence || ''), `confidence badge reads "N% confident" (got ${JSON.stringify(c.confidence)})`);
    eq(c.confidence, '91% confident', 'confidence (the fake answers 0.91)');
    eq(c.cache, 'Fresh analysis', 'cache status');
    eq(c.corrected, null, 'corrected badge (none yet)');
    await checkCardMatches(c, 'lat-pulldown-machine');
    eq(await text(card.locator(tid('not-this'))), 'Not this? Pick the right one', 'not-this button');
    const fake = await getJSON(FAKE + '/_calls');
    eq(fake.calls, 1, 'provider calls after the first identification');
    // docs/screenshot-desktop.png: the top of the page with the result card under the upload box
    await waitScrollSettled(page);
    await page.evaluate(() => window.scrollTo({ top: 0, behavior: 'instant' }));
    await page.evaluate(() => document.fonts.ready);
    const shot = path.join(opt.docs, 'screenshot-desktop.png');
    await page.screenshot({ path: shot });
    d.screenshot = shot;
  });

  await scenario('correct', 'Correct it through the picker ("Seated Row")', page, async (d) => {
    const card = page.locator(tid('result-card'));
    await card.locator(tid('not-this')).click();
    const picker = page.locator(tid('picker'));
    await picker.waitFor({ state: 'visible' });
    check(await picker.evaluate((el) => el.tagName === 'DIALOG' && el.open), 'the picker is an open <dialog>');
    const opts = picker.locator(tid('picker-option'));
    await poll(async () => (await opts.count()) > 1, 'picker options');
    d.options_before = await opts.count();
    check(!(await picker.locator(`${tid('picker-option')}[data-slug="lat-pulldown-machine"]`).count()),
      'the current answer is not offered in the picker');
    await picker.locator(tid('picker-search')).fill('Seated Row');
    await poll(async () => (await opts.count()) < d.options_before, 'the picker search to narrow the list');
    const names = (await opts.locator('span').allTextContents()).map((s) => s.trim());
    d.options_after = names;
    check(names.every((n) => /seated/i.test(n) && /row/i.test(n)), `every option matches "Seated Row": ${names.join(', ')}`);
    check(names.includes('Seated Row Machine'), 'Seated Row Machine is offered');
    await picker.locator(`${tid('picker-option')}[data-slug="seated-row-machine"]`).click();
    await poll(async () => !(await picker.evaluate((el) => el.open)), 'the picker to close');
    const fresh = page.locator(tid('result-card'));
    await poll(async () => (await text(fresh.locator(tid('result-name')))) === 'Seated Row Machine', 'the corrected card');
    const c = await readCard(fresh);
    d.card = { ...c, steps: c.steps.length, safety_tips: c.safety_tips.length };
    eq(c.slug, 'seated-row-machine', 'corrected card slug');
    check(c.corrected && /corrected/i.test(c.corrected), `corrected badge shown (got ${JSON.stringify(c.corrected)})`);
    await checkCardMatches(c, 'seated-row-machine');
    const hist = await api('/api/v1/identifications?limit=5');
    const item = hist.items[0];
    const to = item.corrected_equipment && item.corrected_equipment.slug;
    d.stored = { corrected: item.corrected, corrected_equipment: to };
    eq([item.corrected, to], [true, 'seated-row-machine'], 'the server recorded the correction');
  });

  await scenario('reupload', 'Re-upload the same photo: the correction is served from the cache', page, async (d) => {
    await page.evaluate(() => window.scrollTo({ top: 0, behavior: 'instant' }));
    const card = await uploadAndWait(page, opt.photo);
    const c = await readCard(card);
    d.card = { ...c, steps: c.steps.length, safety_tips: c.safety_tips.length };
    eq(c.slug, 'seated-row-machine', 'served equipment');
    eq(c.name, 'Seated Row Machine', 'result name');
    check(c.corrected && /corrected/i.test(c.corrected), `marked corrected (got ${JSON.stringify(c.corrected)})`);
    check(c.cache && /^From cache/.test(c.cache), `marked from cache (got ${JSON.stringify(c.cache)})`);
    const fake = await getJSON(FAKE + '/_calls');
    d.provider_calls = fake.calls;
    eq(fake.calls, 1, 'provider calls after the re-upload (the cache answered)');
  });

  await scenario('catalogue', 'Browse and filter the catalogue', page, async (d) => {
    await page.locator(tid('nav-catalogue')).click();
    const items = page.locator(tid('catalogue-item'));
    await poll(async () => (await items.count()) === N, `all ${N} catalogue entries listed`);
    const slugs = async () => items.evaluateAll((els) => els.filter((e) => e.offsetParent !== null).map((e) => e.dataset.slug));
    const same = (a, b) => JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());
    d.all = N;
    // search text
    await page.locator(tid('catalogue-search')).fill('press');
    await poll(async () => (await items.count()) < N, 'the search to narrow the list');
    const pressed = await slugs();
    d.search_press = pressed;
    check(pressed.length > 0, 'the search "press" finds something');
    for (const s of ['chest-press-machine', 'leg-press-machine', 'shoulder-press-machine', 'bench-press-station']) check(pressed.includes(s), `"press" finds ${s}`);
    check(!pressed.includes('treadmill'), '"press" does not find treadmill');
    const wantPress = catalogue.equipment.filter((e) => matchesQuery(e, 'press')).map((e) => e.slug);
    check(same(pressed, wantPress), `"press" lists exactly the entries whose name, slug or aliases contain it: got ${pressed}, want ${wantPress}`);
    await page.locator(tid('catalogue-search')).fill('');
    await poll(async () => (await items.count()) === N, 'the full list after clearing the search');
    // category
    const cats = await page.locator(`${tid('category-filter')} option`).evaluateAll((o) => o.map((x) => x.value));
    d.categories = cats;
    check(cats.includes('cable'), 'category filter offers cable');
    await page.locator(tid('category-filter')).selectOption('cable');
    const wantCable = catalogue.equipment.filter((e) => e.category === 'cable').map((e) => e.slug);
    await poll(async () => same(await slugs(), wantCable), `exactly the ${wantCable.length} cable entries`);
    d.category_cable = wantCable.length;
    await page.locator(tid('category-filter')).selectOption('');
    // muscle
    const muscles = await page.locator(`${tid('muscle-filter')} option`).evaluateAll((o) => o.map((x) => x.value));
    check(muscles.includes('lats'), 'muscle filter offers lats');
    await page.locator(tid('muscle-filter')).selectOption('lats');
    const wantLats = catalogue.equipment.filter((e) => [...(e.primary_muscles || []), ...(e.secondary_muscles || [])].includes('lats')).map((e) => e.slug);
    await poll(async () => same(await slugs(), wantLats), `exactly the ${wantLats.length} entries working the lats`);
    check(wantLats.length < N, 'the muscle filter narrows');
    d.muscle_lats = wantLats.length;
    // search + category + muscle together
    await page.locator(tid('category-filter')).selectOption('cable');
    await page.locator(tid('catalogue-search')).fill('row');
    const wantCombo = catalogue.equipment.filter((e) => e.category === 'cable' && wantLats.includes(e.slug) && matchesQuery(e, 'row')).map((e) => e.slug);
    check(wantCombo.includes('seated-row-machine') && wantCombo.length < wantCable.length, `cable + lats + "row" narrows (${wantCombo})`);
    await poll(async () => same(await slugs(), wantCombo), `cable + lats + "row" → ${wantCombo.join(', ')}`);
    d.combined = wantCombo;
    await page.locator(tid('catalogue-clear')).click();
    await poll(async () => (await items.count()) === N, 'the full list after "Clear filters"');
    // open an entry
    const legPress = bySlug.get('leg-press-machine');
    const line = await text(page.locator(`${tid('catalogue-item')}[data-slug="leg-press-machine"] ${tid('catalogue-item-exercises')}`));
    eq(line, 'Exercises: ' + legPress.exercises.slice(0, 3).map((x) => x.name).join(', ') + (legPress.exercises.length > 3 ? ` +${legPress.exercises.length - 3} more` : ''), 'list item exercises');
    d.list_exercises = line;
    await page.locator(`${tid('catalogue-item')}[data-slug="leg-press-machine"]`).click();
    const card = page.locator(tid('equipment-card'));
    await card.waitFor({ state: 'visible' });
    check(/#\/catalogue\/leg-press-machine$/.test(page.url()), `URL is #/catalogue/leg-press-machine (${page.url()})`);
    const name = await text(card.locator(tid('equipment-name')));
    eq(name, 'Leg Press Machine', 'opened entry name');
    const entry = bySlug.get('leg-press-machine');
    eq(await card.locator(tid('steps')).locator('li').allTextContents(), entry.instructions, 'opened entry steps');
    eq(await sectionItems(card, 'Safety tips'), entry.safety_tips, 'opened entry safety tips');
    d.exercises = await card.locator(tid('exercise')).evaluateAll((els) => els.map((e) => e.dataset.slug));
    eq(d.exercises, entry.exercises.map((x) => x.slug), 'opened entry exercises');
    check(d.exercises.includes('leg-press'), 'the leg press lists the leg press exercise');
    d.opened = name;
    await card.locator(tid('catalogue-back')).click();
    await poll(async () => (await items.count()) === N && (await items.first().isVisible()), 'back to the list');
  });

  await scenario('history', 'History lists both identifications, the correction shown', page, async (d) => {
    await page.locator(tid('nav-history')).click();
    const rows = page.locator(tid('history-row'));
    const stored = await api('/api/v1/identifications?limit=20');
    await poll(async () => (await rows.count()) === stored.items.length, `${stored.items.length} history rows`);
    d.rows = await rows.evaluateAll((els) => els.map((e) => e.innerText.replace(/\s+/g, ' ').trim()));
    eq(d.rows.length, 2, 'history rows (identify + re-upload)');
    const [newest, first] = d.rows; // newest first
    check(/Cached/.test(newest) && /Fresh/.test(first), 'the re-upload is the newest row, cached; the first identification is fresh');
    check(newest.includes('Seated Row Machine'), `the re-upload row shows Seated Row Machine: "${newest}"`);
    check(/corrected/.test(first), `the first identification is marked corrected: "${first}"`);
    check(first.includes('Seated Row Machine'),
      `the corrected identification shows what it was corrected to (Seated Row Machine, from the API's corrected_equipment): "${first}"`);
  });

  await scenario('status', 'Status shows health, provider and cache numbers', page, async (d) => {
    await page.locator(tid('nav-status')).click();
    const panel = page.locator(tid('status-panel'));
    await panel.locator(tid('health-status')).waitFor({ state: 'visible' });
    const [health, stats, fake] = await Promise.all([api('/api/v1/health'), api('/api/v1/cache/stats'), getJSON(FAKE + '/_calls')]);
    const q = (id) => text(panel.locator(tid(id)));
    d.panel = {
      health: await panel.locator(tid('health-status')).getAttribute('data-status'),
      provider: await q('provider-name'), model: await q('provider-model'), ready: await q('provider-ready'),
      hit_rate: await q('hit-rate'), provider_calls: await q('provider-calls'), entries: await q('cache-entries'),
      layers: await panel.locator(`${tid('layer-table')} tbody tr`).evaluateAll((trs) => trs.map((tr) => tr.innerText.replace(/\s+/g, ' ').trim())),
    };
    eq(d.panel.health, health.status, 'health status');
    eq(d.panel.health, 'ok', 'health status');
    eq(d.panel.provider, 'openai', 'provider');
    eq(d.panel.model, 'gpt-4o-mini', 'model');
    eq(d.panel.ready, 'Ready', 'provider readiness');
    eq(d.panel.hit_rate, `${pct(stats.hit_rate)} hit rate`, 'hit rate');
    eq(d.panel.hit_rate, '50% hit rate', 'hit rate (1 hit of 2 requests)');
    eq(d.panel.provider_calls, String(fake.calls), 'provider calls (= the fake provider\'s count)');
    check(d.panel.entries.startsWith(String(stats.entries)), `cache entries ${d.panel.entries} vs ${stats.entries}`);
    const hits = Object.values(stats.layers || {}).reduce((a, l) => a + (l.hits || 0), 0);
    eq(hits, 1, 'cache hits by layer (server)');
    check(d.panel.layers.some((r) => /^Misses 1\b/.test(r)), `layer table shows 1 miss: ${d.panel.layers.join(' | ')}`);
    check(d.panel.layers.some((r) => /^Visual memory \(same machine\) 0\b/.test(r)), `layer table has the visual memory: ${d.panel.layers.join(' | ')}`);
    // web/quality.js: the measured-escalation panel shows /api/v1/quality's numbers
    const quality = await api('/api/v1/quality');
    d.quality = { samples: await q('quality-samples'), verdict: await q('quality-verdict') };
    eq(d.quality.samples, String(quality.samples), 'quality panel samples = /api/v1/quality');
    check(d.quality.verdict.length > 20, `quality panel says what the samples mean: "${d.quality.verdict}"`);
    // Leave the view: its refresh every 15 s would otherwise reach the server during later
    // scenarios that count the server's requests (offline), depending on how slow they run.
    await page.locator(tid('nav-catalogue')).click();
    await poll(async () => page.evaluate(() => document.documentElement.dataset.view === 'catalogue'), 'off the status view');
  });

  // 6. phone
  mob = await browser.newContext(MOBILE);
  watch(mob, 'mobile');
  await watchCsp(mob, 'mobile');
  mobPage = await mob.newPage();
  mobPage.setDefaultTimeout(T);
  await scenario('mobile', 'Phone 390×844: identify view fits, navigation usable, screenshot', () => mobPage, async (d) => {
    const p = mobPage;
    await openApp(p);
    d.identify = await hScrollFree(p);
    check(d.identify.scrollWidth <= 390, `identify view scrollWidth ${d.identify.scrollWidth} <= 390`);
    const nav = p.locator('nav.nav');
    const nb = await nav.boundingBox();
    d.nav = nb;
    check(nb && nb.y + nb.height <= 844 + 1 && nb.y + nb.height >= 844 - 1, `navigation sits at the bottom of the screen (${JSON.stringify(nb)})`);
    for (const v of ['identify', 'catalogue', 'history', 'status']) {
      const b = await p.locator(tid('nav-' + v)).boundingBox();
      check(b && b.x >= 0 && b.x + b.width <= 390 && b.height >= 44 && b.width >= 44, `nav-${v} is a ≥44 px target on screen (${JSON.stringify(b)})`);
    }
    await p.locator(tid('nav-catalogue')).tap();
    await poll(async () => (await p.locator(tid('catalogue-item')).count()) === N, 'the catalogue on the phone');
    d.catalogue = await hScrollFree(p);
    check(d.catalogue.scrollWidth <= 390, `catalogue scrollWidth ${d.catalogue.scrollWidth} <= 390`);
    await p.locator(tid('nav-status')).tap();
    await p.locator(tid('health-status')).waitFor({ state: 'visible' });
    d.status = await hScrollFree(p);
    check(d.status.scrollWidth <= 390, `status scrollWidth ${d.status.scrollWidth} <= 390`);
    await p.locator(tid('nav-identify')).tap();
    await poll(async () => p.evaluate(() => document.documentElement.dataset.view === 'identify'), 'back on Identify');
    const chooser = p.locator('label[for="file-input"]');
    check(await chooser.isVisible(), '"Choose a photo" is visible');
    const card = await uploadAndWait(p, opt.photo2);
    const c = await readCard(card);
    d.card = { name: c.name, confidence: c.confidence, cache: c.cache };
    eq(c.name, 'Lat Pulldown Machine', 'result name on the phone');
    d.after = await hScrollFree(p);
    check(d.after.scrollWidth <= 390, `identify view with the result card scrollWidth ${d.after.scrollWidth} <= 390`);
    await waitScrollSettled(p);
    await p.evaluate(() => document.fonts.ready);
    const shot = path.join(opt.docs, 'screenshot-mobile.png');
    await p.screenshot({ path: shot });
    d.screenshot = shot;
  });

  // 7. first paint, each on a fresh context (no service worker, empty HTTP cache)
  await scenario('first_paint', `First paint of / not blocked; gap to a trivial page reported (target ≤ ${FIRST_PAINT_LIMIT_MS} ms, reported)`, null, async (d) => {
    // A trivial page (an <h1> and a <p>) from a loopback server is measured the same way,
    // alternating with /, so that a slow machine can be told from a slow app: reported only.
    const trivial = http.createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>baseline</title></head>' +
        '<body><h1>Baseline</h1><p>A trivial page.</p></body></html>');
    });
    await new Promise((r) => trivial.listen(0, '127.0.0.1', r));
    /** first paint timings of one load of url in a fresh context (no service worker, empty cache) */
    const measure = async (url, label, app) => {
      const ctx = await browser.newContext(DESKTOP);
      watch(ctx, label);
      await watchCsp(ctx, label);
      try {
        const p = await ctx.newPage();
        await p.goto(url, { waitUntil: 'load' });
        const m = await poll(() => p.evaluate(() => {
          const e = Object.fromEntries(performance.getEntriesByType('paint').map((x) => [x.name, x.startTime]));
          const n = performance.getEntriesByType('navigation')[0];
          return e['first-contentful-paint'] !== undefined
            ? { fp: e['first-paint'], fcp: e['first-contentful-paint'], response_end: n && n.responseEnd, dcl: n && n.domContentLoadedEventEnd }
            : null;
        }), `a first-contentful-paint entry of ${url}`);
        for (const k of Object.keys(m)) m[k] = m[k] === undefined ? null : Math.round(m[k] * 10) / 10;
        if (app) await p.waitForFunction(() => / · GymHelper$/.test(document.title)); // app.js ran
        return m;
      } finally {
        await ctx.close();
      }
    };
    d.loads = [];
    d.baseline_fcp_ms = [];
    try {
      for (let i = 0; i < 3; i++) {
        d.loads.push(await measure(BASE + '/', `first-paint-${i + 1}`, true));
        d.baseline_fcp_ms.push((await measure(`http://127.0.0.1:${trivial.address().port}/`, `first-paint-baseline-${i + 1}`, false)).fcp);
      }
    } finally {
      trivial.close();
    }
    d.fcp_ms = d.loads.map((l) => l.fcp);
    d.best_fcp_ms = Math.min(...d.fcp_ms);
    d.first_load_fcp_ms = d.fcp_ms[0];
    // The 100 ms target and the gap to a page with nothing in it (the peer measured alongside)
    // are measurements, reported: on a shared 2-core machine both swing by hundreds of ms.
    // What must hold in every run is that nothing blocks the first paint.
    d.best_baseline_fcp_ms = Math.min(...d.baseline_fcp_ms);
    d.target_met = d.best_fcp_ms <= FIRST_PAINT_LIMIT_MS;
    d.gap_to_trivial_ms = d.best_fcp_ms - d.best_baseline_fcp_ms;
    check(d.best_fcp_ms <= d.best_baseline_fcp_ms + FIRST_PAINT_BLOCKED_MS,
      `best first-contentful-paint of / ${d.best_fcp_ms} ms is more than ${FIRST_PAINT_BLOCKED_MS} ms ` +
      `after a trivial page's ${d.best_baseline_fcp_ms} ms (loads: ${d.fcp_ms.join(', ')} ms)`);
  });

  // 8. offline, on a fresh context so that the service worker starts from nothing
  let offPage = null;
  await scenario('offline', 'Offline: the catalogue browses from the service worker; Identify says it needs a connection', () => offPage, async (d) => {
    const ctx = await browser.newContext(DESKTOP);
    watch(ctx, 'offline');
    await watchCsp(ctx, 'offline');
    offPage = await ctx.newPage();
    const p = offPage;
    p.setDefaultTimeout(T);
    await openApp(p);
    await p.waitForFunction(() => navigator.serviceWorker && navigator.serviceWorker.controller !== null, null, { timeout: T });
    d.sw = await p.evaluate(async () => (await navigator.serviceWorker.getRegistration()).active.scriptURL);
    await p.locator(tid('nav-catalogue')).click();
    const items = p.locator(tid('catalogue-item'));
    await poll(async () => (await items.count()) === N, 'the catalogue online');
    const before = await settledAccessLogCount();
    await ctx.setOffline(true);
    const fromSW = {};
    p.on('response', (r) => { const u = new URL(r.url()); if (u.pathname === '/' || u.pathname === '/api/v1/equipment') fromSW[u.pathname] = r.fromServiceWorker() && r.status(); });
    await p.reload({ waitUntil: 'load' });
    await p.waitForFunction(() => document.title === 'Catalogue · GymHelper', null, { timeout: T });
    check(await p.evaluate(() => navigator.onLine === false), 'navigator.onLine is false');
    await poll(async () => (await items.count()) === N, `all ${N} entries offline`);
    d.served_by_service_worker = fromSW;
    eq(fromSW, { '/': 200, '/api/v1/equipment': 200 }, 'the page and the catalogue came from the service worker (status 200)');
    check(await p.locator('#net').isVisible(), 'the "Offline" indicator is shown');
    d.net = await text(p.locator('#net'));
    await p.locator(tid('catalogue-search')).fill('bike');
    await poll(async () => { const n = await items.count(); return n > 0 && n < N; }, 'the offline search to narrow the list');
    d.offline_search_bike = await items.evaluateAll((els) => els.map((e) => e.dataset.slug));
    await p.locator(tid('category-filter')).selectOption('cardio');
    const wantBikes = catalogue.equipment.filter((e) => e.category === 'cardio' && matchesQuery(e, 'bike')).length;
    check(wantBikes > 0, 'there are cardio bikes in the catalogue');
    await poll(async () => (await items.count()) === wantBikes, `category filter offline (${wantBikes} cardio bikes)`);
    await p.locator(`${tid('catalogue-item')}[data-slug="air-bike"]`).click();
    await poll(async () => (await text(p.locator(`${tid('equipment-card')} ${tid('equipment-name')}`))) === 'Air Bike', 'an entry opened offline');
    await p.locator(tid('nav-identify')).click();
    const note = p.locator(tid('offline-note'));
    await note.waitFor({ state: 'visible' });
    d.identify_note = await text(note);
    check(/needs a connection/i.test(d.identify_note), `Identify says it needs a connection: "${d.identify_note}"`);
    check(await p.locator(tid('file-input')).isDisabled(), 'the file input is disabled offline');
    // The browser's own update check of the worker script (GET /sw.js on navigation) is not
    // the page's traffic and is not subject to the context's offline emulation.
    d.requests_offline = accessLogPaths().slice(before);
    d.requests_reaching_server_offline = d.requests_offline.filter((r) => !r.startsWith('GET /sw.js ')).length;
    eq(d.requests_reaching_server_offline, 0, 'requests that reached the server while offline');
    await ctx.setOffline(false);
    await poll(async () => !(await note.isVisible()), 'the offline note to go when back online');
    await ctx.close();
    offPage = null;
  });
} catch (e) {
  result.fatal = String(e && e.stack || e);
} finally {
  for (const c of [desk, mob]) if (c) await c.close().catch(() => {});
  await browser.close().catch(() => {});
  result.wall_ms = Math.round(performance.now() - t0);
  fs.writeFileSync(opt.out, JSON.stringify(result, null, 2));
}
