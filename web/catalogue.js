// Catalogue view: search by name or alias, filter by category and muscle (the options come from
// the data), and each entry's card at #/catalogue/{slug}. Filtering happens here, on the whole
// catalogue, so it works offline from the service worker's copy.
import { catalogue, humanError } from './api.js';
import { h, $, replace, announce, renderCard, pretty, categoryLabel, norm, matches } from './ui.js';

/** "Exercises: Leg Press, Leg Press Calf Raise" (the first three, then "+N more"). */
function exercisesLine(xs) {
  const names = xs.slice(0, 3).map((x) => x.name).join(', ');
  return `Exercises: ${names}${xs.length > 3 ? ` +${xs.length - 3} more` : ''}`;
}

let ui = null;     // built once: {listWrap, detail, search, category, muscle, count, grid}
let lastSlug = null;

function build(cat) {
  const root = $('#catalogue-root');
  const byCat = new Map();
  const muscles = new Set();
  for (const e of cat.equipment) {
    byCat.set(e.category, (byCat.get(e.category) || 0) + 1);
    for (const m of [...(e.primary_muscles || []), ...(e.secondary_muscles || [])]) muscles.add(m);
  }
  const search = h('input', {
    id: 'catalogue-search', class: 'field', type: 'search', testid: 'catalogue-search',
    autocomplete: 'off', spellcheck: 'false', placeholder: 'Name or alias, e.g. pec deck', 'aria-controls': 'catalogue-list',
  });
  const category = h('select', { id: 'category-filter', class: 'field', testid: 'category-filter', 'aria-controls': 'catalogue-list' },
    h('option', { value: '' }, 'All categories'),
    cat.categories.filter((c) => byCat.has(c.id)).map((c) => h('option', { value: c.id }, `${c.name} (${byCat.get(c.id)})`)));
  const muscle = h('select', { id: 'muscle-filter', class: 'field', testid: 'muscle-filter', 'aria-controls': 'catalogue-list' },
    h('option', { value: '' }, 'All muscles'),
    [...muscles].sort((a, b) => pretty(a).localeCompare(pretty(b))).map((m) => h('option', { value: m }, pretty(m))));
  const count = h('p', { class: 'small muted', role: 'status', testid: 'catalogue-count' });
  const grid = h('ul', { id: 'catalogue-list', class: 'grid', 'aria-label': 'Equipment' });
  const clear = h('button', { type: 'button', class: 'btn small', testid: 'catalogue-clear', hidden: true }, 'Clear filters');
  const listWrap = h('div', { testid: 'catalogue-browse' },
    h('p', { class: 'lead' }, `${cat.count ?? cat.equipment.length} pieces of equipment, with set-up, steps and safety tips for each.`),
    h('div', { class: 'filters', role: 'search', 'aria-label': 'Filter the catalogue' },
      h('div', null, h('label', { for: 'catalogue-search' }, 'Search'), search),
      h('div', null, h('label', { for: 'category-filter' }, 'Category'), category),
      h('div', null, h('label', { for: 'muscle-filter' }, 'Muscle'), muscle)),
    h('div', { class: 'row', style: 'justify-content:space-between;margin-bottom:.5rem' }, count, clear),
    grid);
  const detail = h('div', { testid: 'catalogue-detail', hidden: true });
  replace(root, listWrap, detail);
  const apply = () => filter(cat);
  search.addEventListener('input', apply);
  category.addEventListener('change', apply);
  muscle.addEventListener('change', apply);
  clear.addEventListener('click', () => { search.value = ''; category.value = ''; muscle.value = ''; apply(); search.focus(); });
  ui = { listWrap, detail, search, category, muscle, count, grid, clear };
  filter(cat);
}

function filter(cat) {
  const q = norm(ui.search.value), c = ui.category.value, m = ui.muscle.value;
  const items = cat.equipment.filter((e) => (!c || e.category === c) &&
    (!m || (e.primary_muscles || []).includes(m) || (e.secondary_muscles || []).includes(m)) && matches(e, q));
  ui.grid.replaceChildren(...items.map((e) => h('li', null,
    h('a', { class: 'item', href: `#/catalogue/${encodeURIComponent(e.slug)}`, testid: 'catalogue-item', 'data-slug': e.slug },
      h('strong', null, e.name),
      h('span', null, categoryLabel(e.category, cat)),
      (e.primary_muscles || []).length ? h('span', null, 'Works: ' + e.primary_muscles.map(pretty).join(', ')) : null,
      (e.exercises || []).length ? h('span', { testid: 'catalogue-item-exercises' }, exercisesLine(e.exercises)) : null))));
  const filtered = q || c || m;
  ui.clear.hidden = !filtered;
  ui.count.textContent = items.length
    ? (filtered ? `${items.length} of ${cat.equipment.length} shown` : `${items.length} shown`)
    : 'Nothing matches. Try fewer words or clear the filters.';
}

export async function showCatalogue(slug, { focus } = {}) {
  let cat;
  try {
    cat = await catalogue();
  } catch (e) {
    const offline = navigator.onLine === false;
    replace($('#catalogue-root'), h('div', { class: 'err', role: 'alert', testid: 'error' },
      h('p', null, offline
        ? 'The catalogue isn’t saved on this device yet. Open it once while online and it will work offline afterwards.'
        : 'The catalogue couldn’t be loaded. ' + humanError(e)),
      h('button', { type: 'button', class: 'btn small', onclick: () => showCatalogue(slug, { focus: true }) }, 'Try again')));
    ui = null;
    return;
  }
  if (!ui || !ui.listWrap.isConnected) build(cat);
  if (slug) {
    const e = cat.bySlug.get(slug);
    ui.listWrap.hidden = true;
    ui.detail.hidden = false;
    if (!e) {
      replace(ui.detail, h('p', { class: 'err', role: 'alert' }, `There is no “${slug}” in the catalogue.`),
        h('a', { class: 'btn small', href: '#/catalogue' }, '← Back to the catalogue'));
      return;
    }
    lastSlug = slug;
    const card = renderCard(e, {
      cat, testid: 'equipment-card', nameTestid: 'equipment-name',
      foot: h('div', { class: 'card-foot' }, h('a', { class: 'btn', href: '#/catalogue', testid: 'catalogue-back' }, '← Back to the catalogue')),
    });
    replace(ui.detail, h('p', null, h('a', { href: '#/catalogue' }, '← All equipment')), card);
    card.querySelector('h2').focus({ preventScroll: true });
    window.scrollTo(0, 0);
    announce(`${e.name}`);
    return;
  }
  ui.detail.hidden = true;
  ui.listWrap.hidden = false;
  if (lastSlug) {
    const a = ui.grid.querySelector(`a[data-slug="${CSS.escape(lastSlug)}"]`);
    lastSlug = null;
    if (a) { a.focus(); a.scrollIntoView({ block: 'center' }); return; }
  }
  if (focus) $('#h-catalogue').focus();
}
