import { test, expect } from './fixtures.mjs';
import {
  PASSWORD,
  uniqueEmail,
  registerAndConfirm,
  logIn,
  waitForHydration,
  expectSignedOut,
  signInByLink,
  openMail,
  totp,
} from './helpers.mjs';

/**
 * Chromium's virtual authenticator (CDP WebAuthn domain) on this page: CTAP2, built in, holds discoverable
 * credentials, verifies the user (a PIN or fingerprint on a real device) and answers without a touch.
 */
async function virtualAuthenticator(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return {
    credentials: async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials,
  };
}

/**
 * A browser without passkey autofill (conditional mediation). Chromium's virtual authenticator answers the log-in
 * page's autofill request by itself, so tests of the button and of the password path turn autofill off.
 */
async function withoutAutofill(page) {
  await page.addInitScript(() => {
    if (window.PublicKeyCredential) PublicKeyCredential.isConditionalMediationAvailable = async () => false;
  });
}

async function logOut(page) {
  await page.getByRole('button', { name: 'Log out' }).click();
  await expectSignedOut(page);
}

async function openSecurity(page) {
  await page.goto('/users/settings/security');
  await waitForHydration(page);
}

async function addPasskey(page) {
  await openSecurity(page);
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Passkey added' })).toBeVisible();
}

test('register a passkey, sign in with it (no password, no e-mail), rename it, pass sudo with it, remove it', async ({ page }) => {
  const email = uniqueEmail('passkey');
  const authenticator = await virtualAuthenticator(page);
  await withoutAutofill(page);
  await registerAndConfirm(page, email);
  await logIn(page, email); // a password log in opens the sudo window

  await addPasskey(page);
  const passkeys = page.locator('.passkey-list .passkey');
  await expect(passkeys).toHaveCount(1);
  await expect(passkeys).toContainText('Passkey on Headless Chrome on Linux');
  await expect(passkeys).toContainText('never used');
  const held = await authenticator.credentials();
  expect(held).toHaveLength(1);
  expect(held[0].isResidentCredential).toBe(true); // discoverable: it can sign in without an e-mail
  await openMail(page, new RegExp(`${email.replace(/[.+]/g, '\\$&')}.*A passkey was added`));

  // Signed out, the passkey alone signs in: nothing typed.
  await page.goto('/');
  await logOut(page);
  await page.goto('/users/log-in');
  await waitForHydration(page);
  await expect(page.getByLabel('E-mail', { exact: true })).toHaveAttribute('autocomplete', 'username webauthn');
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await expect(page.getByRole('heading', { name: 'Your dashboard' })).toBeVisible();

  // Rename it.
  await openSecurity(page);
  await expect(passkeys).toContainText('last used');
  await passkeys.getByText('Manage').click();
  await passkeys.getByLabel('Name').fill('Work laptop');
  await passkeys.getByRole('button', { name: 'Rename' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Passkey renamed' })).toBeVisible();
  await expect(passkeys).toContainText('Work laptop');

  // A mailed sign-in link does not open the sudo window; the passkey does.
  await logOut(page);
  await signInByLink(page, email);
  await openSecurity(page);
  await page.getByRole('link', { name: "Confirm it's you" }).click();
  await expect(page).toHaveURL(/\/users\/sudo/);
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Confirm with a passkey' }).click();
  await expect(page).toHaveURL(/\/users\/settings\/security$/);
  await waitForHydration(page);

  // Remove it: the notice, the mail, and it signs in no more.
  await passkeys.getByText('Manage').click();
  await page.getByRole('button', { name: 'Remove passkey Work laptop' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Passkey removed' })).toBeVisible();
  await expect(passkeys).toHaveCount(0);
  await logOut(page);
  await page.goto('/users/log-in');
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await expect(page.getByText('That passkey was not accepted')).toBeVisible();
  await expectSignedOut(page);
});

test('an MFA user answers the code step with a passkey', async ({ page }) => {
  const email = uniqueEmail('passkey-mfa');
  await virtualAuthenticator(page);
  await withoutAutofill(page);
  await registerAndConfirm(page, email);
  await logIn(page, email);
  await openSecurity(page);
  await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
  const key = (await page.locator('code.secret').textContent()).trim();
  await page.getByLabel('Code from the app').fill(totp(key));
  await page.getByRole('button', { name: 'Turn on' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Two-step verification is on' })).toBeVisible();
  await addPasskey(page);

  await page.goto('/');
  await logOut(page);
  await page.goto('/users/log-in');
  await page.getByLabel('E-mail', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page).toHaveURL(/\/users\/mfa$/);
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Use a passkey' }).click();
  await expect(page.getByRole('heading', { name: 'Your dashboard' })).toBeVisible();
});

test("the e-mail field's autofill offers the passkey, and choosing it signs in", async ({ page }) => {
  const email = uniqueEmail('passkey-autofill');
  await virtualAuthenticator(page);
  await registerAndConfirm(page, email);
  await logIn(page, email);
  await addPasskey(page);
  await page.goto('/');
  await logOut(page);
  // The page asks quietly (mediation "conditional"); the virtual authenticator stands in for the user picking the
  // passkey from the autofill list. Nothing is clicked or typed.
  await page.goto('/users/log-in');
  await expect(page.getByRole('heading', { name: 'Your dashboard' })).toBeVisible();
  await expect(page.getByText('Welcome back! You are logged in.')).toBeVisible();
});
