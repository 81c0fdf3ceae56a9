// The gymhelper HTTP API: JSON fetches, the photo upload (XMLHttpRequest, for upload progress)
// and turning application/problem+json answers into sentences a person can act on.

export class ApiError extends Error {
  constructor(status, problem, message) {
    super(message || (problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;          // 0: no answer (offline, server down, aborted)
    this.problem = problem || null; // {title, status, code, detail} when the server sent one
    this.code = (problem && problem.code) || null;
  }
}

const cap = (s) => (s ? s.charAt(0).toUpperCase() + s.slice(1) : s);
const dot = (s) => (/[.!?]$/.test(s) ? s : s + '.');

/**
 * One sentence (or two) explaining what went wrong, from the problem `detail` when there is one.
 * photo: the request carried a photo (the 4xx answers are then about that photo).
 */
export function humanError(err, { photo = false } = {}) {
  if (!(err instanceof ApiError)) return 'Something went wrong: ' + (err && err.message ? err.message : String(err));
  const detail = err.problem && err.problem.detail ? dot(cap(err.problem.detail)) : '';
  switch (err.status) {
    case 0:
      return navigator.onLine === false
        ? 'You’re offline. Connect to the internet and try again.'
        : 'Couldn’t reach the GymHelper server. Check your connection and try again.';
    case 400: case 415: case 422:
      if (!photo) return detail || `The request was refused (HTTP ${err.status}).`;
      return 'That photo couldn’t be used. ' + (detail || 'Try a clear JPEG, PNG or WebP photo.');
    case 413:
      if (!photo) return detail || 'The request was too large.';
      return 'That photo is too large. ' + (detail || 'Try a smaller one.');
    case 429:
      return 'Too many requests right now. ' + (detail || 'Wait a moment and try again.');
    case 502: case 504:
      return 'The identification service didn’t answer properly, so nothing was identified. Please try again in a moment.' +
        (detail ? ' (' + detail + ')' : '');
    case 503:
      return 'Identification isn’t available on this server right now. ' + (detail || '');
    default:
      return detail || `The server answered with an error (HTTP ${err.status}).`;
  }
}

async function parse(res) {
  const type = res.headers.get('content-type') || '';
  let body = null;
  if (type.includes('json')) {
    try { body = await res.json(); } catch { body = null; }
  }
  return body;
}

// Accounts (account.js) plug in here: ready settles once the session is known on page load,
// header() is the Authorization value (or null), renew() spends the refresh cookie once (true
// when a new access token came), ended() says the session is over (back to sign-in).
let auth = { ready: Promise.resolve(), header: () => null, renew: async () => false, ended: () => {} };

/** account.js installs its session hooks (any subset of ready, header, renew, ended). */
export function setAuth(hooks) {
  auth = { ...auth, ...hooks };
}

/**
 * GET or POST JSON; resolves with the parsed body, rejects with ApiError. A 401 is answered by
 * one refresh of the access token and one retry; bare: none of that (the /api/v1/auth/ calls),
 * the Authorization value given as token if any.
 */
export async function api(path, { method = 'GET', json, signal, bare = false, token: given = null } = {}) {
  if (!bare) await auth.ready;
  for (let attempt = 0; ; attempt++) {
    const init = { method, headers: { Accept: 'application/json, application/problem+json' }, signal };
    const token = bare ? given : auth.header();
    if (token) init.headers.Authorization = token;
    if (json !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(json);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      if (e && e.name === 'AbortError') throw e;
      throw new ApiError(0, null, 'network error');
    }
    const body = await parse(res);
    if (res.status === 401 && !bare) {
      if (attempt === 0 && (await auth.renew())) continue;
      auth.ended();
    }
    if (!res.ok) throw new ApiError(res.status, body && typeof body === 'object' ? body : null);
    return body;
  }
}

/**
 * Uploads an image for identification. onProgress(fraction) while the bytes go up, onUploaded()
 * once they are all sent (the server is identifying then). Returns {promise, abort}.
 */
export function analyze(blob, { onProgress, onUploaded, timeoutMs = 120000 } = {}) {
  let xhr = null;
  let aborted = false;
  const abortError = () => { const e = new Error('aborted'); e.name = 'AbortError'; return e; };
  const send = (attempt, resolve, reject) => {
    if (aborted) { reject(abortError()); return; }
    xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/v1/analyze');
    xhr.responseType = 'text';
    xhr.timeout = timeoutMs;
    xhr.setRequestHeader('Accept', 'application/json, application/problem+json');
    const token = auth.header();
    if (token) xhr.setRequestHeader('Authorization', token);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable && onProgress) onProgress(e.loaded / e.total); };
    xhr.upload.onload = () => { if (onUploaded) onUploaded(); };
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { body = null; }
      if (xhr.status >= 200 && xhr.status < 300 && body) { resolve(body); return; }
      if (xhr.status === 401) { // one refresh of the access token, one more upload
        auth.renew().then((ok) => {
          if (ok && attempt === 0) { send(1, resolve, reject); return; }
          auth.ended();
          reject(new ApiError(401, body));
        }, () => reject(new ApiError(401, body)));
        return;
      }
      reject(new ApiError(xhr.status, body, body ? undefined : `HTTP ${xhr.status}`));
    };
    xhr.onerror = () => reject(new ApiError(0, null, 'network error'));
    xhr.ontimeout = () => reject(new ApiError(504, { detail: 'the server took too long to answer' }));
    xhr.onabort = () => reject(abortError());
    const form = new FormData();
    form.append('file', blob, blob.name || 'photo.jpg');
    xhr.send(form);
  };
  const promise = new Promise((resolve, reject) => {
    Promise.resolve(auth.ready).then(() => send(0, resolve, reject), () => send(0, resolve, reject));
  });
  return { promise, abort: () => { aborted = true; if (xhr) xhr.abort(); } };
}

let cataloguePromise = null;
let loaded = null;

/** The catalogue if it has been fetched already (for labels), else null. */
export const loadedCatalogue = () => loaded;

/** The whole catalogue, fetched once per page load (the service worker keeps a copy for offline use). */
export function catalogue() {
  if (!cataloguePromise) {
    cataloguePromise = api('/api/v1/equipment').then((d) => {
      d.bySlug = new Map(d.equipment.map((e) => [e.slug, e]));
      d.categoryName = new Map(d.categories.map((c) => [c.id, c.name]));
      loaded = d;
      return d;
    });
    cataloguePromise.catch(() => { cataloguePromise = null; }); // try again next time
  }
  return cataloguePromise;
}

export const feedback = (id, slug) =>
  api(`/api/v1/identifications/${encodeURIComponent(id)}/feedback`, { method: 'POST', json: { slug } });
