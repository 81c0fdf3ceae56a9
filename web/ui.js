// DOM helpers, formatting and the equipment card shared by the views. Text is always set with
// textContent (never innerHTML), so catalogue and server strings cannot inject markup.
import { loadedCatalogue } from './api.js';

/** h('p', {class: 'x', onclick: fn}, 'text', child, [more]) → element. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'testid') el.dataset.testid = v;
    else if (k === 'style') el.style.cssText = v; // CSSOM: the CSP allows no style attributes
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  add(el, children);
  return el;
}

function add(el, kids) {
  for (const c of kids) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) add(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

export const norm = (s) => String(s || '').toLowerCase().normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/[^a-z0-9]+/g, ' ').trim();

/** Does the entry match every word of the query (in its name, aliases or slug)? */
export function matches(e, q) {
  if (!q) return true;
  if (!e._hay) e._hay = norm([e.name, e.slug, ...(e.aliases || [])].join(' '));
  return q.split(' ').every((w) => e._hay.includes(w));
}

export const $ = (sel, root = document) => root.querySelector(sel);

export function replace(root, ...children) {
  root.replaceChildren();
  add(root, children);
}

let liveTimer = 0;
/** Says something through the polite live region (progress, results, errors). */
export function announce(text) {
  const live = document.getElementById('live');
  clearTimeout(liveTimer);
  live.textContent = '';
  liveTimer = setTimeout(() => { live.textContent = text; }, 50); // a change, even when repeated
}

export const pct = (x) => `${Math.round(Math.max(0, Math.min(1, Number(x) || 0)) * 100)}%`;

/** "front_delts" → "Front delts". */
export const pretty = (s) => {
  const t = String(s || '').replace(/[_-]+/g, ' ').trim();
  return t.charAt(0).toUpperCase() + t.slice(1);
};

export function categoryLabel(id, cat = loadedCatalogue()) {
  return (cat && cat.categoryName && cat.categoryName.get(id)) || pretty(id);
}

const rtf = typeof Intl !== 'undefined' && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' }) : null;

export function ago(iso) {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return String(iso || '');
  const s = Math.round((t - Date.now()) / 1000);
  const a = Math.abs(s);
  if (!rtf) return new Date(t).toLocaleString();
  if (a < 45) return rtf.format(0, 'second') === 'now' ? 'just now' : rtf.format(s, 'second');
  if (a < 2700) return rtf.format(Math.round(s / 60), 'minute');
  if (a < 79200) return rtf.format(Math.round(s / 3600), 'hour');
  if (a < 86400 * 6) return rtf.format(Math.round(s / 86400), 'day');
  return new Date(t).toLocaleDateString();
}

export function timeEl(iso) {
  const t = Date.parse(iso);
  return h('time', { datetime: iso, title: Number.isFinite(t) ? new Date(t).toLocaleString() : null }, ago(iso));
}

export const CACHE_LAYERS = {
  memory: 'in-memory cache',
  redis: 'shared Redis cache',
  exact: 'exact photo match',
  near: 'near-identical photo',
  coalesced: 'shared with a simultaneous request',
};

export function cacheText(r) {
  if (!r.cached) return 'Fresh analysis';
  const layer = r.cache && r.cache.layer;
  return 'From cache' + (layer ? ` (${CACHE_LAYERS[layer] || layer})` : '');
}

/** A link taken from an answer is followed only when it is http: or https:. */
export function safeHref(url) {
  try {
    const u = new URL(String(url));
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : null;
  } catch {
    return null;
  }
}

function videoLabel(url) {
  try {
    const u = new URL(url);
    const q = u.searchParams.get('search_query') || u.searchParams.get('q');
    const host = u.hostname.replace(/^www\./, '');
    if (q) return `Videos: “${q}” on ${host}`;
    return `Video on ${host}`;
  } catch {
    return url;
  }
}

const MEASURES = { weight_reps: 'weight × reps', reps: 'reps', time: 'time', distance: 'distance' };

/** The exercises done with a piece of equipment ({slug, name, pattern, measure} each). */
function exercisesSection(exercises) {
  if (!exercises || !exercises.length) return null;
  return section(exercises.length === 1 ? 'Exercise' : `Exercises (${exercises.length})`,
    h('ul', { class: 'exercises', testid: 'exercises' }, exercises.map((x) => h('li', { testid: 'exercise', 'data-slug': x.slug },
      h('span', null, x.name),
      h('span', { class: 'small muted' }, ` · ${pretty(x.pattern)}, ${MEASURES[x.measure] || pretty(x.measure)}`)))));
}

const list = (items, ordered, cls) => h(ordered ? 'ol' : 'ul', { class: cls }, (items || []).map((t) => h('li', null, t)));

function section(title, ...body) {
  return h('section', null, h('h3', null, title), ...body);
}

/**
 * The equipment card. opts: {testid, nameTestid, cat, confidence, cacheText, corrected (string),
 * note, photo (URL of the person's photo), foot (nodes appended at the bottom)}.
 */
export function renderCard(e, opts = {}) {
  const idBase = 'c-' + e.slug + '-' + Math.random().toString(36).slice(2, 7);
  const badges = [];
  if (opts.corrected) badges.push(h('span', { class: 'badge ok', testid: 'corrected-badge' }, opts.corrected));
  if (opts.confidence !== undefined && opts.confidence !== null) {
    badges.push(h('span', { class: 'badge', testid: 'confidence' }, `${pct(opts.confidence)} confident`));
  }
  if (opts.cacheText) badges.push(h('span', { class: 'badge', testid: 'cache-status' }, opts.cacheText));
  const rx = e.beginner_prescription;
  const muscles = [];
  if (e.primary_muscles && e.primary_muscles.length) {
    muscles.push(h('p', { class: 'small muted', style: 'margin:0' }, 'Primary'),
      h('ul', { class: 'chips primary', testid: 'primary-muscles' }, e.primary_muscles.map((m) => h('li', null, pretty(m)))));
  }
  if (e.secondary_muscles && e.secondary_muscles.length) {
    muscles.push(h('p', { class: 'small muted', style: 'margin:0' }, 'Secondary'),
      h('ul', { class: 'chips', testid: 'secondary-muscles' }, e.secondary_muscles.map((m) => h('li', null, pretty(m)))));
  }
  return h('article', { class: 'card', testid: opts.testid || 'equipment-card', 'aria-labelledby': idBase, 'data-slug': e.slug },
    opts.photo ? h('img', { class: 'thumb photo', src: opts.photo, alt: 'Your photo' }) : null,
    h('p', { class: 'eyebrow' }, categoryLabel(e.category, opts.cat)),
    h('h2', { id: idBase, tabindex: '-1', testid: opts.nameTestid || 'equipment-name' }, e.name),
    e.aliases && e.aliases.length ? h('p', { class: 'small muted' }, 'Also called: ' + e.aliases.join(', ')) : null,
    badges.length ? h('div', { class: 'badges' }, badges) : null,
    opts.confidence !== undefined && opts.confidence !== null
      ? h('div', { class: 'meter', 'aria-hidden': 'true' }, h('span', { style: `width:${pct(opts.confidence)}` }))
      : null,
    opts.note ? h('p', { class: 'notice', style: 'margin-top:.75rem', testid: 'card-note' }, opts.note) : null,
    e.description ? h('p', { style: 'margin-top:.75rem' }, e.description) : null,
    muscles.length ? section('Muscles worked', muscles) : null,
    exercisesSection(e.exercises),
    rx ? section('Beginner prescription',
      h('dl', { class: 'rx', testid: 'prescription' },
        h('div', null, h('dt', null, 'Sets'), h('dd', null, String(rx.sets ?? '—'))),
        h('div', null, h('dt', null, 'Reps'), h('dd', null, String(rx.reps ?? '—'))),
        h('div', null, h('dt', null, 'Rest'), h('dd', null, rx.rest_seconds ? `${rx.rest_seconds} s` : '—'))),
      rx.notes ? h('p', { class: 'small' }, rx.notes) : null) : null,
    e.setup && e.setup.length ? section('Set up', list(e.setup, false)) : null,
    e.instructions && e.instructions.length ? section('How to do it', h('ol', { class: 'steps', testid: 'steps' }, e.instructions.map((t) => h('li', null, t)))) : null,
    e.safety_tips && e.safety_tips.length ? section('Safety tips', h('div', { class: 'safety' }, list(e.safety_tips, false))) : null,
    e.common_mistakes && e.common_mistakes.length ? section('Common mistakes', list(e.common_mistakes, false)) : null,
    e.video_urls && e.video_urls.length ? section('Videos',
      h('ul', null, e.video_urls.map((u) => h('li', null, safeHref(u)
        ? h('a', { href: safeHref(u), target: '_blank', rel: 'noopener noreferrer', testid: 'video-link' }, videoLabel(u),
          h('span', { class: 'vh' }, ' (opens in a new tab)'))
        : h('span', { testid: 'video-text' }, String(u)))))) : null,
    haveItHere(e.slug),
    opts.foot || null);
}

/** "I have this here" (workouts.js fills it in: it adds the equipment to your gym). */
function haveItHere(slug) {
  const el = h('p', { class: 'wk-have', testid: 'have-it-here' });
  import('./workouts.js').then((m) => m.haveItHere(el, slug)).catch(() => el.remove());
  return el;
}
