// Workouts view (#/workouts, #/workouts/progress) and shared links (#/shared/<token>): plans
// made from one of your gyms, a session logged set by set with the last numbers pre-filled and
// a rest timer, and progress charts. Writes go through a queue in localStorage, each with its
// client_id, so a set logged offline is sent once the connection is back and a retry never
// logs it twice (the server answers a replayed client_id with the stored set).
import { api, ApiError, humanError, catalogue } from './api.js';
import { h, $, replace, announce, pretty } from './ui.js';
import { required, signedIn } from './account.js';

const Q_KEY = 'gh.workouts.queue';
const S_KEY = 'gh.workouts.session';
const ID_KEY = 'gh.workouts.ids';
const PLAN_KEY = 'gh.workouts.plan';

const load = (k, d) => { try { const v = JSON.parse(localStorage.getItem(k)); return v === null ? d : v; } catch { return d; } };
const save = (k, v) => localStorage.setItem(k, JSON.stringify(v));

/** A client id: 16 random bytes as base64url (22 characters). */
function newId() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...b)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

const kg = (x) => (x === null || x === undefined ? '' : String(Math.round(x * 100) / 100));

// ---- the queue of writes ---------------------------------------------------------------------

let flushing = null;
let retryTimer = 0;
let onChange = () => {};

function enqueue(item) {
  const q = load(Q_KEY, []);
  item.qid = newId();
  q.push(item);
  save(Q_KEY, q);
  flush();
}

/** Sends the queued writes in order; stops (keeping the rest) when the network is down. */
export function flush() {
  if (!flushing) {
    document.documentElement.dataset.queue = 'sending'; // for tests: what the queue does
    flushing = drain().finally(() => { flushing = null; onChange(); });
  }
  return flushing;
}

async function send(item, ids) {
  if (item.kind === 'workout') {
    const w = await api(item.path, { method: 'POST', json: item.body });
    ids[item.body.client_id] = w.id;
    save(ID_KEY, ids);
    return w;
  }
  const wid = ids[item.workout];
  if (!wid) throw new ApiError(422, { detail: 'the workout of this set was never created' });
  if (item.kind === 'finish') return api(`/api/v1/workouts/${wid}`, { method: 'PATCH', json: item.body });
  return api(`/api/v1/workouts/${wid}/sets`, { method: 'POST', json: item.body });
}

async function drain() {
  const ids = load(ID_KEY, {});
  for (;;) {
    const q = load(Q_KEY, []);
    if (!q.length) {
      document.documentElement.dataset.queue = 'empty';
      return;
    }
    const item = q[0];
    let answer = null;
    try {
      answer = await send(item, ids);
    } catch (e) {
      if (e instanceof ApiError && (e.status === 0 || e.status >= 500 || e.status === 429 || e.status === 401)) {
        // kept and sent again (the same client_id: never twice): when the connection is back,
        // or after a pause when the answer was lost or the server was busy
        clearTimeout(retryTimer);
        if (e.status !== 0 || navigator.onLine !== false) retryTimer = setTimeout(flush, e.status === 0 ? 2000 : 5000);
        document.documentElement.dataset.queue = `waiting (${e.status || 'offline'})`;
        return;
      }
      settle(item, 'failed', null, humanError(e));
    }
    if (answer && item.kind === 'set') settle(item, 'saved', answer);
    save(Q_KEY, load(Q_KEY, []).filter((x) => x.qid !== item.qid));
  }
}

/** Marks a logged set of the session saved (with the server's records) or failed. */
function settle(item, status, answer, why) {
  const s = load(S_KEY, null);
  if (!s || item.kind !== 'set') {
    if (why) announce(why);
    return;
  }
  for (const ex of s.exercises) {
    for (const set of ex.sets) {
      if (set.client_id !== item.body.client_id) continue;
      set.status = status;
      if (answer) set.records = answer.records || [];
      if (why) set.error = why;
    }
  }
  save(S_KEY, s);
}

// ---- the session being logged -----------------------------------------------------------------

let restTimer = 0;
let restEnd = 0;

function startRest(seconds) {
  restEnd = Date.now() + seconds * 1000;
  clearInterval(restTimer);
  tickRest();
  restTimer = setInterval(tickRest, 1000);
}

function tickRest() {
  const el = $('[data-testid="rest-timer"]');
  const left = Math.max(0, Math.round((restEnd - Date.now()) / 1000));
  if (el) {
    el.hidden = left <= 0;
    const t = $('[data-testid="rest-left"]', el);
    if (t) t.textContent = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}`;
  }
  if (left <= 0) {
    clearInterval(restTimer);
    if (restEnd) announce('Rest over: next set.');
    restEnd = 0;
  }
}

async function prefill(ex) {
  if (ex.prefill) return;
  try {
    const last = await api(`/api/v1/progress/exercises/${encodeURIComponent(ex.slug)}/last`);
    const work = (last.sets || []).filter((s) => !s.warmup);
    const top = work[work.length - 1];
    if (top) ex.prefill = { weight: top.weight_kg, reps: top.reps };
  } catch { /* offline or never done: the plan's numbers or blanks */ }
}

/** Starts a session: from a plan day (the server makes the workout) or an empty one. */
async function startSession(plan, day) {
  const s = { client_id: newId(), started_at: new Date().toISOString(), exercises: [], plan: null };
  if (plan) {
    s.plan = { id: plan.id, day: day.n, name: day.name };
    for (const slot of day.slots) {
      s.exercises.push({
        slug: slot.exercise, name: slot.name || pretty(slot.exercise), measure: slot.measure || 'weight_reps',
        target: { sets: slot.sets, reps: slot.reps, rest_s: slot.rest_s },
        prefill: slot.next && slot.next.weight_kg !== null ? { weight: slot.next.weight_kg, reps: slot.next.reps } : null,
        sets: [],
      });
    }
    enqueue({ kind: 'workout', path: `/api/v1/plans/${plan.id}/days/${day.n}/start`, body: { client_id: s.client_id } });
  } else {
    enqueue({ kind: 'workout', path: '/api/v1/workouts', body: { client_id: s.client_id, started_at: s.started_at } });
  }
  save(S_KEY, s);
  await Promise.all(s.exercises.map(prefill));
  const fresh = load(S_KEY, s);
  fresh.exercises.forEach((ex, i) => { if (!ex.prefill && s.exercises[i].prefill) ex.prefill = s.exercises[i].prefill; });
  save(S_KEY, fresh);
  render();
}

function logSet(i, form) {
  const s = load(S_KEY, null);
  const ex = s && s.exercises[i];
  if (!ex) return;
  const weight = form.weight && form.weight.value !== '' ? Number(form.weight.value) : null;
  const reps = Number(form.reps.value);
  if (!(reps >= 1 && reps <= 1000) || (weight !== null && !(weight >= 0 && weight <= 1000))) {
    announce('Enter the reps (and the weight in kg) of the set first.');
    return;
  }
  const set = { client_id: newId(), weight, reps, status: 'queued', records: [] };
  ex.sets.push(set);
  ex.prefill = { weight, reps };
  save(S_KEY, s);
  const body = { client_id: set.client_id, exercise: ex.slug, reps };
  if (weight !== null) Object.assign(body, { weight, unit: 'kg' });
  enqueue({ kind: 'set', workout: s.client_id, body });
  startRest((ex.target && ex.target.rest_s) || 90);
  refresh();
  announce(`Set ${ex.sets.length} of ${ex.name} logged.`);
}

function finish() {
  const s = load(S_KEY, null);
  if (!s) return;
  enqueue({ kind: 'finish', workout: s.client_id, body: { ended_at: new Date().toISOString() } });
  localStorage.removeItem(S_KEY);
  clearInterval(restTimer);
  restEnd = 0;
  render();
  announce('Workout finished.');
}

function setRow(set, n) {
  const label = { queued: 'waiting to send', saved: 'saved', failed: 'not saved' }[set.status];
  return h('li', { class: `wk-set ${set.status}`, testid: 'logged-set', 'data-status': set.status },
    h('span', null, `Set ${n}: `, set.weight !== null ? `${kg(set.weight)} kg × ` : '', `${set.reps}`),
    h('span', { class: 'wk-state', testid: 'set-state' }, label),
    set.records && set.records.length ? h('span', { class: 'badge ok', testid: 'set-record' }, `PR: ${set.records.join(', ')}`) : null,
    set.error ? h('span', { class: 'small' }, set.error) : null);
}

function exerciseCard(ex, i) {
  const p = ex.prefill || {};
  const bodyweight = ex.measure === 'reps';
  const form = h('form', { class: 'wk-log', testid: 'log-form', onsubmit: (e) => { e.preventDefault(); logSet(i, form); } },
    bodyweight ? null : h('label', null, 'kg', h('input', { name: 'weight', type: 'number', inputmode: 'decimal', step: '0.5', min: '0', value: kg(p.weight), testid: 'log-weight' })),
    h('label', null, 'reps', h('input', { name: 'reps', type: 'number', inputmode: 'numeric', min: '1', value: p.reps || (ex.target ? ex.target.reps[0] : ''), testid: 'log-reps' })),
    h('button', { class: 'btn primary', type: 'submit', testid: 'log-set' }, 'Log set'));
  const t = ex.target;
  return h('article', { class: 'card wk-ex', testid: 'session-exercise', 'data-slug': ex.slug },
    h('h3', null, ex.name),
    t ? h('p', { class: 'small muted' }, `Target ${t.sets} × ${t.reps[0]}–${t.reps[1]}, rest ${t.rest_s} s`) : null,
    form,
    h('ol', { class: 'wk-sets' }, ex.sets.map((s, k) => setRow(s, k + 1))));
}

function sessionPanel(s) {
  const pending = load(Q_KEY, []).length;
  return h('section', { class: 'stack', testid: 'session' },
    h('h2', null, s.plan ? s.plan.name : 'Workout'),
    h('p', { class: 'small muted', testid: 'queue-state' }, pending ? `${pending} change${pending > 1 ? 's' : ''} waiting to be sent` : 'Everything is saved'),
    h('div', { class: 'wk-rest', testid: 'rest-timer', hidden: !restEnd, role: 'timer' },
      'Rest ', h('strong', { testid: 'rest-left' }, ''),
      h('button', { type: 'button', class: 'btn small', onclick: () => { restEnd = Date.now(); tickRest(); } }, 'Skip')),
    s.exercises.map(exerciseCard),
    h('button', { type: 'button', class: 'btn', testid: 'finish-workout', onclick: finish }, 'Finish workout'));
}

// ---- plans ----------------------------------------------------------------------------------

function select(name, label, options, value) {
  return h('label', { class: 'wk-field' }, label,
    h('select', { name, testid: `plan-${name}` }, options.map(([v, t]) => h('option', { value: v, selected: String(v) === String(value) }, t))));
}

function planView(plan) {
  return h('section', { class: 'stack', testid: 'plan' },
    h('h2', null, `Your plan: ${plan.days_per_week} days, ${pretty(plan.split)}`),
    h('ul', { class: 'small muted' }, plan.reasons.map((r) => h('li', null, r))),
    plan.days.map((day) => h('article', { class: 'card', testid: 'plan-day' },
      h('h3', null, `Day ${day.n}: ${day.name}`, h('span', { class: 'small muted' }, ` · about ${day.minutes} min`)),
      h('ol', { class: 'wk-slots' }, day.slots.map((s) => h('li', { testid: 'plan-slot' },
        h('strong', null, s.name), ` ${s.sets} × ${s.reps[0]}–${s.reps[1]}`,
        s.next && s.next.weight_kg !== null ? ` at ${kg(s.next.weight_kg)} kg` : '',
        h('span', { class: 'small muted wk-why' }, s.reason),
        s.alternative ? h('span', { class: 'small muted wk-why' }, s.alternative_reason) : null))),
      plan.id ? h('button', { type: 'button', class: 'btn primary', testid: 'start-day', onclick: () => startSession(plan, day) }, `Start day ${day.n}`) : null)),
    plan.id ? h('button', { type: 'button', class: 'btn', testid: 'share-plan', onclick: (e) => share('plan', plan.id, e.currentTarget) }, 'Share this plan') : null);
}

async function share(kind, id, btn) {
  try {
    const link = await api('/api/v1/shares', { method: 'POST', json: { kind, id } });
    const url = location.origin + link.url;
    btn.replaceWith(h('p', { class: 'small', testid: 'share-link' }, 'Read-only link: ', h('a', { href: link.url }, url)));
    announce('A read-only link was made.');
  } catch (e) {
    announce(humanError(e));
  }
}

async function gymOptions() {
  try {
    const gyms = (await api('/api/v1/gyms')).items || [];
    return gyms.map((g) => [`gym:${g.id}`, `${g.name} (${g.equipment.length} kinds of equipment)`]);
  } catch { return []; }
}

async function planForm(root) {
  const gyms = await gymOptions();
  const msg = h('p', { class: 'err', role: 'alert', testid: 'plan-error' });
  const form = h('form', { class: 'card wk-form', testid: 'plan-form' },
    h('h2', null, 'Make a plan'),
    select('goal', 'Goal', [['general', 'General fitness'], ['muscle', 'Build muscle'], ['strength', 'Get stronger']], 'general'),
    select('days', 'Days a week', [2, 3, 4, 5, 6].map((d) => [d, String(d)]), 3),
    select('minutes', 'Minutes a session', [30, 45, 60, 75, 90].map((m) => [m, String(m)]), 45),
    select('experience', 'Experience', [['beginner', 'Beginner'], ['intermediate', 'Intermediate'], ['advanced', 'Advanced']], 'beginner'),
    select('gym', 'Where', [...gyms, ['all', 'A full gym (everything)'], ['none', 'No equipment (bodyweight)']], gyms.length ? gyms[0][0] : 'all'),
    h('button', { class: 'btn primary', type: 'submit', testid: 'plan-generate' }, 'Make my plan'),
    msg);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    msg.textContent = '';
    const body = { client_id: newId(), goal: form.goal.value, days_per_week: Number(form.days.value),
      session_minutes: Number(form.minutes.value), experience: form.experience.value };
    const where = form.gym.value;
    if (where.startsWith('gym:')) body.gym_id = Number(where.slice(4));
    else body.equipment = where === 'all' ? (await catalogue()).equipment.map((q) => q.slug) : [];
    try {
      const plan = await api('/api/v1/plans/generate', { method: 'POST', json: body });
      save(PLAN_KEY, plan.id);
      render();
      announce('Your plan is ready.');
    } catch (err) {
      msg.textContent = humanError(err);
    }
  });
  return form;
}

// ---- progress -------------------------------------------------------------------------------

let charts = [];

function chartLib() {
  if (window.Chart) return Promise.resolve(window.Chart);
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = '/vendor/chart.umd.min.js';
    s.onload = () => resolve(window.Chart);
    s.onerror = () => reject(new Error('the chart library did not load'));
    document.head.append(s);
  });
}

function draw(canvas, config) {
  return chartLib().then((Chart) => { charts.push(new Chart(canvas, config)); });
}

async function progressView(root, slug, live) {
  const s = load(S_KEY, null);
  const known = new Set(s ? s.exercises.map((e) => e.slug) : []);
  const exs = (await api('/api/v1/exercises')).exercises || [];
  if (!live()) return;
  charts.forEach((c) => c.destroy());
  charts = [];
  const pick = slug || [...known][0] || 'barbell-bench-press';
  const chooser = h('select', { testid: 'progress-exercise', onchange: (e) => { location.hash = `#/workouts/progress/${e.target.value}`; } },
    exs.map((x) => h('option', { value: x.slug, selected: x.slug === pick }, x.name)));
  const line = h('canvas', { testid: 'chart-e1rm', 'aria-label': 'Estimated one-rep max by session', role: 'img' });
  const bars = h('canvas', { testid: 'chart-muscles', 'aria-label': 'Working sets per muscle this week', role: 'img' });
  const summary = h('p', { class: 'small muted', testid: 'progress-summary' });
  replace(root, h('section', { class: 'stack' },
    h('p', null, h('a', { href: '#/workouts' }, '← Workouts')),
    h('h2', null, 'Progress'),
    h('label', { class: 'wk-field' }, 'Exercise', chooser), summary,
    h('div', { class: 'wk-chart' }, line),
    h('h3', null, 'Working sets per muscle, this week'),
    h('div', { class: 'wk-chart' }, bars)));
  const [p, m] = await Promise.all([
    api(`/api/v1/progress/exercises/${encodeURIComponent(pick)}?weeks=52`),
    api('/api/v1/progress/muscles?weeks=4'),
  ]);
  if (!live()) return;
  const sessions = p.sessions || [];
  summary.textContent = sessions.length
    ? `${sessions.length} session${sessions.length > 1 ? 's' : ''}; best estimated one-rep max ${kg(p.e1rm_best_kg)} kg`
    : 'Nothing logged for this exercise yet.';
  const week = (m.weeks || [])[m.weeks.length - 1] || { sets: {} };
  const muscles = Object.keys(week.sets);
  await Promise.all([
    draw(line, { type: 'line', data: { labels: sessions.map((x) => x.started_at.slice(0, 10)),
      datasets: [{ label: 'e1RM (kg)', data: sessions.map((x) => x.e1rm_kg), borderColor: '#0a6b52', backgroundColor: '#0a6b52', yAxisID: 'y', tension: 0.2 },
        { label: 'Volume (kg)', data: sessions.map((x) => x.volume_kg), borderColor: '#1f5fd6', backgroundColor: '#1f5fd6', yAxisID: 'volume' }] },
    options: { animation: false, maintainAspectRatio: false,
      scales: { y: { position: 'left', beginAtZero: true, title: { display: true, text: 'e1RM kg' } },
        volume: { axis: 'y', position: 'right', beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: 'volume kg' } } } } }),
    draw(bars, { type: 'bar', data: { labels: muscles.map(pretty),
      datasets: [{ label: 'Sets', data: muscles.map((k) => week.sets[k]), backgroundColor: '#0a6b52' }] },
    options: { animation: false, maintainAspectRatio: false, indexAxis: 'y' } }),
  ]);
  root.dataset.drawn = String(charts.length);
}

// ---- shared links (public) ------------------------------------------------------------------

export async function showShared(token) {
  loadStyles();
  const root = $('#shared-root');
  replace(root, h('p', { class: 'lead' }, 'Loading…'));
  try {
    const doc = await api(`/api/v1/shared/${encodeURIComponent(token || '')}`, { bare: true });
    if (doc.kind === 'plan') {
      replace(root, planView(doc.plan));
    } else {
      const w = doc.workout;
      replace(root, h('section', { class: 'card', testid: 'shared-workout' },
        h('h2', null, `Workout of ${w.started_at.slice(0, 10)}`),
        w.notes ? h('p', null, w.notes) : null,
        h('ol', null, w.sets.map((s) => h('li', { testid: 'shared-set' }, pretty(s.exercise), ': ',
          s.weight_kg !== null && s.weight_kg !== undefined ? `${kg(s.weight_kg)} kg × ` : '', s.reps !== null ? `${s.reps}` : '')))));
    }
  } catch (e) {
    replace(root, h('p', { class: 'err', testid: 'shared-error' }, e instanceof ApiError && e.status === 404
      ? 'This link does not exist or its owner has revoked it.' : humanError(e)));
  }
}

// ---- "I have this here" --------------------------------------------------------------------

/** Fills el with a button that puts equipment slug into your gym (a new "My gym" if none). */
export async function haveItHere(el, slug) {
  if ((required() && !signedIn()) || navigator.onLine === false) { el.remove(); return; }
  let gyms;
  try { gyms = (await api('/api/v1/gyms')).items || []; } catch { el.remove(); return; }
  const gym = gyms[0];
  const has = (g) => g && g.equipment.some((q) => q.slug === slug);
  const done = (g) => replace(el, h('span', { class: 'badge ok', testid: 'have-it-done' }, `✓ At ${g.name}`));
  if (has(gym)) { done(gym); return; }
  const btn = h('button', { type: 'button', class: 'btn small', testid: 'have-it-button' }, gym ? `I have this at ${gym.name}` : 'I have this at my gym');
  btn.addEventListener('click', async () => {
    btn.disabled = true;
    try {
      const g = gym
        ? await api(`/api/v1/gyms/${gym.id}/equipment/${encodeURIComponent(slug)}`, { method: 'PUT' })
        : await api('/api/v1/gyms', { method: 'POST', json: { client_id: newId(), name: 'My gym', equipment: [slug] } });
      done(g);
      announce(`Added to ${g.name}.`);
    } catch (e) {
      btn.disabled = false;
      announce(humanError(e));
    }
  });
  replace(el, btn);
}

// ---- the view -------------------------------------------------------------------------------

let sub = null;
let gen = 0; // a newer render makes an older one's answers moot

async function render() {
  const root = $('#workouts-root');
  const my = ++gen;
  if (!root || document.documentElement.dataset.view !== 'workouts') return;
  if (sub && sub.startsWith('progress')) {
    try { await progressView(root, sub.split('/')[1], () => my === gen); } catch (e) { if (my === gen) replace(root, h('p', { class: 'err' }, humanError(e))); }
    return;
  }
  const s = load(S_KEY, null);
  const parts = [];
  if (s) parts.push(sessionPanel(s));
  else parts.push(h('p', null, h('button', { type: 'button', class: 'btn', testid: 'start-empty', onclick: () => startSession(null, null) }, 'Start an empty workout'),
    ' ', h('a', { href: '#/workouts/progress', class: 'btn', testid: 'nav-progress' }, 'Progress')));
  const planId = load(PLAN_KEY, null);
  if (!s && planId) {
    try { parts.push(planView(await api(`/api/v1/plans/${planId}`))); } catch { localStorage.removeItem(PLAN_KEY); }
  }
  if (!s) parts.push(await planForm(root));
  if (my !== gen) return;
  replace(root, ...parts);
  tickRest();
}

/** Shows the saved state of the logged sets and the queue without touching the forms. */
function refresh() {
  const s = load(S_KEY, null);
  const panel = $('[data-testid="session"]');
  if (!s || !panel || sub) return;
  const pending = load(Q_KEY, []).length;
  $('[data-testid="queue-state"]', panel).textContent = pending ? `${pending} change${pending > 1 ? 's' : ''} waiting to be sent` : 'Everything is saved';
  panel.querySelectorAll('[data-testid="session-exercise"]').forEach((card, i) => {
    const ex = s.exercises[i];
    if (ex) replace($('.wk-sets', card), ex.sets.map((x, k) => setRow(x, k + 1)));
  });
}

function loadStyles() {
  if (document.querySelector('link[href="/workouts.css"]')) return;
  document.head.append(h('link', { rel: 'stylesheet', href: '/workouts.css' }));
}

export function showWorkouts(subpath) {
  loadStyles();
  sub = subpath;
  onChange = refresh;
  render();
  flush();
}

window.addEventListener('online', () => flush());
