// SPDX-License-Identifier: MIT
// Opens a `gymhelper eval` HTML report in Debian's Chromium (playwright-core), served from
// loopback with the web app's Content-Security-Policy (no inline style or script), and records
// console errors, page errors, every request the page makes, and what its pictures drew. A
// control page with an inline style and script is opened the same way, to show that a CSP
// violation does reach the console here.
//
// usage: node tests/browser/eval_report.mjs --report REPORT.html --out result.json
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import http from 'node:http';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: { report: { type: 'string' }, out: { type: 'string' } },
});
if (!opt.report || !opt.out) {
  console.error('eval_report.mjs: --report and --out are required');
  process.exit(2);
}
// src/http/security.c's policy for the web app, without the page shell's style hash
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
  "connect-src 'self'; worker-src 'self'; manifest-src 'self'; object-src 'none'; " +
  "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
const CONTROL = '<!DOCTYPE html><html><head><title>control</title></head><body>' +
  '<p style="color: red">inline style</p><script>document.title = "ran";</script></body></html>';

const pages = { '/report.html': fs.readFileSync(opt.report), '/control.html': Buffer.from(CONTROL) };
const served = [];
const server = http.createServer((req, res) => {
  served.push(req.url);
  // the browser's own favicon request, not the page's: answered empty
  if (req.url === '/favicon.ico') { res.writeHead(204); res.end(); return; }
  const body = pages[req.url];
  if (!body) { res.writeHead(404); res.end(); return; }
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': CSP,
    'X-Content-Type-Options': 'nosniff' });
  res.end(body);
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const base = `http://127.0.0.1:${server.address().port}`;

const result = { browser: null, report: null, control: null };
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
    '--disable-background-networking', '--disable-component-update',
    '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
});
try {
  result.browser = browser.version();
  for (const which of ['report', 'control']) {
    const page = await browser.newPage();
    const r = { console_errors: [], page_errors: [], requests: [], title: null, svgs: [], tables: 0 };
    page.on('console', (m) => { if (m.type() === 'error') r.console_errors.push(m.text()); });
    page.on('pageerror', (e) => r.page_errors.push(String(e)));
    page.on('request', (q) => r.requests.push(q.url()));
    await page.goto(`${base}/${which}.html`, { waitUntil: 'load', timeout: 30000 });
    await page.waitForTimeout(300); // late console messages
    Object.assign(r, await page.evaluate(() => ({
      title: document.title,
      tables: document.querySelectorAll('table').length,
      svgs: [...document.querySelectorAll('svg')].map((s) => {
        const b = s.getBoundingClientRect();
        return { width: b.width, height: b.height,
          marks: s.querySelectorAll('rect, circle, polyline, line').length };
      }),
    })));
    result[which] = r;
    await page.close();
  }
} finally {
  await browser.close();
  server.close();
}
result.served = served;
fs.writeFileSync(opt.out, JSON.stringify(result, null, 1));
