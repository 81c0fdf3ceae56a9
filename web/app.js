// GymHelper web app: hash routes (#/identify, #/catalogue[/slug], #/history, #/status,
// #/account, #/review), the online/offline indicator and the service worker. Views other than
// Identify load on first use; account.js puts a sign-in page in front of views that need one.
import { initIdentify } from './identify.js';
import { initAccount, gate, showAccount } from './account.js';

const VIEWS = { identify: 'Identify', catalogue: 'Catalogue', history: 'History', status: 'Status', account: 'Account', review: 'Review corrections', workouts: 'Workouts', shared: 'Shared' };
const root = document.documentElement;
let firstRoute = true;
let statusMod = null;
let wanted = null; // the view a sign-in page stands in front of, shown once signed in

function parse() {
  const m = /^#\/([a-z]+)(?:\/([^?#]*))?/.exec(location.hash);
  const view = m && VIEWS[m[1]] ? m[1] : 'identify';
  let sub = null;
  if (m && m[2]) { try { sub = decodeURIComponent(m[2]); } catch { sub = null; } }
  return { view, sub };
}

async function route(ev) {
  const asked = parse();
  const { sub } = asked;
  const view = gate(asked.view);
  if (view !== asked.view) wanted = `#/${asked.view}`;
  const focus = !firstRoute && !(ev && ev.quiet); // on page load the focus stays at the top, as usual
  firstRoute = false;
  root.dataset.view = view;
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === view) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  document.title = `${VIEWS[view]} · GymHelper`;
  if (view !== 'status' && statusMod) statusMod.stopStatus();
  if (focus && view !== 'catalogue') window.scrollTo(0, 0);
  switch (view) {
    case 'identify':
      if (focus) document.getElementById('h-identify').focus();
      break;
    case 'catalogue':
      (await import('./catalogue.js')).showCatalogue(sub, { focus });
      break;
    case 'history':
      (await import('./history.js')).showHistory({ focus });
      break;
    case 'status':
      statusMod = await import('./status.js');
      statusMod.showStatus({ focus });
      break;
    case 'account':
      showAccount({ focus });
      break;
    case 'review':
      (await import('./review.js')).showReview({ focus });
      break;
    case 'workouts':
      (await import('./workouts.js')).showWorkouts(sub);
      break;
    case 'shared':
      (await import('./workouts.js')).showShared(sub);
      break;
  }
}

/** Switches view (used when a photo is dropped or pasted outside the Identify view). */
function go(view) {
  if (parse().view !== view) location.hash = `#/${view}`;
}

function net(ev) {
  document.getElementById('net').hidden = navigator.onLine !== false;
  // Views that need the server show their data again once the connection is back.
  if (ev && ev.type === 'online' && (root.dataset.view === 'history' || root.dataset.view === 'status')) route({ quiet: true });
}

window.addEventListener('hashchange', route);
window.addEventListener('online', net);
window.addEventListener('offline', net);
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && root.dataset.view === 'status' && statusMod) statusMod.showStatus();
});
/** The session changed (signed in: go where the sign-in page stood in front of). */
function accountChanged(signedIn) {
  if (signedIn && wanted && wanted !== location.hash) {
    location.hash = wanted;
    wanted = null;
  } else {
    wanted = signedIn ? null : wanted;
    route({ quiet: !signedIn });
  }
}

initIdentify({ go });
net();
initAccount({ changed: accountChanged }).then(route).finally(() => {
  root.dataset.app = 'ready'; // browser tests wait for <html data-app="ready">
});

if ('serviceWorker' in navigator && window.isSecureContext) {
  const register = () => navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch((e) => {
    console.warn('GymHelper: offline support unavailable:', e && e.message ? e.message : e);
  });
  if (document.readyState === 'complete') register(); else window.addEventListener('load', register);
}
