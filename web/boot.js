// Starts the page (a file, not an inline script: the CSP allows none; loaded async, so it never
// delays the first paint): shows the view the URL names, loads the stylesheet for what
// JavaScript renders without blocking that paint, then starts the app (ES modules) once the
// first paint is on screen. The page shell's own styles are the <style> in index.html, which
// the server's CSP allows by its SHA-256.
document.documentElement.dataset.view =
  (/^#\/(identify|catalogue|history|status|account|review|workouts|shared)\b/.exec(location.hash) || [0, 'identify'])[1];
(function () {
  // media "print" until loaded: a stylesheet added to <head> before the first paint would
  // otherwise hold that paint back.
  const css = document.createElement('link');
  css.rel = 'stylesheet';
  css.href = '/app.css';
  css.media = 'print';
  css.addEventListener('load', () => { css.media = 'all'; });
  document.head.append(css);
  let started = false;
  const go = () => { if (!started) { started = true; import('/app.js'); } };
  try { new PerformanceObserver(go).observe({ type: 'paint', buffered: true }); } catch (e) { /* old browsers */ }
  setTimeout(go, 300);
})();
