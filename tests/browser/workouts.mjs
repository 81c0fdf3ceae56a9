// SPDX-License-Identifier: MIT
// Browser tests of the Workouts view (issue 12 items 3, 4, 5 and 7) with playwright-core driving
// Debian's Chromium on a phone viewport (390×844), against one open-mode `gymhelper serve`:
// make a plan for a gym, start day 1, log sets with one tap each, go offline and log more, come
// back online, lose one answer on the way back (the set reached the server, the phone never
// heard), and check the server holds each set once; the progress charts draw; a plan shared by
// link opens in a fresh browser with nothing of the account.
//
// usage: node tests/browser/workouts.mjs --base URL --out result.json [--artifacts DIR]
//            [--screenshots DIR]
//
// tests/browser/test_workouts_browser.py starts the server and reports each scenario. Each one
// fails on any console error, page error, CSP violation or failed request during it, except
// those the offline scenario causes on purpose (reported as expected).
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: { base: { type: 'string' }, out: { type: 'string' }, artifacts: { type: 'string' }, screenshots: { type: 'string' } },
});
for (const k of ['base', 'out']) {
  if (!opt[k]) { console.error(`workouts.mjs: --${k} is required`); process.exit(2); }
}
const BASE = opt.base.replace(/\/$/, '');
const ARTIFACTS = opt.artifacts || fs.mkdtempSync(path.join(os.tmpdir(), 'gh-workouts-'));
fs.mkdirSync(ARTIFACTS, { recursive: true });
const HOTEL = ['dumbbell', 'weight-bench', 'treadmill', 'exercise-mat'];

const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost',
];
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
const T = 15000;

const result = {
  browser: null, scenarios: [], console_errors: [], page_errors: [], failed_requests: [],
  csp_violations: [], non_loopback_requests: [], expected: [], wall_ms: 0,
};
const t0 = performance.now();
let current = null;
let offlineOnPurpose = false; // failures while this is set are the offline scenario's own
let lostOnPurpose = 0;        // answers dropped on purpose

class Fail extends Error {}
function check(cond, msg) { if (!cond) throw new Fail(msg); }
function eq(actual, expected, what) {
  check(JSON.stringify(actual) === JSON.stringify(expected), `${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
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

function isLoopback(u) {
  if (/^(data|blob|about|chrome-error|chrome):/.test(u)) return true;
  try { const h = new URL(u).hostname; return h === '127.0.0.1' || h === 'localhost'; } catch { return false; }
}

function record(list, rec) {
  const onPurpose = (offlineOnPurpose && /ERR_INTERNET_DISCONNECTED|ERR_FAILED|ERR_ABORTED|Failed to fetch/.test(JSON.stringify(rec))) ||
    (current && current.expect404 && rec.kind === 'console' && /status of 404/.test(rec.text) && (rec.url || '').includes('/api/v1/shared/'));
  if (onPurpose) { result.expected.push(rec); return; }
  list.push(rec);
  if (current) current.problems.push(rec);
}

async function watch(context, label) {
  await context.exposeBinding('__ghCsp', (src, rec) => record(result.csp_violations, { context: label, kind: 'csp', ...rec }));
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__ghCsp({ directive: e.violatedDirective, blocked: e.blockedURI, source: e.sourceFile, line: e.lineNumber });
    });
  });
  const onPage = (page) => {
    page.on('console', (m) => {
      if (m.type() === 'error') record(result.console_errors, { context: label, kind: 'console', text: m.text(), url: m.location().url });
    });
    page.on('pageerror', (e) => record(result.page_errors, { context: label, kind: 'pageerror', text: String(e && e.stack || e) }));
  };
  context.pages().forEach(onPage);
  context.on('page', onPage);
  context.on('request', (r) => { if (!isLoopback(r.url())) record(result.non_loopback_requests, { context: label, url: r.url() }); });
  context.on('requestfailed', (r) => {
    const rec = { context: label, kind: 'failed request', url: r.url(), method: r.method(), failure: r.failure() && r.failure().errorText };
    if (rec.failure === 'net::ERR_ABORTED' && new URL(rec.url).pathname === '/icons/icon.svg') return; // the browser's own icon fetch
    record(result.failed_requests, rec);
  });
}

async function scenario(id, title, page, fn) {
  const rec = { id, title, ok: false, error: null, details: {}, problems: [], ms: 0 };
  result.scenarios.push(rec);
  current = rec;
  const start = performance.now();
  try {
    await fn(rec.details);
    await sleep(200);
    check(rec.problems.length === 0, `console errors, page errors, CSP violations or failed requests: ${JSON.stringify(rec.problems, null, 1)}`);
    rec.ok = true;
  } catch (e) {
    rec.error = e instanceof Fail ? e.message : String(e && e.stack || e);
    if (page && !page.isClosed()) {
      const shot = path.join(ARTIFACTS, `failed-${id}.png`);
      try { await page.screenshot({ path: shot, fullPage: true, timeout: 5000 }); rec.error += `\n(screenshot: ${shot})`; } catch { /* best effort */ }
    }
  }
  rec.ms = Math.round(performance.now() - start);
  current = null;
  process.stderr.write(`${rec.ok ? 'ok  ' : 'FAIL'} ${id} (${rec.ms} ms)${rec.ok ? '' : '\n  ' + rec.error.replace(/\n/g, '\n  ')}\n`);
}

async function openApp(page, hash) {
  await page.goto(BASE + '/' + hash, { waitUntil: 'load' });
  await page.waitForFunction(() => document.documentElement.dataset.app === 'ready' && / · GymHelper$/.test(document.title), null, { timeout: T });
}

/** A hash route of the page already open (a same-document navigation). */
async function go(page, hash) {
  await page.evaluate((h) => { location.hash = h; }, hash);
  await page.waitForFunction((h) => location.hash === h && document.documentElement.dataset.view && / · GymHelper$/.test(document.title), hash, { timeout: T });
}

async function apiJSON(method, p, body) {
  const r = await fetch(BASE + p, { method, headers: body ? { 'Content-Type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
  check(r.ok, `${method} ${p}: HTTP ${r.status}`);
  return r.json();
}

async function shot(page, name) {
  if (!opt.screenshots) return;
  fs.mkdirSync(opt.screenshots, { recursive: true });
  await page.screenshot({ path: path.join(opt.screenshots, name), fullPage: false });
}

/** Sets the server holds for workout id: their client ids, each once. */
async function serverSets(id) {
  return (await apiJSON('GET', `/api/v1/workouts/${id}`)).sets;
}

// ---- the run -----------------------------------------------------------------------------------

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, timeout: 30000 });
result.browser = browser.version();
const contexts = [];
async function newPage(label) {
  const ctx = await browser.newContext(PHONE);
  contexts.push(ctx);
  await watch(ctx, label);
  const page = await ctx.newPage();
  page.setDefaultTimeout(T);
  return { ctx, page };
}

try {
  const { ctx, page } = await newPage('phone');
  const gym = await apiJSON('POST', '/api/v1/gyms', { client_id: 'browser-gym-0001', name: 'Hotel gym', equipment: HOTEL });
  let plan = null;
  let workoutId = null;

  await scenario('have_it_here', '"I have this here" on a catalogue entry adds it to the gym', page, async (d) => {
    await openApp(page, '#/catalogue/kettlebell');
    const btn = page.locator(`${tid('equipment-card')} ${tid('have-it-button')}`);
    await btn.click();
    await page.locator(`${tid('equipment-card')} ${tid('have-it-done')}`).waitFor({ state: 'visible' });
    d.label = await text(page.locator(tid('have-it-done')));
    const g = await apiJSON('GET', `/api/v1/gyms/${gym.id}`);
    check(g.equipment.some((q) => q.slug === 'kettlebell'), `the gym has the kettlebell: ${JSON.stringify(g.equipment)}`);
    HOTEL.push('kettlebell');
  });

  await scenario('plan', 'Make a 3-day plan for the hotel gym: every exercise uses its equipment', page, async (d) => {
    await go(page, '#/workouts');
    const form = page.locator(tid('plan-form'));
    await form.waitFor({ state: 'visible' });
    await form.locator(tid('plan-goal')).selectOption('muscle');
    await form.locator(tid('plan-days')).selectOption('3');
    await form.locator(tid('plan-gym')).selectOption(`gym:${gym.id}`);
    await form.locator(tid('plan-generate')).click();
    await page.locator(tid('plan-day')).first().waitFor({ state: 'visible' });
    eq(await page.locator(tid('plan-day')).count(), 3, 'plan days shown');
    const plans = (await apiJSON('GET', '/api/v1/plans')).items;
    plan = plans[0];
    eq(plan.gym_id, gym.id, 'the plan is for the gym');
    const slugs = plan.days.flatMap((dd) => dd.slots.map((s) => s.exercise));
    for (const slug of new Set(slugs)) {
      const ex = await apiJSON('GET', `/api/v1/exercises/${slug}`);
      const kit = ex.equipment.map((e) => e.slug);
      check(kit.length === 0 || kit.some((k) => HOTEL.includes(k)), `${slug} needs ${kit.join(', ')}`);
    }
    d.slots = slugs.length;
    eq(await page.locator(tid('plan-slot')).count(), slugs.length, 'slots shown');
    await shot(page, 'workouts-plan.png');
  });

  await scenario('session', 'Start day 1; each tap logs a set, pre-filled, saved at once; the rest timer runs', page, async (d) => {
    await page.locator(tid('start-day')).first().click();
    const first = page.locator(tid('session-exercise')).first();
    await first.waitFor({ state: 'visible' });
    const reps = await first.locator(tid('log-reps')).inputValue();
    check(Number(reps) > 0, `reps pre-filled: "${reps}"`);
    if (await first.locator(tid('log-weight')).count()) await first.locator(tid('log-weight')).fill('20');
    const times = [];
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      await first.locator(tid('log-set')).click();
      await poll(async () => (await first.locator(`${tid('logged-set')}[data-status="saved"]`).count()) === i + 1, `set ${i + 1} saved`);
      times.push(Math.round(performance.now() - t));
    }
    d.tap_to_saved_ms = times;
    check(await page.locator(tid('rest-timer')).isVisible(), 'the rest timer after a set');
    const w = (await apiJSON('GET', '/api/v1/workouts?limit=5')).items[0];
    workoutId = w.id;
    eq((await serverSets(workoutId)).length, 3, 'sets on the server');
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot(page, 'workouts-session.png');
  });

  await scenario('offline', 'Offline: sets wait in the queue; back online they are sent, a lost answer is retried, nothing doubled', page, async (d) => {
    const second = page.locator(tid('session-exercise')).nth(1);
    await ctx.setOffline(true);
    offlineOnPurpose = true;
    await page.waitForFunction(() => navigator.onLine === false);
    if (await second.locator(tid('log-weight')).count()) await second.locator(tid('log-weight')).fill('12');
    await second.locator(tid('log-set')).click();
    await second.locator(tid('log-set')).click();
    await poll(async () => (await second.locator(`${tid('logged-set')}[data-status="queued"]`).count()) === 2, 'two sets queued');
    await poll(async () => /2 changes waiting/.test(await text(page.locator(tid('queue-state')))), 'the queue count');
    eq((await serverSets(workoutId)).length, 3, 'sets on the server while offline');
    // back online, but the answer to the first set sent is lost on the way back
    let dropped = 0;
    await page.route('**/api/v1/workouts/*/sets', async (route) => {
      if (dropped === 0) {
        dropped++;
        lostOnPurpose++;
        // the request reaches the server (sent from here with the page's very body), the
        // answer never reaches the phone
        const req = route.request();
        const r = await fetch(req.url(), { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: req.postData() });
        d.lost_answer_status = r.status;
        await route.abort('failed');
      } else {
        await route.continue();
      }
    });
    await ctx.setOffline(false);
    try {
      await poll(async () => (await second.locator(`${tid('logged-set')}[data-status="saved"]`).count()) === 2, 'both offline sets saved', 20000);
    } catch (e) {
      d.state = await page.evaluate(() => ({ online: navigator.onLine, flush: document.documentElement.dataset.queue, queue: localStorage.getItem('gh.workouts.queue'), ids: localStorage.getItem('gh.workouts.ids') }));
      d.dropped = dropped;
      throw e;
    }
    await page.unroute('**/api/v1/workouts/*/sets');
    offlineOnPurpose = false;
    d.answers_lost = dropped;
    const sets = await serverSets(workoutId);
    eq(sets.length, 5, 'sets on the server (3 online + 2 offline, none twice)');
    eq(new Set(sets.map((s) => s.client_id)).size, 5, 'distinct client ids');
    check(/Everything is saved/.test(await text(page.locator(tid('queue-state')))), 'the queue is empty');
  });

  await scenario('progress', 'The progress page draws its charts (Chart.js, served by the binary)', page, async (d) => {
    const slug = await page.locator(tid('session-exercise')).first().getAttribute('data-slug');
    await page.locator(tid('finish-workout')).click();
    await go(page, `#/workouts/progress/${slug}`);
    await poll(async () => (await page.locator('#workouts-root').getAttribute('data-drawn')) === '2', 'two charts drawn');
    d.summary = await text(page.locator(tid('progress-summary')));
    check(/1 session/.test(d.summary), `the summary counts the session: ${d.summary}`);
    const painted = await page.locator(tid('chart-e1rm')).evaluate((c) => {
      const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < px.length; i += 4) if (px[i]) n++;
      return n;
    });
    check(painted > 500, `the e1RM chart has ink: ${painted} pixels`);
    d.painted_pixels = painted;
    await shot(page, 'workouts-progress.png');
  });

  await scenario('share', 'A shared plan opens in a fresh browser, read-only, with nothing of the account', page, async (d) => {
    await go(page, '#/workouts');
    await page.locator(tid('share-plan')).click();
    const href = await page.locator(`${tid('share-link')} a`).getAttribute('href');
    check(/^\/#\/shared\/[A-Za-z0-9_-]{43}$/.test(href), `link: ${href}`);
    const { page: other } = await newPage('stranger');
    await openApp(other, href.slice(1));
    await other.locator(tid('plan-day')).first().waitFor({ state: 'visible' });
    eq(await other.locator(tid('start-day')).count(), 0, 'start buttons on a shared plan');
    eq(await other.locator(tid('share-plan')).count(), 0, 'share buttons on a shared plan');
    const doc = await apiJSON('GET', '/api/v1/shared/' + href.split('/').pop());
    check(!('id' in doc.plan) && !('gym_id' in doc.plan), 'no ids in the shared plan');
    current.expect404 = true; // the unknown link's answer, logged by Chromium
    await go(other, '#/shared/' + 'x'.repeat(43));
    await other.locator(tid('shared-error')).waitFor({ state: 'visible' });
    d.unknown = await text(other.locator(tid('shared-error')));
  });
} catch (e) {
  result.fatal = String(e && e.stack || e);
} finally {
  for (const c of contexts) await c.close().catch(() => {});
  await browser.close().catch(() => {});
  result.wall_ms = Math.round(performance.now() - t0);
  fs.writeFileSync(opt.out, JSON.stringify(result, null, 2));
}
