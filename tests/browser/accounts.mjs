// SPDX-License-Identifier: MIT
// Browser tests of the web app's accounts (issue 11 items 7 and 8), with playwright-core driving
// Debian's Chromium (/usr/bin/chromium), against three `gymhelper serve`: AUTH_MODE=required with
// sign-up allowed (users ann, an admin, and bo, made with the CLI), required without sign-up,
// and open mode.
//
// usage: node tests/browser/accounts.mjs --required URL --nosignup URL --open URL
//            --admin NAME:PASSWORD --user NAME:PASSWORD --photo A.jpg --photo2 B.jpg
//            --out result.json
//            [--artifacts DIR]
//
// tests/browser/test_accounts.py starts the servers and reports each scenario as a pytest
// case. Scenarios run in order and build on each other. Each one fails on any console error,
// uncaught page error, CSP violation or failed request during it, except the "Failed to load
// resource: ... 401" lines Chromium logs for the 401 answers a scenario provokes on purpose
// (declared with expect401 and reported as expected_console).
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    required: { type: 'string' }, nosignup: { type: 'string' }, open: { type: 'string' },
    admin: { type: 'string' }, user: { type: 'string' }, photo: { type: 'string' }, photo2: { type: 'string' },
    out: { type: 'string' }, artifacts: { type: 'string' },
  },
});
for (const k of ['required', 'nosignup', 'open', 'admin', 'user', 'photo', 'photo2', 'out']) {
  if (!opt[k]) { console.error(`accounts.mjs: --${k} is required`); process.exit(2); }
}
const REQ = opt.required.replace(/\/$/, '');
const NOSIGNUP = opt.nosignup.replace(/\/$/, '');
const OPEN = opt.open.replace(/\/$/, '');
const cred = (s) => { const i = s.indexOf(':'); return { name: s.slice(0, i), password: s.slice(i + 1) }; };
const ADMIN = cred(opt.admin);
const USER = cred(opt.user);
const ARTIFACTS = opt.artifacts || fs.mkdtempSync(path.join(os.tmpdir(), 'gh-accounts-'));
fs.mkdirSync(ARTIFACTS, { recursive: true });

const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost',
];
const DESKTOP = { viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 };
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
const T = 15000; // per wait

const result = {
  browser: null, scenarios: [], console_errors: [], page_errors: [], failed_requests: [],
  csp_violations: [], non_loopback_requests: [], documents: [], wall_ms: 0,
};
const t0 = performance.now();
let current = null;

class Fail extends Error {}
function check(cond, msg) { if (!cond) throw new Fail(msg); }
function eq(actual, expected, what) {
  check(JSON.stringify(actual) === JSON.stringify(expected),
    `${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
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
/** A promise awaited later: a scenario that fails before awaiting it must not crash the run. */
const later = (p) => { p.catch(() => {}); return p; };
const tid = (id) => `[data-testid="${id}"]`;
const text = async (loc) => ((await loc.textContent()) || '').replace(/\s+/g, ' ').trim();

function isLoopback(u) {
  if (/^(data|blob|about|chrome-error|chrome):/.test(u)) return true;
  try { const h = new URL(u).hostname; return h === '127.0.0.1' || h === 'localhost' || h === '[::1]'; } catch { return false; }
}

/** The 401 answers a scenario provokes on purpose: Chromium logs each as a console error. */
function expect401(pathPart) {
  current.expected401.push(pathPart);
}

function record(list, rec) {
  list.push(rec);
  if (current) current.problems.push(rec);
}

/** Listeners for every page of a context: console errors, page errors, CSP, failed requests. */
async function watch(context, label) {
  await context.exposeBinding('__ghCsp', (src, rec) => record(result.csp_violations, { context: label, scenario: current && current.id, kind: 'csp', ...rec }));
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__ghCsp({ directive: e.violatedDirective, blocked: e.blockedURI, source: e.sourceFile, line: e.lineNumber });
    });
  });
  const onPage = (page) => {
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      const loc = m.location();
      const rec = { context: label, scenario: current && current.id, kind: 'console', text: m.text(), url: loc.url };
      if (current && /status of 401/.test(rec.text) && current.expected401.some((p) => (loc.url || '').includes(p))) {
        current.details.expected_console = (current.details.expected_console || []).concat(`${rec.text} (${loc.url})`);
        return;
      }
      record(result.console_errors, rec);
    });
    page.on('pageerror', (e) => record(result.page_errors, { context: label, scenario: current && current.id, kind: 'pageerror', text: String(e && e.stack || e) }));
  };
  context.pages().forEach(onPage);
  context.on('page', onPage);
  context.on('request', (r) => { if (!isLoopback(r.url())) record(result.non_loopback_requests, { context: label, url: r.url() }); });
  context.on('requestfailed', (r) => {
    const rec = { context: label, scenario: current && current.id, kind: 'failed request', url: r.url(), method: r.method(), failure: r.failure() && r.failure().errorText };
    // Chromium fetches the page's icon (<link rel=icon>) on its own and cancels that fetch when
    // a reload replaces the page: the browser's, not the app's, and reported apart.
    if (rec.failure === 'net::ERR_ABORTED' && new URL(rec.url).pathname === '/icons/icon.svg') {
      if (current) current.details.icon_fetch_aborted_by_reload = true;
      return;
    }
    record(result.failed_requests, rec);
  });
  context.on('response', (r) => {
    if (r.request().resourceType() === 'document' && isLoopback(r.url())) {
      result.documents.push({ context: label, url: r.url(), status: r.status(), csp: r.headers()['content-security-policy'] || null });
    }
  });
}

async function scenario(id, title, page, fn) {
  const rec = { id, title, ok: false, error: null, details: {}, problems: [], expected401: [], ms: 0 };
  result.scenarios.push(rec);
  current = rec;
  const start = performance.now();
  try {
    await fn(rec.details);
    await sleep(200); // late console messages of this scenario's last requests
    check(rec.problems.length === 0, `console errors, page errors, CSP violations or failed requests: ${JSON.stringify(rec.problems, null, 1)}`);
    rec.ok = true;
  } catch (e) {
    rec.error = e instanceof Fail ? e.message : String(e && e.stack || e);
    const pg = typeof page === 'function' ? page() : page;
    if (pg && !pg.isClosed()) {
      const shot = path.join(ARTIFACTS, `failed-${id}.png`);
      try { await pg.screenshot({ path: shot, fullPage: true, timeout: 5000 }); rec.error += `\n(screenshot: ${shot})`; } catch { /* best effort */ }
    }
  }
  delete rec.expected401;
  rec.ms = Math.round(performance.now() - start);
  current = null;
  process.stderr.write(`${rec.ok ? 'ok  ' : 'FAIL'} ${id} (${rec.ms} ms)${rec.ok ? '' : '\n  ' + rec.error.replace(/\n/g, '\n  ')}\n`);
}

/** Opens base/hash and waits until the app has routed (it sets the title). */
async function openApp(page, base, hash = '') {
  await page.goto(base + '/' + hash, { waitUntil: 'load' });
  await page.waitForFunction(() => document.documentElement.dataset.app === 'ready' && / · GymHelper$/.test(document.title), null, { timeout: T });
}

/** Loads the page at #/hash afresh (a goto to another hash of the same page would not). */
async function reloadApp(page, hash) {
  await page.waitForLoadState('networkidle'); // a reload aborts what is still loading (icons)
  await page.evaluate((h) => { history.replaceState(null, '', h); }, hash);
  await page.reload({ waitUntil: 'load' });
  await page.waitForFunction(() => document.documentElement.dataset.app === 'ready' && / · GymHelper$/.test(document.title), null, { timeout: T });
}

const viewIs = async (page, v) => (await page.evaluate(() => document.documentElement.dataset.view)) === v;

async function signIn(page, who, password = who.password) {
  const form = page.locator(tid('signin-form'));
  await form.waitFor({ state: 'visible' });
  await form.locator(tid('signin-username')).fill(who.name);
  await form.locator(tid('signin-password')).fill(password);
  await form.locator(tid('signin-submit')).click();
}

/** What the page's script can read: storages and document.cookie. */
const readable = (page) => page.evaluate(() => ({
  local: JSON.stringify(Object.fromEntries(Object.entries(localStorage))),
  session: JSON.stringify(Object.fromEntries(Object.entries(sessionStorage))),
  cookie: document.cookie,
}));

const refreshCookie = async (ctx) => (await ctx.cookies()).find((c) => c.name === 'gh_refresh') || null;

async function apiLogin(base, who) {
  const r = await fetch(base + '/api/v1/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: who.name, password: who.password }) });
  check(r.ok, `API sign-in of ${who.name}: HTTP ${r.status}`);
  return r.json();
}

// ---- the run -----------------------------------------------------------------------------------

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, timeout: 30000 });
result.browser = browser.version();
const contexts = [];
async function newPage(label, device = DESKTOP) {
  const ctx = await browser.newContext(device);
  contexts.push(ctx);
  await watch(ctx, label);
  const page = await ctx.newPage();
  page.setDefaultTimeout(T);
  return { ctx, page };
}

try {
  const { page: openPage } = await newPage('open');
  await scenario('open_mode', 'Open mode: no sign-in anywhere; history answers without one', openPage, async (d) => {
    const p = openPage;
    await openApp(p, OPEN);
    check(await p.locator('#acct').isHidden(), 'the account bar is hidden');
    await p.locator(tid('nav-history')).click();
    await p.locator(tid('history-status')).waitFor({ state: 'visible' });
    await poll(async () => !/Loading/.test(await text(p.locator(tid('history-status')))), 'the history to load');
    d.history_status = await text(p.locator(tid('history-status')));
    check(!(await p.locator('.err').count()), `no error on History: ${d.history_status}`);
    eq(await p.locator(tid('signin-form')).count(), 0, 'sign-in forms on the page');
    await p.evaluate(() => { location.hash = '#/account'; });
    await poll(() => viewIs(p, 'account'), 'the account view');
    eq(await p.locator(tid('signin-form')).count(), 0, 'sign-in forms on #/account');
    d.account_page = await text(p.locator(tid('account-view')));
    eq(await p.locator(tid('nav-review')).isVisible(), false, 'the review link');
  });

  const { ctx: annCtx, page: ann } = await newPage('ann');
  let signinToken = null;
  ann.on('response', async (r) => {
    if (new URL(r.url()).pathname === '/api/v1/auth/login' && r.status() === 200) {
      try { signinToken = (await r.json()).access_token; } catch { /* body gone */ }
    }
  });

  await scenario('wrong_password', 'Required mode: the sign-in page first; a wrong password shows the server\'s sentence', ann, async (d) => {
    expect401('/api/v1/auth/login');
    await openApp(ann, REQ);
    eq(await ann.evaluate(() => document.documentElement.dataset.view), 'account', 'the view shown for / while signed out');
    d.note = await text(ann.locator(tid('account-note')));
    eq(d.note, 'Sign in to identify photos.', 'the note over the sign-in form');
    check(await ann.locator(tid('account-signin-link')).isVisible(), '"Sign in" in the header');
    await signIn(ann, ADMIN, 'not-the-password');
    const err = ann.locator(tid('signin-error'));
    await poll(async () => (await text(err)) !== '', 'the sign-in error');
    d.error = await text(err);
    eq(d.error, 'Wrong username or password.', 'the error sentence');
    eq(await refreshCookie(annCtx), null, 'a refresh cookie after a failed sign-in');
  });

  await scenario('signin', 'Sign in (a user made with the CLI), identify a photo with the token', ann, async (d) => {
    await signIn(ann, ADMIN);
    await poll(async () => (await ann.evaluate(() => document.documentElement.dataset.view)) === 'identify', 'the identify view after sign-in');
    eq(await text(ann.locator(tid('account-name'))), ADMIN.name, 'the name in the header');
    check(signinToken && signinToken.split('.').length === 3, 'the sign-in answer held a JWT');
    const sent = later(ann.waitForRequest((r) => new URL(r.url()).pathname === '/api/v1/analyze'));
    await ann.locator(tid('file-input')).setInputFiles(opt.photo);
    const req = await sent;
    eq(req.headers().authorization, `Bearer ${signinToken}`, 'Authorization of the upload');
    const card = ann.locator(tid('result-card'));
    await card.waitFor({ state: 'visible' });
    d.result = await text(card.locator(tid('result-name')));
    eq(d.result, 'Lat Pulldown Machine', 'the result');
  });

  await scenario('token_storage', 'The access token is in no storage and no readable cookie; the refresh cookie is HttpOnly, Secure, SameSite=Strict', ann, async (d) => {
    const r = await readable(ann);
    d.readable = { local_len: r.local.length, session_len: r.session.length, cookie: r.cookie };
    check(!r.local.includes(signinToken) && !r.session.includes(signinToken), 'the access token is not in localStorage or sessionStorage');
    check(!/eyJ[A-Za-z0-9_-]+\.eyJ/.test(r.local + r.session + r.cookie), 'no JWT in any storage or document.cookie');
    eq(r.cookie, '', 'document.cookie');
    const c = await refreshCookie(annCtx);
    check(c, 'the gh_refresh cookie is set');
    d.cookie = { ...c, value: c.value.slice(0, 4) + '…' };
    eq([c.httpOnly, c.secure, c.sameSite, c.path], [true, true, 'Strict', '/api/v1/auth'], 'cookie httpOnly, secure, sameSite, path');
    check(/^ghr_[A-Za-z0-9_-]{43}$/.test(c.value), 'the cookie holds a refresh token');
    check(c.expires > Date.now() / 1000 + 86400, 'the cookie outlives the browser session (Max-Age)');
    d.sw_cached_auth = await ann.evaluate(async () => {
      const hits = [];
      for (const k of await caches.keys()) for (const req of await (await caches.open(k)).keys()) if (req.url.includes('/api/v1/auth') || req.url.includes('/api/v1/me')) hits.push(req.url);
      return hits;
    });
    eq(d.sw_cached_auth, [], 'auth answers kept by the service worker');
  });

  await scenario('refresh', 'A reload signs back in from the cookie (rotated); the token is renewed before it expires', ann, async (d) => {
    const before = (await refreshCookie(annCtx)).value;
    await reloadApp(ann, '#/history');
    await poll(() => viewIs(ann, 'history'), 'history after the reload, signed in');
    eq(await text(ann.locator(tid('account-name'))), ADMIN.name, 'the name in the header after the reload');
    const after = (await refreshCookie(annCtx)).value;
    check(after !== before, 'the refresh cookie rotated on the reload');
    // the server gives 64 s tokens: the app renews 10 s after each new one, unasked
    const renewed = await ann.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/auth/refresh', { timeout: 40000 });
    eq(renewed.status(), 200, 'the unasked refresh');
    const fresh = (await renewed.json()).access_token;
    const next = later(ann.waitForRequest((r) => new URL(r.url()).pathname === '/api/v1/identifications'));
    await ann.locator(tid('history-refresh')).click();
    eq((await next).headers().authorization, `Bearer ${fresh}`, 'the next call carries the renewed token');
  });

  await scenario('two_tabs', 'Two tabs loading at once both sign back in (they take turns with the cookie)', ann, async (d) => {
    const second = await annCtx.newPage();
    second.setDefaultTimeout(T);
    try {
      await second.goto(REQ + '/#/history', { waitUntil: 'load' });
      await poll(() => viewIs(second, 'history'), 'the second tab signed in');
      await ann.waitForLoadState('networkidle');
      await second.waitForLoadState('networkidle');
      const refreshes = [];
      const onResp = (r) => { if (new URL(r.url()).pathname === '/api/v1/auth/refresh') refreshes.push(r.status()); };
      ann.on('response', onResp);
      second.on('response', onResp);
      await Promise.all([ann.reload({ waitUntil: 'load' }), second.reload({ waitUntil: 'load' })]);
      await poll(async () => (await viewIs(ann, 'history')) && (await viewIs(second, 'history')) && refreshes.length >= 2, 'both tabs signed in on History');
      d.refresh_statuses = refreshes;
      check(refreshes.every((st) => st === 200), `every refresh of the two tabs answered 200: ${refreshes}`);
      eq(await text(second.locator(tid('account-name'))), ADMIN.name, 'the second tab\'s account');
      ann.off('response', onResp);
      second.off('response', onResp);
    } finally {
      await second.close();
    }
  });

  await scenario('history', 'History lists the account\'s own analyses only', ann, async (d) => {
    // bo identifies another photo through the API; ann's page still shows ann's one row
    const bo = await apiLogin(REQ, USER);
    const form = new FormData();
    form.append('file', new Blob([fs.readFileSync(opt.photo2)], { type: 'image/jpeg' }), 'p.jpg');
    const r = await fetch(REQ + '/api/v1/analyze', { method: 'POST', body: form, headers: { Authorization: `Bearer ${bo.access_token}` } });
    check(r.ok, `bo's analysis: HTTP ${r.status}`);
    await ann.locator(tid('nav-history')).click();
    await ann.locator(tid('history-refresh')).click();
    const rows = ann.locator(tid('history-row'));
    await poll(async () => (await rows.count()) === 1 && /shown/.test(await text(ann.locator(tid('history-status')))), 'one history row');
    d.rows = await rows.evaluateAll((els) => els.map((e) => e.innerText.replace(/\s+/g, ' ').trim()));
    const all = await (await fetch(REQ + '/api/v1/identifications', { headers: { Authorization: `Bearer ${signinToken}` } })).json();
    d.server_total_for_admin = all.items.length;
    eq(d.server_total_for_admin, 2, 'analyses on the server (ann\'s and bo\'s)');
    eq(await text(ann.locator('#view-history .lead')), 'Your photos, newest first.', 'the history lead');
  });

  await scenario('review', 'An admin accepts a user\'s pending correction on "Review corrections"', ann, async (d) => {
    // bo corrects his own analysis (the one from the history scenario): one user's vote, pending
    const bo = await apiLogin(REQ, USER);
    const auth = { Authorization: `Bearer ${bo.access_token}` };
    const mine = await (await fetch(REQ + '/api/v1/identifications?limit=1', { headers: auth })).json();
    check(mine.items && mine.items.length === 1, 'bo has one analysis');
    const fb = await fetch(REQ + `/api/v1/identifications/${mine.items[0].id}/feedback`, {
      method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ slug: 'seated-row-machine' }),
    });
    check(fb.ok, `bo's correction: HTTP ${fb.status}`);
    const nav = ann.locator(tid('nav-review'));
    check(await nav.isVisible(), 'the admin sees "Review" in the navigation');
    await nav.click();
    const item = ann.locator(tid('review-item'));
    await poll(async () => (await item.count()) === 1, 'one pending correction');
    d.item = await text(item);
    eq(await item.locator(tid('review-user')).textContent(), USER.name, 'who corrected');
    eq(await item.locator(tid('review-slug')).getAttribute('data-slug'), 'seated-row-machine', 'the corrected slug');
    eq(await text(item.locator(tid('review-previous'))), 'Lat Pulldown Machine', 'what it corrects');
    const id = await item.getAttribute('data-id');
    await item.locator(tid('review-accept')).click();
    await poll(async () => (await item.getAttribute('data-status')) === 'accepted', 'the row marked accepted');
    d.result = await text(item.locator(tid('review-result')));
    const accepted = await (await fetch(REQ + '/api/v1/corrections?status=accepted', { headers: { Authorization: `Bearer ${(await apiLogin(REQ, ADMIN)).access_token}` } })).json();
    check(accepted.items.some((c) => String(c.id) === id), `correction ${id} is accepted on the server`);
    await ann.locator(tid('review-refresh')).click();
    await poll(async () => /Nothing waiting/.test(await text(ann.locator(tid('review-status')))), 'an empty queue after the refresh');
  });

  await scenario('session_end', 'On a 401 the app refreshes once and retries; when that fails, back to sign-in', ann, async (d) => {
    // the next history call answers 401 once (as an expired token would): one refresh, one retry
    expect401('/api/v1/identifications');
    let n = 0;
    const history = (u) => u.pathname === '/api/v1/identifications';
    await ann.route(history, async (route) => {
      n++;
      if (n === 1) await route.fulfill({ status: 401, contentType: 'application/problem+json', body: JSON.stringify({ title: 'Unauthorized', status: 401, code: 'unauthorized', detail: 'token expired' }) });
      else await route.continue();
    });
    const refreshed = later(ann.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/auth/refresh'));
    if (!(await viewIs(ann, 'history'))) await ann.locator(tid('nav-history')).click();
    else await ann.locator(tid('history-refresh')).click();
    eq((await refreshed).status(), 200, 'the refresh after the 401');
    await poll(async () => (await ann.locator(tid('history-row')).count()) === 1, 'history again after the retry');
    eq(n, 2, 'history requests (the 401, then the retry)');
    await ann.unroute(history);
    // now the refresh fails too (as a revoked session's would): the sign-in page, with a note
    expect401('/api/v1/auth/refresh');
    await ann.route(history, (route) => route.fulfill({ status: 401, contentType: 'application/problem+json', body: '{"status":401,"code":"unauthorized","detail":"token revoked"}' }));
    await ann.route((u) => u.pathname === '/api/v1/auth/refresh', (route) => route.fulfill({ status: 401, contentType: 'application/problem+json', body: '{"status":401,"code":"unauthorized","detail":"session over"}' }));
    await ann.locator(tid('history-refresh')).click();
    await poll(async () => (await ann.evaluate(() => document.documentElement.dataset.view)) === 'account', 'the sign-in page');
    d.note = await text(ann.locator(tid('account-note')));
    eq(d.note, 'Your session has ended. Sign in again.', 'the note');
    check(await ann.locator(tid('signin-form')).isVisible(), 'the sign-in form');
    await ann.unrouteAll({ behavior: 'wait' });
    await signIn(ann, ADMIN);
    await poll(async () => (await ann.evaluate(() => document.documentElement.dataset.view)) === 'history', 'back to history once signed in');
  });

  await scenario('signout', 'Sign out clears the session: the cookie is gone and a reload does not sign back in', ann, async (d) => {
    await ann.locator(tid('account-name')).click();
    await ann.locator(tid('signout')).click();
    await ann.locator(tid('signin-form')).waitFor({ state: 'visible' });
    eq(await refreshCookie(annCtx), null, 'the refresh cookie after sign-out');
    const calls = [];
    const onReq = (r) => { if (new URL(r.url()).pathname.startsWith('/api/')) calls.push(`${r.method()} ${new URL(r.url()).pathname}`); };
    ann.on('request', onReq);
    await reloadApp(ann, '#/history');
    ann.off('request', onReq);
    d.api_calls_on_reload = calls;
    check(calls.includes('GET /api/v1/auth/config') && !calls.some((c) => c.includes('/auth/refresh')),
      `the reload asks auth/config and tries no refresh: ${calls.join(', ')}`);
    eq(await ann.evaluate(() => document.documentElement.dataset.view), 'account', 'the view after the reload');
    check(await ann.locator(tid('signin-form')).isVisible(), 'the sign-in form after the reload');
    check(await ann.locator(tid('account-signin-link')).isVisible(), '"Sign in" in the header after the reload');
  });

  const { page: newbie } = await newPage('signup');
  await scenario('signup', 'Sign-up when the server allows it; a new account starts with an empty history', newbie, async (d) => {
    await openApp(newbie, REQ, '#/history');
    const form = newbie.locator(tid('signup-form'));
    await form.waitFor({ state: 'visible' });
    await form.locator(tid('signup-username')).fill('cyd');
    await form.locator(tid('signup-password')).fill('cyd-password-12');
    await form.locator(tid('signup-submit')).click();
    await poll(async () => (await newbie.evaluate(() => document.documentElement.dataset.view)) === 'history', 'history after sign-up');
    eq(await text(newbie.locator(tid('account-name'))), 'cyd', 'the new account in the header');
    await poll(async () => /Nothing identified yet/.test(await text(newbie.locator(tid('history-status')))), 'an empty history');
    eq(await newbie.locator(tid('nav-review')).isVisible(), false, 'the review link for a plain user');
  });

  const { page: closed } = await newPage('nosignup', PHONE);
  await scenario('no_signup', 'Sign-up is hidden when the server does not allow it (on a 390×844 phone, which the page fits)', closed, async (d) => {
    await openApp(closed, NOSIGNUP);
    await closed.locator(tid('signin-form')).waitFor({ state: 'visible' });
    eq(await closed.locator(tid('signup-form')).count(), 0, 'sign-up forms');
    d.width = await closed.evaluate(() => document.documentElement.scrollWidth);
    check(d.width <= 390, `the sign-in page scrollWidth ${d.width} <= 390`);
    const b = await closed.locator(tid('signin-submit')).boundingBox();
    check(b && b.height >= 44 && b.x + b.width <= 390, `"Sign in" is a >= 44 px target on screen (${JSON.stringify(b)})`);
    check(await closed.locator(tid('account-signin-link')).isVisible(), '"Sign in" in the header');
  });

  const { page: docs } = await newPage('docs');
  await scenario('swagger_authorize', 'Swagger UI at /docs/: "Authorize" with a token, then "Try it out" on GET /api/v1/me answers 200', docs, async (d) => {
    const token = (await apiLogin(REQ, USER)).access_token;
    await docs.goto(REQ + '/docs/', { waitUntil: 'load' });
    await docs.locator('.btn.authorize').first().click();
    const box = docs.locator('.auth-container').filter({ hasText: 'bearerAuth' });
    await box.locator('input').fill(token);
    await box.locator('button.authorize').click();
    await docs.locator('.auth-btn-wrapper button.btn-done, button.close-modal').first().click();
    const op = docs.locator('#operations-Accounts-me');
    await op.locator('.opblock-summary').click();
    await op.locator('.try-out__btn').click();
    const sent = later(docs.waitForRequest((r) => new URL(r.url()).pathname === '/api/v1/me'));
    await op.locator('.execute').click();
    eq((await sent).headers().authorization, `Bearer ${token}`, 'Authorization sent by Swagger UI');
    const status = op.locator('.live-responses-table tr.response .response-col_status').first();
    await poll(async () => /^\d{3}/.test(await text(status)), 'the response status in Swagger UI');
    d.status = await text(status);
    eq(d.status.slice(0, 3), '200', 'the status Swagger UI shows');
    d.body = await text(op.locator('.live-responses-table tr.response .microlight').first());
    check(d.body.includes(`"username": "${USER.name}"`), `the answer names ${USER.name}: ${d.body.slice(0, 200)}`);
  });
} catch (e) {
  result.fatal = String(e && e.stack || e);
} finally {
  for (const c of contexts) await c.close().catch(() => {});
  await browser.close().catch(() => {});
  result.wall_ms = Math.round(performance.now() - t0);
  fs.writeFileSync(opt.out, JSON.stringify(result, null, 2));
}
