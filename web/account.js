// Accounts in the web app (issue 11 item 7). GET /api/v1/auth/config names the mode: in open
// mode nothing here shows. In required mode: sign in, sign up (when the server allows it), sign
// out, the account bar in the header, and a sign-in page in front of the views that need one.
// The access token lives in this module's memory only (never in storage or a readable cookie);
// the refresh token is an HttpOnly cookie the page never sees, spent by POST
// /api/v1/auth/refresh on load (when auth/config says one was sent) and a minute before the
// access token expires.
import { api, setAuth, humanError, ApiError } from './api.js';
import { h, replace, announce } from './ui.js';

const EARLY_S = 60;            // refresh this long before the access token expires
const NEEDS_SIGN_IN = new Set(['identify', 'history', 'status', 'review', 'workouts']);
const NAMES = { identify: 'identify photos', history: 'see your history', status: 'see the status', review: 'review corrections', workouts: 'log workouts' };

const state = { mode: null, signup: false, token: null, me: null, timer: 0, note: null };
let renewing = null;
let onChange = () => {};

export const required = () => state.mode === 'required';
export const signedIn = () => state.token !== null;
/** The signed-in account's name, or null. */
export const username = () => (state.me && state.me.user ? state.me.user.username : null);
/** An admin signed in (GET /api/v1/me says so); in open mode the review page is not offered. */
export const isAdmin = () => required() && signedIn() && !!(state.me && state.me.admin);

function loadStyles() {
  if (document.querySelector('link[href="/account.css"]')) return;
  const css = document.createElement('link');
  css.rel = 'stylesheet';
  css.href = '/account.css';
  document.head.append(css);
}

function drop() {
  clearTimeout(state.timer);
  state.token = null;
  state.me = null;
}

/** Keeps a new session (the answer of login, register or refresh). */
function take(s) {
  state.token = s.access_token;
  clearTimeout(state.timer);
  const ms = Math.max(10, (Number(s.expires_in) || 0) - EARLY_S) * 1000;
  state.timer = setTimeout(() => { renew(); }, ms);
}

async function whoAmI() {
  state.me = await api('/api/v1/me', { bare: true, token: `Bearer ${state.token}` });
}

const spend = () => api('/api/v1/auth/refresh', { method: 'POST', json: {}, bare: true });

/**
 * Spends the refresh cookie once; true when a new access token came. Concurrent callers share
 * one; tabs take turns (Web Locks), since two tabs spending the same cookie at once would look
 * like a stolen token to the server, which then ends the session.
 */
function renew() {
  if (!required()) return Promise.resolve(false);
  if (!renewing) {
    renewing = (async () => {
      try {
        take(await (navigator.locks ? navigator.locks.request('gymhelper-refresh', spend) : spend()));
        if (!state.me) await whoAmI();
        return true;
      } catch (e) {
        if (!(e instanceof ApiError) || e.status === 0) return false; // offline: keep what we have
        drop();
        return false;
      } finally {
        renewing = null;
        render();
      }
    })();
  }
  return renewing;
}

/** A call answered 401 even after a refresh: the session is over; back to sign-in. */
function ended() {
  if (!required()) return;
  drop();
  state.note = 'Your session has ended. Sign in again.';
  render();
  onChange();
}

/** Starts accounts; resolves once the mode (and, in required mode, the session) is known. */
export function initAccount({ changed } = {}) {
  onChange = changed || onChange;
  setAuth({ header: () => (state.token ? `Bearer ${state.token}` : null), renew, ended });
  const ready = start();
  setAuth({ ready });
  window.addEventListener('online', () => { if (state.mode === null) start().then(() => onChange()); });
  return ready;
}

async function start() {
  if (navigator.onLine === false) return; // offline: no sign-in to offer; tried again once online
  let cfg;
  try {
    cfg = await api('/api/v1/auth/config', { bare: true });
  } catch {
    return; // an older server without accounts: the app works as before
  }
  state.mode = cfg.mode;
  state.signup = !!cfg.signup;
  if (!required()) return;
  loadStyles();
  document.documentElement.dataset.auth = 'required';
  if (cfg.session_cookie) await renew();
  render();
}

/** The view to show for view: the sign-in page when it needs an account and none is signed in. */
export function gate(view) {
  if (view === 'review' && required() && signedIn() && !isAdmin()) return 'account';
  if (!required() || signedIn() || !NEEDS_SIGN_IN.has(view)) return view;
  state.note = state.note || `Sign in to ${NAMES[view]}.`;
  return 'account';
}

// ---- rendering -----------------------------------------------------------------------------

function field(id, label, attrs) {
  return h('div', { class: 'acct-field' },
    h('label', { for: id }, label),
    h('input', { id, class: 'field', required: true, ...attrs }));
}

/** A sign-in or sign-up form; send(username, password) returns the session. */
function form(kind, title, submitText, send) {
  const err = h('p', { class: 'err', role: 'alert', testid: `${kind}-error` });
  const btn = h('button', { type: 'submit', class: 'btn primary', testid: `${kind}-submit` }, submitText);
  const user = field(`${kind}-username`, 'Username', {
    name: 'username', autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false', testid: `${kind}-username`, maxlength: '63',
  });
  const pw = field(`${kind}-password`, 'Password', {
    name: 'password', type: 'password', testid: `${kind}-password`, maxlength: '1024',
    autocomplete: kind === 'signup' ? 'new-password' : 'current-password',
  });
  const el = h('form', { class: 'panel acct-form', testid: `${kind}-form`, 'aria-labelledby': `${kind}-title`, novalidate: true },
    h('h2', { id: `${kind}-title` }, title), user, pw, err, h('div', { class: 'row' }, btn));
  el.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const name = el.elements.username.value.trim();
    const password = el.elements.password.value;
    if (!name || !password) {
      err.textContent = 'Enter a username and a password.';
      return;
    }
    err.textContent = '';
    btn.disabled = true;
    el.setAttribute('aria-busy', 'true');
    try {
      take(await send(name, password));
      await whoAmI();
      state.note = null;
      el.reset();
      announce(`Signed in as ${username()}`);
      render();
      onChange(true);
    } catch (e) {
      drop();
      err.textContent = humanError(e);
      el.elements.password.select();
    } finally {
      btn.disabled = false;
      el.removeAttribute('aria-busy');
    }
  });
  return el;
}

const login = (username, password) =>
  api('/api/v1/auth/login', { method: 'POST', json: { username, password, use_cookie: true }, bare: true });
const register = (username, password) =>
  api('/api/v1/auth/register', { method: 'POST', json: { username, password, use_cookie: true }, bare: true });

async function signOut(btn) {
  btn.disabled = true;
  try {
    await api('/api/v1/auth/logout', { method: 'POST', json: {}, bare: true });
  } catch { /* the cookie is cleared by the server or expires; the page forgets either way */ }
  drop();
  state.note = 'Signed out.';
  announce('Signed out');
  render();
  onChange();
}

/** The account bar in the header: "Sign in", or the account's name. */
function renderBar() {
  const bar = document.getElementById('acct');
  if (!bar) return;
  bar.hidden = !required();
  if (!required()) return;
  replace(bar, signedIn()
    ? h('a', { href: '#/account', class: 'acct-link', testid: 'account-name' }, username() || 'Account')
    : h('a', { href: '#/account', class: 'acct-link', testid: 'account-signin-link' }, 'Sign in'));
  const review = document.querySelector('[data-nav="review"]');
  if (review) review.closest('li').hidden = !isAdmin();
}

/** The account page: the forms when signed out, the account and "Sign out" when signed in. */
function renderPage() {
  const root = document.getElementById('account-root');
  if (!root) return;
  if (!required()) {
    replace(root, h('p', { class: 'lead', testid: 'account-open' }, 'This server needs no sign-in: everything is open on this network.'));
    return;
  }
  const note = state.note ? h('p', { class: 'notice', role: 'status', testid: 'account-note' }, state.note) : null;
  if (!signedIn()) {
    replace(root, note,
      form('signin', 'Sign in', 'Sign in', login),
      state.signup ? form('signup', 'New here? Create an account', 'Create account', register) : null);
    return;
  }
  const role = state.me && state.me.role;
  const out = h('button', { type: 'button', class: 'btn', testid: 'signout' }, 'Sign out');
  out.addEventListener('click', () => signOut(out));
  replace(root, note,
    h('div', { class: 'panel stack', testid: 'account-panel' },
      h('p', { style: 'margin:0' }, 'Signed in as ', h('strong', { testid: 'account-user' }, username() || ''),
        role ? h('span', { class: 'badge', testid: 'account-role', style: 'margin-left:.5rem' }, role) : null),
      h('ul', { class: 'acct-links' },
        h('li', null, h('a', { href: '#/history', testid: 'account-history' }, 'Your history')),
        isAdmin() ? h('li', null, h('a', { href: '#/review', testid: 'review-link' }, 'Review corrections')) : null),
      h('div', { class: 'row' }, out)));
}

function render() {
  renderBar();
  renderPage();
}

/** Shows the account page (route #/account). */
export function showAccount({ focus } = {}) {
  render();
  const first = document.querySelector('#account-root input');
  if (focus) (first || document.getElementById('h-account')).focus();
  state.note = null; // shown once
}
