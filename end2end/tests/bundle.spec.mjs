// The browser bundle is split: every page loads the main module, and each group of pages (sign-in, account
// settings, organizations, admin) is a set of chunks fetched the first time one of its pages is shown
// (app/src/lib.rs `page_groups!`; scripts/build.sh cuts them).
import { test, expect } from './fixtures.mjs';
import { logIn, registerAndConfirm, uniqueEmail, waitForHydration } from './helpers.mjs';

// The main module is named after the project (scripts/project.sh); every other .wasm in the versioned folder is a chunk.
const main = `/${process.env.E2E_PROJECT}.wasm`;
const isChunk = (url) => /\/pkg\/[0-9a-f]{24}\/[^/]+\.wasm$/.test(url) && !url.endsWith(main);

async function signedIn(page, tag) {
  const email = uniqueEmail(tag);
  await registerAndConfirm(page, email);
  await logIn(page, email);
}

test('a page loads the main module and its group, and a page of another group fetches only what it adds', async ({ page }) => {
  await signedIn(page, 'bundle');
  const wasm = [];
  page.on('response', (r) => { if (r.url().endsWith('.wasm')) wasm.push({ url: r.url(), status: r.status() }); });
  await page.goto('/');
  await waitForHydration(page);
  expect(wasm.filter((w) => w.url.endsWith(main))).toHaveLength(1);
  expect(wasm.filter((w) => isChunk(w.url)).length).toBeGreaterThan(0);
  expect(wasm.every((w) => w.status === 200)).toBe(true);

  // A link followed in the page: the router fetches the settings group's chunks, and the page is the app's.
  const before = wasm.length;
  await page.getByRole('navigation', { name: 'Account' }).getByRole('link', { name: 'Settings' }).click();
  await expect(page).toHaveURL(/\/users\/settings$/);
  await expect(page.getByRole('heading', { name: 'Settings', level: 1 })).toBeVisible();
  await expect.poll(() => wasm.slice(before).filter((w) => isChunk(w.url)).length).toBeGreaterThan(0);
  const added = wasm.slice(before);
  expect(added.filter((w) => w.url.endsWith(main))).toHaveLength(0);
  expect(added.every((w) => w.status === 200)).toBe(true);
  // Followed without a page load: the header's log-out form is still the hydrated one.
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
});

test('a page whose chunks cannot be fetched (its release replaced by a deploy) loads from the server, once', async ({ page }) => {
  await signedIn(page, 'bundle-gone');
  await page.goto('/');
  await waitForHydration(page);
  // From now on this release's chunks are gone, as after a deploy (the old version's folder answers 404).
  await page.route((url) => isChunk(url.href), (route) => route.fulfill({ status: 404, body: 'not found' }));
  let loads = 0;
  page.on('load', () => { loads += 1; });
  await page.getByRole('navigation', { name: 'Account' }).getByRole('link', { name: 'Settings' }).click();
  // The server-rendered settings page, whose forms work without the bundle.
  await expect(page.getByRole('heading', { name: 'Settings', level: 1 })).toBeVisible();
  await expect(page).toHaveURL(/\/users\/settings$/);
  await expect.poll(() => loads).toBe(1);
  // Its chunks cannot load either: it stays as the server rendered it and does not reload again.
  await page.waitForTimeout(1_500);
  expect(loads).toBe(1);
  await expect(page.locator('body[data-hydrated]')).toHaveCount(0);
});
