// Identify view: photo in (file picker, camera, drag-and-drop, paste), shrunk on the device,
// uploaded with progress, then the result card with alternatives and the correction picker.
import { analyze, feedback, humanError, catalogue, loadedCatalogue, ApiError } from './api.js';
import { h, $, replace, announce, renderCard, cacheText, pct, categoryLabel } from './ui.js';

const MAX_SIDE = 1600;
const JPEG_QUALITY = 0.85;

let job = null;      // the upload in flight: {abort}
let gen = 0;         // bumped per photo (and on cancel): older work that finishes late is dropped
let thumbUrl = null; // object URL of the photo being shown
const work = () => $('#work');

// ---- preparing the photo -------------------------------------------------------------------

async function decode(file) {
  if (typeof createImageBitmap === 'function') {
    try { return await createImageBitmap(file, { imageOrientation: 'from-image' }); } catch { /* next */ }
    try { return await createImageBitmap(file); } catch { /* next */ }
  }
  const url = URL.createObjectURL(file);
  try {
    const img = new Image();
    img.src = url;
    await img.decode(); // <img> applies EXIF orientation itself
    return img;
  } finally {
    setTimeout(() => URL.revokeObjectURL(url), 0);
  }
}

/**
 * A JPEG of the photo, upright, at most 1600 px on its longest side. When the browser can't
 * decode it (HEIC on some desktops, a damaged file) the original goes up and the server's answer
 * says what is wrong with it.
 */
export async function prepareImage(file) {
  let src;
  try { src = await decode(file); } catch { return file; }
  const w0 = src.width || src.naturalWidth, h0 = src.height || src.naturalHeight;
  if (!w0 || !h0) return file;
  const s = Math.min(1, MAX_SIDE / Math.max(w0, h0));
  const w = Math.max(1, Math.round(w0 * s)), hh = Math.max(1, Math.round(h0 * s));
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = hh;
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#fff'; // transparent PNGs: white, not black, behind them
  ctx.fillRect(0, 0, w, hh);
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(src, 0, 0, w, hh);
  if (src.close) src.close();
  const blob = await new Promise((res) => canvas.toBlob(res, 'image/jpeg', JPEG_QUALITY));
  canvas.width = canvas.height = 0;
  if (!blob) return file;
  return new File([blob], 'photo.jpg', { type: 'image/jpeg' });
}

// ---- the flow ------------------------------------------------------------------------------

function showError(msg, retryFile) {
  const kids = [h('p', { style: 'margin:0' }, msg)];
  if (retryFile) kids.push(h('div', { class: 'row', style: 'margin-top:.6rem' },
    h('button', { type: 'button', class: 'btn small', testid: 'retry', onclick: () => identify(retryFile) }, 'Try again')));
  const box = h('div', { class: 'err', role: 'alert', testid: 'error' }, kids);
  replace(work(), box);
}

function progressPanel(blobForThumb) {
  if (thumbUrl) URL.revokeObjectURL(thumbUrl);
  thumbUrl = blobForThumb ? URL.createObjectURL(blobForThumb) : null;
  const text = h('p', { id: 'progress-text', testid: 'progress-text' }, 'Preparing your photo…');
  const bar = h('progress', { max: '100', testid: 'progress', 'aria-labelledby': 'progress-text' });
  const cancel = h('button', { type: 'button', class: 'btn small', testid: 'cancel' }, 'Cancel');
  const panel = h('div', { class: 'panel', testid: 'progress-panel', 'aria-busy': 'true' },
    h('div', { class: 'work-head' },
      thumbUrl ? h('img', { class: 'thumb', src: thumbUrl, alt: 'Your photo' }) : null,
      h('div', { class: 'progress' }, text, bar),
      cancel));
  return { panel, text, bar, cancel };
}

export async function identify(file) {
  if (!file) return;
  const my = ++gen;
  if (job) { job.abort(); job = null; }
  if (navigator.onLine === false) {
    showError('You’re offline. Identifying a photo needs a connection — try again once you’re back online.');
    return;
  }
  if (file.type && !file.type.startsWith('image/')) {
    showError(`That file isn’t a photo (${file.type}). Choose a JPEG, PNG or WebP image.`);
    return;
  }
  const p = progressPanel(null);
  replace(work(), p.panel);
  announce('Preparing your photo');
  p.cancel.onclick = () => {
    gen++;
    if (job) { job.abort(); job = null; }
    replace(work());
    announce('Cancelled');
    $('#file-input').focus();
  };
  const blob = await prepareImage(file);
  if (my !== gen) return;
  const p2 = progressPanel(blob);
  p2.cancel.onclick = p.cancel.onclick;
  replace(work(), p2.panel);
  p2.text.textContent = 'Uploading… 0%';
  p2.bar.value = 0;
  announce('Uploading your photo');
  const mine = analyze(blob, {
    onProgress: (f) => {
      p2.bar.value = Math.round(f * 100);
      p2.text.textContent = `Uploading… ${Math.round(f * 100)}%`;
    },
    onUploaded: () => {
      p2.bar.removeAttribute('value'); // indeterminate while the server works
      p2.text.textContent = 'Identifying…';
      announce('Photo uploaded. Identifying…');
    },
  });
  job = mine;
  let r;
  try {
    r = await mine.promise;
  } catch (e) {
    if (job === mine) job = null;
    if ((e && e.name === 'AbortError') || my !== gen) return;
    const msg = humanError(e, { photo: true });
    showError(msg, e instanceof ApiError && [0, 500, 502, 504].includes(e.status) ? file : null);
    announce(msg);
    return;
  }
  if (my !== gen) return; // a newer photo replaced this one
  job = null;
  showResult(r);
}

// ---- results -------------------------------------------------------------------------------

function metaLine(r) {
  const bits = [];
  if (r.provider) bits.push(`by ${r.provider}${r.model ? ' · ' + r.model : ''}`);
  if (typeof r.processing_time_ms === 'number') bits.push(`in ${r.processing_time_ms < 10 ? r.processing_time_ms.toFixed(1) : Math.round(r.processing_time_ms)} ms`);
  if (r.request_id) bits.push(`request ${r.request_id}`);
  return bits.length ? h('p', { class: 'small muted', style: 'margin:.75rem 0 0', testid: 'result-meta' }, 'Answered ' + bits.join(', ')) : null;
}

function choiceList(items, testid, r, cat) {
  return h('ul', { class: 'choices' }, items.map((a) => h('li', null,
    h('button', {
      type: 'button', class: 'choice', testid, 'data-slug': a.slug,
      onclick: (ev) => pickFromList(ev.currentTarget, r, a.slug),
    }, h('span', null, a.name || a.slug), h('small', null, pct(a.confidence))))));
}

function footButtons(r) {
  return h('div', { class: 'card-foot' },
    h('button', { type: 'button', class: 'btn', testid: 'not-this', onclick: (ev) => openCorrection(r, ev.currentTarget) },
      r.identified && r.equipment ? 'Not this? Pick the right one' : 'Pick it from the catalogue'),
    h('button', { type: 'button', class: 'btn', testid: 'another', onclick: another }, 'Identify another photo'));
}

function another() {
  window.scrollTo({ top: 0, behavior: 'smooth' });
  $('#file-input').focus();
}

export function showResult(r, { corrected, note, picked } = {}) {
  let card;
  if (r.identified && r.equipment) {
    const alts = (r.alternatives || []).filter((a) => a.slug !== r.equipment.slug);
    card = renderCard(r.equipment, {
      testid: 'result-card', nameTestid: 'result-name',
      confidence: corrected || picked ? null : r.confidence,
      cacheText: corrected || picked ? null : cacheText(r),
      corrected: corrected || (r.corrected ? 'Corrected by a person' : null),
      note: note || r.note || null,
      photo: thumbUrl,
      foot: [
        !corrected && !picked && alts.length ? h('section', { testid: 'alternatives' }, h('h3', null, 'Could also be'),
          h('p', { class: 'small muted' }, 'Tap one if it’s the right one.'), choiceList(alts, 'alternative', r)) : null,
        footButtons(r),
        corrected || picked ? null : metaLine(r),
      ],
    });
    announce(corrected || picked
      ? (corrected ? `Thanks — corrected. This is ${r.equipment.name}.` : `Showing ${r.equipment.name}. The correction wasn’t saved.`)
      : `Identified: ${r.equipment.name}, ${pct(r.confidence)} confident${r.cached ? ', from the cache' : ''}.`);
  } else {
    const cands = r.candidates || [];
    card = h('article', { class: 'card', testid: 'result-card', 'aria-labelledby': 'nf-title' },
      thumbUrl ? h('img', { class: 'thumb photo', src: thumbUrl, alt: 'Your photo' }) : null,
      h('p', { class: 'eyebrow' }, 'Not identified'),
      h('h2', { id: 'nf-title', tabindex: '-1', testid: 'result-name' }, 'We’re not sure what this is'),
      h('div', { class: 'badges' },
        h('span', { class: 'badge warn', testid: 'confidence' }, `${pct(r.confidence)} confident`),
        h('span', { class: 'badge', testid: 'cache-status' }, cacheText(r))),
      h('p', null, r.note ? capital(r.note) + '.' : 'The photo didn’t match any equipment in the catalogue closely enough.'),
      cands.length
        ? h('section', { testid: 'candidates' }, h('h3', null, 'Is it one of these?'), choiceList(cands, 'candidate', r))
        : h('p', { class: 'muted' }, 'Try a photo of the whole machine in good light, or pick it from the catalogue.'),
      footButtons(r),
      metaLine(r));
    announce(`Not identified. ${cands.length ? 'Pick one of ' + cands.length + ' suggestions, or choose from the catalogue.' : 'Try another photo or pick from the catalogue.'}`);
  }
  replace(work(), card);
  if (r.equipment && !loadedCatalogue()) { // category names (and the picker) come with the catalogue
    catalogue().then(() => {
      const eb = card.querySelector('.eyebrow');
      if (eb && card.isConnected) eb.textContent = categoryLabel(r.equipment.category);
    }, () => {});
  }
  const head = card.querySelector('h2');
  head.focus({ preventScroll: true });
  card.scrollIntoView({ block: 'start', behavior: 'smooth' });
}

const capital = (s) => s.charAt(0).toUpperCase() + s.slice(1).replace(/\.$/, '');

/** Records the correction; resolves once the corrected card is shown. Throws to keep the picker open. */
async function correct(r, entry) {
  const id = r.identification_id;
  let res;
  try {
    if (id === undefined || id === null) throw new ApiError(404, { code: 'no_identification_id', detail: 'this server doesn’t record corrections yet' });
    res = await feedback(id, entry.slug);
  } catch (e) {
    // The server can't attach the correction (older server, or the analysis is gone): still
    // show what the person picked, and say plainly that it wasn't saved.
    if (e instanceof ApiError && e.status === 404) {
      const full = await fullEntry(entry);
      showResult({ ...r, identified: true, equipment: full, alternatives: [] },
        { picked: true, note: `Showing ${full.name}, as you picked. Your correction couldn’t be saved: ${humanError(e).replace(/\.$/, '')}.` });
      return;
    }
    throw e;
  }
  const eq = (res && res.equipment) || (await fullEntry(entry));
  showResult({ ...r, identified: true, equipment: eq, corrected: true, alternatives: [] }, { corrected: 'Thanks — corrected' });
}

async function fullEntry(e) {
  if (e.instructions) return e;
  try { return (await catalogue()).bySlug.get(e.slug) || e; } catch { return e; }
}

async function pickFromList(btn, r, slug) {
  const buttons = btn.closest('ul').querySelectorAll('button');
  buttons.forEach((b) => { b.disabled = true; });
  announce('Saving your correction…');
  try {
    let entry;
    try { entry = (await catalogue()).bySlug.get(slug); } catch { entry = null; }
    await correct(r, entry || { slug, name: slug });
  } catch (e) {
    buttons.forEach((b) => { b.disabled = false; });
    const msg = 'Couldn’t save your correction. ' + humanError(e);
    btn.closest('section').append(h('p', { class: 'err', role: 'alert', testid: 'error' }, msg));
  }
}

async function openCorrection(r, opener) {
  const { openPicker } = await import('./picker.js');
  openPicker({ opener, exclude: r.identified && r.equipment ? r.equipment.slug : null, onPick: (entry) => correct(r, entry) });
}

// ---- inputs --------------------------------------------------------------------------------

function setOffline(off) {
  $('#offline-note').hidden = !off;
  for (const id of ['file-input', 'camera-input']) {
    const input = document.getElementById(id);
    input.disabled = off;
    const label = document.querySelector(`label[for="${id}"]`);
    if (off) label.setAttribute('aria-disabled', 'true'); else label.removeAttribute('aria-disabled');
  }
}

const hasFiles = (dt) => dt && Array.from(dt.types || []).includes('Files');

export function initIdentify({ go }) {
  for (const id of ['file-input', 'camera-input']) {
    const input = document.getElementById(id);
    input.addEventListener('change', () => {
      const f = input.files && input.files[0];
      input.value = ''; // choosing the same file again fires change again
      if (f) identify(f);
    });
  }
  const drop = $('#drop');
  let depth = 0;
  document.addEventListener('dragenter', (e) => { if (hasFiles(e.dataTransfer)) { depth++; drop.classList.add('over'); } });
  document.addEventListener('dragleave', (e) => { if (hasFiles(e.dataTransfer) && --depth <= 0) { depth = 0; drop.classList.remove('over'); } });
  document.addEventListener('dragover', (e) => {
    if (!hasFiles(e.dataTransfer)) return;
    e.preventDefault(); // otherwise the browser navigates to the dropped file
    e.dataTransfer.dropEffect = 'copy';
  });
  document.addEventListener('drop', (e) => {
    if (!hasFiles(e.dataTransfer)) return;
    e.preventDefault();
    depth = 0;
    drop.classList.remove('over');
    const f = Array.from(e.dataTransfer.files).find((x) => !x.type || x.type.startsWith('image/')) || e.dataTransfer.files[0];
    if (f) { go('identify', { quiet: true }); identify(f); }
  });
  document.addEventListener('paste', (e) => {
    const items = Array.from((e.clipboardData && e.clipboardData.items) || []);
    const item = items.find((i) => i.kind === 'file' && i.type.startsWith('image/'));
    if (!item) return; // text pastes into search boxes stay untouched
    const f = item.getAsFile();
    if (!f) return;
    e.preventDefault();
    go('identify', { quiet: true });
    identify(f);
  });
  const net = () => setOffline(navigator.onLine === false);
  window.addEventListener('online', net);
  window.addEventListener('offline', net);
  net();
}
