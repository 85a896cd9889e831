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

test('an owner makes a service account whose secret gets a program a token for the organization only', async ({ browser }) => {
  const email = uniqueEmail('service-account');
  const page = await (await browser.newContext()).newPage();
  await registerAndConfirm(page, email);
  await logIn(page, email);
  await page.goto('/organizations/new');
  await waitForHydration(page);
  await page.getByLabel('Name').fill('Acme Robots');
  await page.getByRole('button', { name: /create/i }).click();
  await page.waitForURL(/\/members$/);
  await page.getByRole('link', { name: 'Service accounts' }).click();
  await expect(page).toHaveURL(/\/service-accounts$/);
  await waitForHydration(page);
  await expect(page.getByText('None yet.')).toBeVisible();

  await page.getByLabel('Name').fill('billing sync');
  await page.getByRole('button', { name: 'Make service account' }).click();
  const secretField = page.getByLabel(/Client secret/);
  await expect(secretField).toHaveValue(/^[A-Za-z0-9_-]{43}$/);
  const secret = await secretField.inputValue();
  const clientId = await page.getByLabel('Client ID', { exact: true }).inputValue();
  await expect(page.getByText('billing sync', { exact: true })).toBeVisible();

  // A program of its own: client credentials, then the API.
  const program = await browser.newContext();
  const basic = Buffer.from(`${clientId}:${secret}`).toString('base64');
  const tokenAnswer = await program.request.post('/oauth/token', {
    headers: { authorization: `Basic ${basic}` },
    form: { grant_type: 'client_credentials' },
  });
  expect(tokenAnswer.status()).toBe(200);
  const { access_token: token, scope } = await tokenAnswer.json();
  expect(scope).toBe('api:read');
  const auth = { headers: { authorization: `Bearer ${token}` } };
  const orgs = await (await program.request.get('/api/v1/organizations', auth)).json();
  expect(orgs.map((o) => [o.name, o.role])).toEqual([['Acme Robots', 'service_account']]);
  const members = await (await program.request.get(`/api/v1/organizations/${orgs[0].slug}/members`, auth)).json();
  expect(members.map((m) => m.email)).toEqual([email]);
  expect((await program.request.get('/api/v1/me', auth)).status()).toBe(403);

  // Shown once; revoked, its token stops at once.
  await page.reload();
  await expect(page.getByLabel(/Client secret/)).toHaveCount(0);
  expect(await page.content()).not.toContain(secret);
  await expect(page.getByText(/last token .* from /)).toBeVisible();
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Revoke billing sync' }).click();
  await expect(page.getByText('Service account revoked.')).toBeVisible();
  await expect(page.getByText('None yet.')).toBeVisible();
  expect((await program.request.get('/api/v1/organizations', auth)).status()).toBe(401);
  await program.close();
});
