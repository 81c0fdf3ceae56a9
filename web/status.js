// Status view (the testing dashboard): service health, the AI provider, the cache's hit rate per
// layer, provider calls, tokens, and an estimate of the money the cache saved.
import { api, ApiError, humanError } from './api.js';
import { h, $, replace, pct, pretty, timeEl } from './ui.js';
import { qualityPanel } from './quality.js';

export const COST_PER_CALL = 0.01; // USD per provider call: an assumption, shown as such
const REFRESH_MS = 15000;
let timer = 0;
let gen = 0;

const num = (n) => (typeof n === 'number' && Number.isFinite(n) ? n.toLocaleString() : '—');
const usd = (n) => n.toLocaleString(undefined, { style: 'currency', currency: 'USD', minimumFractionDigits: 2 });
const kv = (pairs) => h('dl', { class: 'kv' }, pairs.filter(Boolean).map(([k, v, testid]) => [h('dt', null, k), h('dd', { testid }, v)]));
const panel = (title, ...body) => h('section', { class: 'panel', 'aria-label': title }, h('h2', null, title), ...body);

function when(v) {
  if (v === null || v === undefined || v === '') return '—';
  const iso = typeof v === 'number' ? new Date(v * (v < 1e12 ? 1000 : 1)).toISOString() : String(v);
  return timeEl(iso);
}

async function get(path) {
  try {
    return { ok: true, data: await api(path) };
  } catch (e) {
    // /health answers 503 with its usual body when the service is unavailable.
    if (e instanceof ApiError && e.problem && typeof e.problem.status === 'string') return { ok: true, data: e.problem };
    return { ok: false, error: e };
  }
}

function healthPanel(hl) {
  const cls = hl.status === 'ok' ? 'ok' : hl.status === 'degraded' ? 'warn' : 'bad';
  const word = { ok: 'Healthy', degraded: 'Degraded', unavailable: 'Unavailable' }[hl.status] || pretty(hl.status || 'unknown');
  const p = hl.provider || {}, st = hl.store || {}, cat = hl.catalogue || {};
  return [
    panel('Service',
      h('p', null, h('span', { class: `badge ${cls}`, testid: 'health-status', 'data-status': hl.status || '' }, word)),
      kv([
        ['Version', hl.version || '—', 'version'],
        ['Store', `${st.backend || '—'} · ${st.ok ? 'OK' : 'not OK'}`, 'store'],
        ['Catalogue', cat.version ? `${cat.version} · ${num(cat.equipment)} entries` : '—', 'catalogue-version'],
        hl.redis ? ['Redis', hl.redis === 'disabled' ? 'not configured' : `${hl.redis}${hl.redis_detail && hl.redis_detail !== 'ok' ? ` · ${hl.redis_detail}` : ''}`] : null,
        typeof hl.uptime_s === 'number' ? ['Up for', dur(hl.uptime_s)] : null,
      ])),
    panel('AI provider',
      h('p', null, h('span', { class: `badge ${p.ready ? 'ok' : 'bad'}`, testid: 'provider-ready' }, p.ready ? 'Ready' : 'Not ready')),
      kv([
        ['Provider', p.name || 'none', 'provider-name'],
        ['Model', p.model || '—', 'provider-model'],
        ['Detail', p.detail || '—', 'provider-detail'],
      ])),
  ];
}

function dur(s) {
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} days`;
}

function cachePanels(c) {
  const L = c.layers || {};
  const names = ['memory', 'redis', 'exact', 'near', 'visual', 'coalesced'];
  const hits = names.reduce((a, k) => a + ((L[k] && L[k].hits) || 0), 0);
  const req = c.requests || 0;
  const hist = c.history || {}, tok = c.tokens || {};
  const label = { memory: 'Memory', redis: 'Redis (shared)', exact: 'Exact photo', near: 'Near-identical photo', visual: 'Visual memory (same machine)', coalesced: 'Coalesced' };
  const saved = hits * COST_PER_CALL;
  const stored = typeof hist.stored_hits === 'number' ? hist.stored_hits : null;
  return [
    panel('Cache',
      h('p', { class: 'big', testid: 'hit-rate' }, pct(c.hit_rate), h('span', { class: 'small muted', style: 'font-weight:400' }, ' hit rate')),
      h('table', { class: 'layers', testid: 'layer-table' },
        h('caption', { class: 'vh' }, 'Cache hits by layer since the server started'),
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Layer'), h('th', { scope: 'col' }, 'Hits'), h('th', { scope: 'col' }, 'Share of requests'))),
        h('tbody', null,
          names.map((k) => {
            const n = (L[k] && L[k].hits) || 0;
            return h('tr', { 'data-layer': k }, h('th', { scope: 'row' }, label[k]), h('td', null, num(n)), h('td', null, req ? pct(n / req) : '—'));
          }),
          h('tr', null, h('th', { scope: 'row' }, 'Misses'), h('td', null, num(c.misses)), h('td', null, req ? pct((c.misses || 0) / req) : '—')))),
      kv([
        ['Entries', `${num(c.entries)} (${num(c.live_entries)} live, ${num(c.expired)} expired)`, 'cache-entries'],
        ['Requests', num(c.requests)],
        ['Provider errors', num(c.provider_errors)],
        ['Oldest entry', when(c.oldest)],
        ['Newest entry', when(c.newest)],
        ['Backend', c.backend || '—'],
      ])),
    panel('Usage',
      kv([
        ['Provider calls', num(hist.provider_calls), 'provider-calls'],
        ['Identifications', num(hist.identifications)],
        ['Prompt tokens', num(tok.prompt), 'tokens-prompt'],
        ['Completion tokens', num(tok.completion), 'tokens-completion'],
        ['Total tokens', num((tok.prompt || 0) + (tok.completion || 0))],
      ])),
    panel('Estimated cost saved',
      h('p', { class: 'big', testid: 'cost-saved' }, usd(saved)),
      h('p', { class: 'small' },
        `Estimate: ${num(hits)} cache hit${hits === 1 ? '' : 's'} since the server started × an assumed ${usd(COST_PER_CALL)} per provider call avoided. ` +
        'Real prices depend on the model, the image size and the tokens used.'),
      stored !== null ? h('p', { class: 'small muted' }, `All stored cache entries together have been hit ${num(stored)} times (≈ ${usd(stored * COST_PER_CALL)} at the same assumed price).`) : null),
  ];
}

export async function showStatus({ focus } = {}) {
  const my = ++gen;
  clearTimeout(timer);
  const root = $('#status-root');
  if (!root.dataset.ready) {
    root.dataset.ready = '1';
    replace(root, h('p', { class: 'muted' }, 'Loading…'));
  }
  if (focus) $('#h-status').focus();
  if (navigator.onLine === false) {
    replace(root, h('p', { class: 'notice', testid: 'status-offline' }, 'You’re offline. The status panel needs a connection to the server.'));
    root.dataset.ready = '';
    return;
  }
  const [hr, cr, qr] = await Promise.all([get('/api/v1/health'), get('/api/v1/cache/stats'), get('/api/v1/quality')]);
  if (my !== gen || document.documentElement.dataset.view !== 'status') return;
  const had = root.contains(document.activeElement) ? document.activeElement.dataset.testid : null;
  const updated = new Date();
  const refresh = h('button', { type: 'button', class: 'btn small', testid: 'status-refresh', onclick: () => showStatus() }, 'Refresh');
  replace(root,
    h('div', { class: 'row', style: 'justify-content:space-between;margin-bottom:1rem' },
      h('p', { class: 'small muted', style: 'margin:0', testid: 'status-updated' },
        `Updated ${updated.toLocaleTimeString()} · refreshes every ${REFRESH_MS / 1000} s`), refresh),
    h('div', { class: 'stats' },
      hr.ok ? healthPanel(hr.data) : panel('Service', h('p', { class: 'err', role: 'alert' }, 'Health check failed. ' + humanError(hr.error))),
      cr.ok ? cachePanels(cr.data) : panel('Cache', h('p', { class: 'err', role: 'alert' }, 'Cache statistics couldn’t be loaded. ' + humanError(cr.error))),
      qr.ok ? qualityPanel(qr.data) : null));
  if (had) { const el = root.querySelector(`[data-testid="${had}"]`); if (el) el.focus(); }
  timer = setTimeout(() => { if (document.visibilityState === 'visible') showStatus(); else timer = 0; }, REFRESH_MS);
}

export function stopStatus() {
  clearTimeout(timer);
  gen++;
}
