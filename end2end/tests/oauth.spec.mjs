import { test, expect } from './fixtures.mjs';
import { PASSWORD, uniqueEmail, registerAndConfirm, waitForHydration, expectSignedOut } from './helpers.mjs';

// run.sh starts a real OpenID provider on loopback (end2end/oidc, panva's oidc-provider) and configures it twice:
// as a generic OIDC issuer ("Test SSO") and, through its plain OAuth 2.0 endpoints, as "GitHub".

/** Signs in at the provider's login page as `sub` with `email` (verified unless told otherwise). */
async function atProvider(page, { sub, email, verified = true }) {
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
  await page.getByLabel('Subject').fill(sub);
  await page.getByLabel('E-mail', { exact: true }).fill(email);
  if (verified) await page.getByLabel('E-mail verified').check();
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function logOut(page) {
  await page.getByRole('button', { name: 'Log out' }).click();
  await expectSignedOut(page);
}

test('sign up with a provider, sign in again, pass sudo with it, link a second provider and unlink it', async ({ page }) => {
  const email = uniqueEmail('sso');
  const sub = `sub-${Date.now()}`;
  await page.goto('/users/register');
  await page.getByRole('link', { name: 'Continue with Test SSO' }).click();
  await atProvider(page, { sub, email });
  await expect(page.getByRole('heading', { name: 'Your dashboard' })).toBeVisible();
  await expect(page.getByText(`You are signed in as ${email}`)).toBeVisible();

  await logOut(page);
  await page.goto('/users/log-in');
  await page.getByRole('link', { name: 'Continue with Test SSO' }).click();
  await atProvider(page, { sub, email });
  await expect(page.getByRole('heading', { name: 'Your dashboard' })).toBeVisible();

  // Sudo, for an account without a password, is the provider again.
  await page.goto('/users/sudo?return_to=/users/settings/connections');
  await page.getByRole('link', { name: 'Confirm with Test SSO' }).click();
  await atProvider(page, { sub, email });
  await expect(page).toHaveURL(/\/users\/settings\/connections$/);
  await waitForHydration(page);

  await page.getByRole('link', { name: 'Link GitHub' }).click();
  await atProvider(page, { sub: `gh-${sub}`, email });
  await expect(page.getByRole('status').filter({ hasText: 'Linked' })).toBeVisible();
  await expect(page.locator('.session-list .session')).toHaveCount(2);

  await page.getByRole('button', { name: 'Unlink GitHub' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Unlinked' })).toBeVisible();
  await expect(page.locator('.session-list .session')).toHaveCount(1);
  // The last one cannot go: the account would have no way to sign in.
  await expect(page.getByRole('button', { name: 'Unlink Test SSO' })).toBeDisabled();
});

test('a provider with the e-mail of an existing account links only after the owner logs in and confirms', async ({ page }) => {
  const email = uniqueEmail('sso-owner');
  await registerAndConfirm(page, email);
  const sub = `owner-${Date.now()}`;

  await page.getByRole('link', { name: 'Continue with Test SSO' }).click();
  await atProvider(page, { sub, email });
  await expect(page).toHaveURL(/\/users\/log-in$/);
  await expect(page.getByRole('status').filter({ hasText: 'already exists' })).toBeVisible();
  await expectSignedOut(page);

  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page).toHaveURL(/\/users\/settings\/connections$/);
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Link it' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Linked' })).toBeVisible();
  await expect(page.locator('.session-list .session')).toContainText('Test SSO');

  await page.goto('/');
  await logOut(page);
  await page.goto('/users/log-in');
  await page.getByRole('link', { name: 'Continue with Test SSO' }).click();
  await atProvider(page, { sub, email });
  await expect(page.getByText(`You are signed in as ${email}`)).toBeVisible();
});
