// GymHelper service worker (scope "/"). Precaches the app shell so the app opens offline, and
// keeps the last copy of GET /api/v1/equipment[/...] for browsing the catalogue offline.
// It handles GETs only, and only those paths: POSTs (analyze, feedback), identifications,
// health and cache stats always go straight to the network and are never stored.
const VERSION = 'v4';
const SHELL_CACHE = `gymhelper-shell-${VERSION}`;
const DATA_CACHE = `gymhelper-data-${VERSION}`;
const SHELL = [
  '/', '/boot.js', '/app.css', '/app.js', '/api.js', '/ui.js', '/identify.js', '/picker.js', '/catalogue.js',
  '/history.js', '/status.js', '/quality.js', '/account.js', '/account.css', '/review.js', '/workouts.js', '/workouts.css', '/manifest.webmanifest', '/icons/icon.svg', '/icons/icon-192.png',
  '/icons/icon-512.png',
];
const NETWORK_TIMEOUT_MS = 4000;

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches.open(SHELL_CACHE)
      .then((c) => c.addAll(SHELL.map((u) => new Request(u, { cache: 'reload' }))))
      // The catalogue too, so it browses offline even if the app never fetched it while online
      // under this worker; a failure here is not fatal (it is stored on the next fetch).
      .then(() => caches.open(DATA_CACHE).then((c) => c.add('/api/v1/equipment')).catch(() => {}))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('gymhelper-') && k !== SHELL_CACHE && k !== DATA_CACHE).map((k) => caches.delete(k))))
      .then(() => self.registration.navigationPreload && self.registration.navigationPreload.enable())
      .then(() => self.clients.claim()),
  );
});

/** The network's answer (stored when it is a 200), else after a timeout or failure the stored copy. */
async function networkFirst(request, cacheName, key, preload) {
  const cache = await caches.open(cacheName);
  const fromNet = Promise.resolve(preload).then((pre) => pre || fetch(request)).then((res) => {
    if (res.status === 200) cache.put(key || request, res.clone()).catch(() => {});
    return res;
  });
  fromNet.catch(() => {}); // a late failure after the cached copy was served is not an error
  const timeout = new Promise((resolve) => setTimeout(resolve, NETWORK_TIMEOUT_MS));
  try {
    const res = await Promise.race([fromNet, timeout.then(() => undefined)]);
    if (res) return res;
    const hit = await cache.match(key || request);
    return hit || (await fromNet);
  } catch (err) {
    const hit = await cache.match(key || request);
    if (hit) return hit;
    throw err;
  }
}

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return; // never touch POSTs
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  const p = url.pathname;
  if (p === '/api/v1/equipment' || p.startsWith('/api/v1/equipment/')) {
    event.respondWith(networkFirst(req, DATA_CACHE));
    return;
  }
  if (p.startsWith('/api/')) return; // identifications, health, stats: live only
  if (req.mode === 'navigate') {
    if (p === '/' || p === '/index.html') event.respondWith(networkFirst(req, SHELL_CACHE, '/', event.preloadResponse));
    else event.respondWith(Promise.resolve(event.preloadResponse).then((pre) => pre || fetch(req))); // e.g. /docs: untouched
    return;
  }
  if (SHELL.includes(p)) event.respondWith(networkFirst(req, SHELL_CACHE, p));
});
