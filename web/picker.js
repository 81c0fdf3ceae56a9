// "Not this? Pick the right one": a modal dialog with a type-to-filter list over the catalogue.
// Escape closes it, Tab stays inside it, focus goes back to the button that opened it.
import { catalogue, humanError } from './api.js';
import { h, announce, categoryLabel, norm, matches } from './ui.js';

let dlg = null;

function build() {
  const search = h('input', {
    id: 'picker-search', class: 'field', type: 'search', testid: 'picker-search', autocomplete: 'off',
    spellcheck: 'false', 'aria-controls': 'picker-list', 'aria-describedby': 'picker-count',
    placeholder: 'e.g. leg press, pec deck',
  });
  const count = h('p', { id: 'picker-count', class: 'small muted', 'aria-live': 'polite', style: 'margin:.4rem 0 0' });
  const listEl = h('ul', { id: 'picker-list', class: 'opts', 'aria-label': 'Equipment' });
  const err = h('p', { class: 'err', role: 'alert', testid: 'picker-error' });
  const close = h('button', { type: 'button', class: 'x', 'aria-label': 'Close', testid: 'picker-close' }, '×');
  const d = h('dialog', { id: 'picker', testid: 'picker', 'aria-labelledby': 'picker-title', 'aria-describedby': 'picker-help' },
    h('div', { class: 'dlg' },
      h('div', { class: 'dlg-head' }, h('h2', { id: 'picker-title' }, 'Pick the right equipment'), close),
      h('div', { style: 'padding:0 1rem' },
        h('p', { id: 'picker-help', class: 'small muted' }, 'Your choice corrects this photo’s answer for everyone who uploads it.'),
        h('label', { for: 'picker-search', style: 'font-weight:600;display:block;margin-bottom:.2rem' }, 'Search by name'),
        search, count, err),
      h('div', { class: 'dlg-body' }, listEl)));
  document.body.append(d);
  close.addEventListener('click', () => d.close());
  // Focus trap: showModal() makes the page inert, but Tab would still leave for the browser UI.
  d.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') { // the native cancel is skipped by some browsers without a fresh user gesture
      ev.preventDefault();
      d.close();
    } else if (ev.key === 'Tab') {
      const f = [...d.querySelectorAll('button:not([disabled]),input:not([disabled]),[href],[tabindex]:not([tabindex="-1"])')]
        .filter((x) => x.offsetParent !== null);
      if (!f.length) return;
      const first = f[0], last = f[f.length - 1];
      if (ev.shiftKey && document.activeElement === first) { ev.preventDefault(); last.focus(); }
      else if (!ev.shiftKey && document.activeElement === last) { ev.preventDefault(); first.focus(); }
    } else if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      const opts = [...listEl.querySelectorAll('button')];
      if (!opts.length) return;
      const i = opts.indexOf(document.activeElement);
      ev.preventDefault();
      if (ev.key === 'ArrowDown') opts[Math.min(opts.length - 1, i + 1)].focus();
      else if (i <= 0) search.focus();
      else opts[i - 1].focus();
    } else if (ev.key === 'Enter' && document.activeElement === search) {
      const first = listEl.querySelector('button');
      if (first) { ev.preventDefault(); first.click(); }
    }
  });
  // Clicking the backdrop (outside the box) closes too.
  d.addEventListener('click', (ev) => { if (ev.target === d) d.close(); });
  return { d, search, count, listEl, err };
}

/**
 * Opens the picker. onPick(entry) is awaited while the options are disabled; if it throws, its
 * message is shown in the dialog and the dialog stays open; otherwise the dialog closes.
 */
export async function openPicker({ onPick, exclude, opener }) {
  if (!dlg) dlg = build();
  const { d, search, count, listEl, err } = dlg;
  const back = opener || document.activeElement;
  err.textContent = '';
  search.value = '';
  listEl.replaceChildren(h('li', { class: 'muted' }, 'Loading the catalogue…'));
  d.onclose = () => { if (back && back.isConnected) back.focus(); };
  if (!d.open) d.showModal();
  search.focus();
  let cat;
  try {
    cat = await catalogue();
  } catch (e) {
    listEl.replaceChildren();
    err.textContent = 'The catalogue couldn’t be loaded. ' + humanError(e);
    return;
  }
  let busy = false;
  const render = () => {
    const q = norm(search.value);
    const items = cat.equipment.filter((e) => e.slug !== exclude && matches(e, q));
    count.textContent = items.length === 1 ? '1 match' : `${items.length} matches`;
    listEl.replaceChildren(...items.map((e) => h('li', null,
      h('button', { type: 'button', class: 'choice', testid: 'picker-option', 'data-slug': e.slug },
        h('span', null, e.name), h('small', null, categoryLabel(e.category, cat))))));
  };
  search.oninput = render;
  listEl.onclick = async (ev) => {
    const b = ev.target.closest('button[data-slug]');
    if (!b || busy) return;
    busy = true;
    err.textContent = '';
    const all = listEl.querySelectorAll('button');
    all.forEach((x) => { x.disabled = true; });
    b.setAttribute('aria-busy', 'true');
    announce('Saving your correction…');
    try {
      await onPick(cat.bySlug.get(b.dataset.slug));
      d.onclose = null; // the caller moves focus to the corrected card
      d.close();
    } catch (e) {
      err.textContent = humanError(e);
      all.forEach((x) => { x.disabled = false; });
      b.removeAttribute('aria-busy');
      b.focus();
    } finally {
      busy = false;
    }
  };
  render();
}
