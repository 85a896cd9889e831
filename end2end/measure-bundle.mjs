// Measures what a first visit to each page downloads of the browser bundle (bytes on the wire, as the server sends
// them with `Accept-Encoding: br`), and what a later page adds. Usage: node measure-bundle.mjs BASE_URL
import { chromium } from 'playwright-core';

const base = process.argv[2] ?? 'http://localhost:3000';
const pages = ['/users/log-in', '/users/register', '/', '/users/reset-password', '/organizations', '/admin'];
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium' });

async function visit(page, path, seen) {
  const pending = [];
  const onResponse = (r) => {
    if (!/\/pkg\/[0-9a-f]+\/.+\.(js|wasm)$/.test(r.url())) return;
    pending.push(r.finished().then(() => r.request().sizes()).then((sizes) => ({ url: r.url(), bytes: sizes.responseBodySize })));
  };
  page.on('response', onResponse);
  await page.goto(base + path);
  await page.locator('body[data-hydrated="true"]').waitFor({ timeout: 30_000 });
  await page.waitForLoadState('networkidle');
  page.off('response', onResponse);
  const files = await Promise.all(pending);
  const fresh = files.filter((f) => !seen.has(f.url));
  fresh.forEach((f) => seen.add(f.url));
  const sum = (fs) => fs.reduce((n, f) => n + f.bytes, 0);
  return { path, files: files.length, bytes: sum(files), wasm: files.filter((f) => f.url.endsWith('.wasm')).length };
}

for (const path of pages) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const r = await visit(page, path, new Set());
  console.log(`first visit ${r.path}: ${r.files} files (${r.wasm} wasm), ${r.bytes} bytes on the wire`);
  await context.close();
}
await browser.close();
