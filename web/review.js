// "Review corrections" (admins, AUTH_MODE=required): the corrections waiting for a decision
// (GET /api/v1/corrections?status=pending, 20 at a time, "Load more" with next), each with
// Accept (it becomes the shared answer for that photo) and Reject
// (POST /api/v1/corrections/{id}/accept|reject answers the correction as it now stands).
import { api, catalogue, humanError, ApiError } from './api.js';
import { h, $, replace, announce, pretty, timeEl } from './ui.js';

const PAGE = 20;
const STATUSES = { pending: 'Waiting for review', accepted: 'Accepted', rejected: 'Rejected', applied: 'Applied' };
let gen = 0;

function nameOf(slug, cat) {
  if (!slug) return 'not identified';
  const e = cat && cat.bySlug.get(slug);
  return e ? e.name : pretty(slug);
}

function row(c, cat, decide) {
  const msg = h('span', { class: 'small', role: 'status', testid: 'review-result' });
  const accept = h('button', { type: 'button', class: 'btn small primary', testid: 'review-accept' }, 'Accept');
  const reject = h('button', { type: 'button', class: 'btn small', testid: 'review-reject' }, 'Reject');
  const li = h('li', { class: 'rv-item', testid: 'review-item', 'data-id': c.id, 'data-status': c.status },
    h('p', { class: 'rv-what' },
      h('strong', { testid: 'review-slug', 'data-slug': c.slug }, nameOf(c.slug, cat)),
      h('span', { class: 'muted' }, ' instead of '),
      h('span', { testid: 'review-previous' }, nameOf(c.previous_slug, cat))),
    h('p', { class: 'small muted rv-meta' },
      h('span', null, 'by ', h('span', { testid: 'review-user' }, c.user || '—')),
      h('span', { testid: 'review-votes' }, `${c.votes} ${c.votes === 1 ? 'vote' : 'votes'}`),
      h('span', { title: c.sha256 }, 'photo ', h('code', null, String(c.sha256 || '').slice(0, 12))),
      timeEl(c.created_at)),
    c.status === 'pending' ? h('div', { class: 'row' }, accept, reject, msg) : h('p', { class: 'small' }, STATUSES[c.status] || c.status));
  const go = async (verb, btn) => {
    accept.disabled = reject.disabled = true;
    btn.setAttribute('aria-busy', 'true');
    try {
      const done = await decide(c.id, verb);
      li.dataset.status = done.status;
      msg.textContent = done.status === 'accepted' ? 'Accepted: now the shared answer for this photo.' : 'Rejected.';
      accept.hidden = reject.hidden = true;
      announce(msg.textContent);
    } catch (e) {
      msg.textContent = humanError(e);
      msg.className = 'small err';
      accept.disabled = reject.disabled = false;
    } finally {
      btn.removeAttribute('aria-busy');
    }
  };
  accept.addEventListener('click', () => go('accept', accept));
  reject.addEventListener('click', () => go('reject', reject));
  return li;
}

const decide = (id, verb) => api(`/api/v1/corrections/${encodeURIComponent(id)}/${verb}`, { method: 'POST', json: {} });

/** Shows the review page (route #/review). */
export async function showReview({ focus } = {}) {
  const root = $('#review-root');
  const my = ++gen;
  const list = h('ol', { class: 'rv-list', 'aria-label': 'Corrections waiting for review', testid: 'review-list' });
  const msg = h('p', { class: 'muted', role: 'status', testid: 'review-status' }, 'Loading…');
  const more = h('button', { type: 'button', class: 'btn', testid: 'review-more', hidden: true }, 'Load more');
  const refresh = h('button', { type: 'button', class: 'btn small', testid: 'review-refresh' }, 'Refresh');
  refresh.addEventListener('click', () => showReview({ focus: false }));
  replace(root, h('div', { class: 'row', style: 'justify-content:space-between' },
    h('p', { class: 'lead', style: 'margin:0' }, 'Corrections by users that change no one else’s answer until you accept them.'), refresh),
  msg, list, more);
  if (focus) $('#h-review').focus();
  let cat = null;
  try { cat = await catalogue(); } catch { /* slugs are shown as names */ }
  let before = null;
  const load = async () => {
    more.disabled = true;
    try {
      const q = `/api/v1/corrections?status=pending&limit=${PAGE}` + (before !== null ? `&before=${encodeURIComponent(before)}` : '');
      const page = await api(q);
      if (my !== gen) return;
      const items = page.items || [];
      list.append(...items.map((c) => row(c, cat, decide)));
      before = page.next ?? null;
      more.hidden = before === null || items.length === 0;
      const n = list.children.length;
      msg.textContent = n ? `${n} waiting${more.hidden ? '' : ' — more below'}.` : 'Nothing waiting for review.';
    } catch (e) {
      if (my !== gen) return;
      msg.className = 'err';
      msg.textContent = e instanceof ApiError && e.status === 404
        ? 'This server has no review of corrections yet.'
        : 'Corrections couldn’t be loaded. ' + humanError(e);
      more.hidden = true;
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener('click', load);
  await load();
}
