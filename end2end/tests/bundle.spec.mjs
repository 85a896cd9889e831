// The browser bundle is split: every page loads the main module, and each page's own code is a chunk fetched the
// first time the page is shown (scripts/build.sh cuts it; app/src/lib.rs makes each route lazy).
import { test, expect } from './fixtures.mjs';
import { waitForHydration } from './helpers.mjs';

const isChunk = (url) => /\/pkg\/[0-9a-f]{24}\/(?!portcullis\.wasm)[^/]+\.wasm$/.test(url);

test('a page loads the main module and its own chunks, and the next page fetches only what it adds', async ({ page }) => {
  const wasm = [];
  page.on('response', (r) => { if (r.url().endsWith('.wasm')) wasm.push({ url: r.url(), status: r.status() }); });
  await page.goto('/users/log-in');
  await waitForHydration(page);
  expect(wasm.filter((w) => w.url.endsWith('/portcullis.wasm'))).toHaveLength(1);
  const loginChunks = wasm.filter((w) => isChunk(w.url));
  expect(loginChunks.length).toBeGreaterThan(0);
  expect(wasm.every((w) => w.status === 200)).toBe(true);

  // A link followed in the page: the router fetches the register page's chunk, and the page works.
  const before = wasm.length;
  await page.getByRole('link', { name: 'Create an account' }).click();
  await expect(page).toHaveURL(/\/users\/register$/);
  await expect(page.getByRole('heading', { name: /Create (an|your) account/ })).toBeVisible();
  const added = wasm.slice(before);
  expect(added.some((w) => isChunk(w.url))).toBe(true);
  expect(added.filter((w) => w.url.endsWith('/portcullis.wasm'))).toHaveLength(0);
  await page.getByLabel('Password', { exact: true }).fill('password123456');
  await expect(page.getByText(/Add another word/)).toBeVisible(); // the reactive meter: the page is hydrated
});

test('a page whose chunk cannot be fetched (its release replaced by a deploy) reloads from the server, once', async ({ page }) => {
  await page.goto('/users/log-in');
  await waitForHydration(page);
  // From now on this release's chunks are gone, as after a deploy (the old version's folder answers 404).
  await page.route((url) => isChunk(url.href), (route) => route.fulfill({ status: 404, body: 'not found' }));
  let loads = 0;
  page.on('load', () => { loads += 1; });
  await page.getByRole('link', { name: 'Create an account' }).click();
  // The server-rendered register page, whose form works without the bundle.
  await expect(page.getByRole('heading', { name: /Create (an|your) account/ })).toBeVisible();
  await expect(page).toHaveURL(/\/users\/register$/);
  await expect.poll(() => loads).toBe(1);
  // Its own chunk cannot load either: it stays as the server rendered it and does not reload again.
  await page.waitForTimeout(1_500);
  expect(loads).toBe(1);
  await expect(page.locator('body[data-hydrated]')).toHaveCount(0);
});
