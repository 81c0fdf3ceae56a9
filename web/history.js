// History view: recent identifications, newest first, 20 at a time ("Load more" pages with
// next_before). Rows carry no thumbnails: the server keeps hashes, not photos.
import { api, catalogue, humanError, ApiError } from './api.js';
import { h, $, replace, announce, pct, pretty, timeEl } from './ui.js';
import { required, isAdmin, username } from './account.js';

const PAGE = 20;
let gen = 0; // a newer load makes an older one's answer moot

function nameOf(slug, cat) {
  const e = cat && cat.bySlug.get(slug);
  return e ? e.name : pretty(slug);
}

function row(it, cat) {
  const eq = it.equipment;
  // The corrected equipment: {slug, name} (corrected_equipment), or just its slug (corrected_slug).
  const ce = it.corrected_equipment || (it.corrected_slug ? { slug: it.corrected_slug, name: nameOf(it.corrected_slug, cat) } : null);
  const fixed = it.corrected && ce && (!eq || eq.slug !== ce.slug) ? ce : null;
  const shown = fixed || eq;
  const cache = it.cached ? 'Cached' + (it.cache_layer ? ` · ${it.cache_layer}` : '') : 'Fresh';
  return h('li', { class: 'hrow', testid: 'history-row', 'data-id': it.id, tabindex: '-1' },
    h('span', { class: 'eq' },
      shown ? h('a', { href: `#/catalogue/${encodeURIComponent(shown.slug)}`, testid: 'history-equipment' }, shown.name || nameOf(shown.slug, cat))
        : h('span', { class: 'muted' }, 'Not identified'),
      it.corrected ? h('span', { class: 'badge ok', style: 'margin-left:.4rem;font-size:.75rem' }, 'corrected') : null,
      fixed ? h('span', { class: 'small muted', style: 'display:block;font-weight:400' },
        'first answer: ' + (eq ? eq.name : 'not identified')) : null),
    h('span', { class: 'conf' }, h('span', { class: 'vh' }, 'Confidence: '), it.identified && !it.confidence ? '—' : pct(it.confidence)),
    h('span', { class: 'meta' },
      h('span', null, h('span', { class: 'vh' }, 'Cache: '), cache),
      h('span', null, h('span', { class: 'vh' }, 'Provider: '), [it.provider, it.model].filter(Boolean).join(' · ') || '—'),
      h('span', null, h('span', { class: 'vh' }, 'When: '), timeEl(it.created_at))));
}

export async function showHistory({ focus } = {}) {
  const root = $('#history-root');
  const my = ++gen;
  const list = h('ol', { class: 'hist', 'aria-label': 'Recent identifications', testid: 'history-list' });
  const more = h('button', { type: 'button', class: 'btn', testid: 'history-more', hidden: true }, 'Load more');
  const msg = h('p', { class: 'muted', role: 'status', testid: 'history-status' }, 'Loading…');
  const refresh = h('button', { type: 'button', class: 'btn small', testid: 'history-refresh', onclick: () => showHistory({ focus: false }) }, 'Refresh');
  const head = h('div', { class: 'hrow', 'aria-hidden': 'true', style: 'background:none;border:0;padding-top:0;padding-bottom:0', hidden: true },
    h('span', { class: 'small muted' }, 'Equipment'), h('span', { class: 'small muted' }, 'Confidence'),
    h('span', { class: 'meta' }, h('span', null, 'Cache'), h('span', null, 'Provider'), h('span', null, 'When')));
  replace(root, h('div', { class: 'row', style: 'justify-content:space-between' },
    h('p', { class: 'lead', style: 'margin:0' }, required() ? 'Your photos, newest first.' : 'Photos identified on this server, newest first.'), refresh), msg, head, list, more);
  if (focus) $('#h-history').focus();
  let cat = null;
  catalogue().then((c) => { cat = c; }, () => {});
  let before = null;
  if (navigator.onLine === false) {
    msg.textContent = 'You’re offline. History needs a connection to the server.';
    msg.className = 'notice';
    return;
  }
  const load = async () => {
    more.disabled = true;
    more.setAttribute('aria-busy', 'true');
    try {
      // an account's own history (the server keeps users to theirs; an admin asks for theirs)
      const mine = isAdmin() && username() ? `&user=${encodeURIComponent(username())}` : '';
      const q = `/api/v1/identifications?limit=${PAGE}${mine}` + (before !== null ? `&before=${encodeURIComponent(before)}` : '');
      const page = await api(q);
      if (my !== gen) return;
      try { cat = cat || (await catalogue()); } catch { /* names from the answer itself */ }
      const items = page.items || [];
      list.append(...items.map((it) => row(it, cat)));
      before = page.next_before ?? null;
      more.hidden = before === null || items.length === 0;
      const n = list.children.length;
      head.hidden = n === 0 || !matchMedia('(min-width:720px)').matches;
      msg.textContent = n ? `${n} shown${more.hidden ? '' : ' — more below'}.` : 'Nothing identified yet. Identify a photo and it will show up here.';
      if (items.length && list.children.length > items.length) {
        list.children[list.children.length - items.length].focus();
        announce(`${items.length} more loaded`);
      }
    } catch (e) {
      if (my !== gen) return;
      if (e instanceof ApiError && e.status === 404 && before === null) {
        msg.textContent = 'History isn’t available on this server yet.';
      } else {
        msg.textContent = 'History couldn’t be loaded. ' + humanError(e);
      }
      msg.className = 'err';
      more.hidden = true;
    } finally {
      more.disabled = false;
      more.removeAttribute('aria-busy');
    }
  };
  more.addEventListener('click', load);
  await load();
}
