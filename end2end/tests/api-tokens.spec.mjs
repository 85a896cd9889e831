import { test, expect } from './fixtures.mjs';
import { uniqueEmail, registerAndConfirm, logIn, waitForHydration } from './helpers.mjs';

/** Asks the JSON API as a program would: a context of its own (no cookies), the token in the header. */
async function me(browser, token) {
  const program = await browser.newContext();
  const r = await program.request.get('/api/v1/me', { headers: { authorization: `Bearer ${token}` } });
  const body = r.status() === 200 ? await r.json() : null;
  await program.close();
  return { status: r.status(), body };
}

test('a token made on the page reads /api/v1/me and stops working when revoked', async ({ browser }) => {
  const email = uniqueEmail('api-token');
  const page = await (await browser.newContext()).newPage();
  await registerAndConfirm(page, email);
  await logIn(page, email);
  await page.goto('/users/settings');
  await page.getByRole('link', { name: 'API tokens' }).click();
  await expect(page).toHaveURL(/\/users\/settings\/api-tokens$/);
  await waitForHydration(page);
  await expect(page.getByRole('heading', { name: 'API tokens' })).toBeVisible();

  await page.getByLabel('Name').fill('deploy script');
  await page.getByLabel(/Read and write/).check();
  await page.getByRole('button', { name: 'Make token' }).click();
  const shown = page.getByLabel(/Your new token/);
  await expect(shown).toHaveValue(/^pc_pat_[A-Za-z0-9_-]{43}$/);
  const token = await shown.inputValue();
  await expect(page.getByText('deploy script', { exact: true })).toBeVisible();
  await expect(page.getByText(/read and write · made .* never used/)).toBeVisible();

  const answer = await me(browser, token);
  expect(answer.status).toBe(200);
  expect(answer.body.email).toBe(email);
  expect(answer.body.token.scopes).toEqual(['read', 'write']);

  // Shown once: a reload lists it by its hint only, now with its last use.
  await page.reload();
  await expect(page.getByLabel(/Your new token/)).toHaveCount(0);
  await expect(page.getByText(/last used .* from /)).toBeVisible();
  expect(await page.content()).not.toContain(token);

  await waitForHydration(page);
  await page.getByRole('button', { name: 'Revoke deploy script' }).click();
  await expect(page.getByText('Token revoked.')).toBeVisible();
  await expect(page.getByText('No tokens yet.')).toBeVisible();
  expect((await me(browser, token)).status).toBe(401);
});

test('without JavaScript the form makes a token and shows it once', async ({ browser }) => {
  const email = uniqueEmail('api-token-nojs');
  const setup = await (await browser.newContext()).newPage();
  await registerAndConfirm(setup, email);
  const page = await (await browser.newContext({ javaScriptEnabled: false })).newPage();
  await logIn(page, email);
  await page.goto('/users/settings/api-tokens');
  // A name of spaces passes the browser's own check and is refused by the server, the typed name kept.
  await page.getByLabel('Name').fill('   ');
  await page.getByRole('button', { name: 'Make token' }).click();
  await expect(page.getByText('Give the token a name')).toBeVisible();

  await page.getByLabel('Name').fill('cron');
  await page.getByLabel('Expires').selectOption('7');
  await page.getByRole('button', { name: 'Make token' }).click();
  const token = await page.getByLabel(/Your new token/).inputValue();
  expect(token).toMatch(/^pc_pat_/);
  expect((await me(browser, token)).status).toBe(200);
  await page.goto('/users/settings/api-tokens');
  await expect(page.getByLabel(/Your new token/)).toHaveCount(0);
  await expect(page.getByText('cron', { exact: true })).toBeVisible();
  await expect(page.getByText(/read · made .* · expires /)).toBeVisible();
});

test('the API reference lists the endpoints', async ({ page }) => {
  await page.goto('/developers/api');
  await expect(page.getByRole('heading', { name: 'API reference' })).toBeVisible();
  await expect(page.getByRole('heading', { name: /GET \/api\/v1\/me/ })).toBeVisible();
  await expect(page.getByRole('heading', { name: /DELETE \/api\/v1\/sessions\/\{id\}/ })).toBeVisible();
});
