import { test, expect } from './fixtures.mjs';
import { PASSWORD, uniqueEmail, registerAndConfirm, logIn, waitForHydration, totp, expectSignedOut, newDevice } from './helpers.mjs';

/** Logs in by password and lands on the code step. */
async function logInToChallenge(page, email) {
  await page.goto('/users/log-in');
  await page.getByLabel('E-mail', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page).toHaveURL(/\/users\/mfa$/);
  await expect(page.getByRole('heading', { name: 'Two-step verification' })).toBeVisible();
}

async function answer(page, code, { trust = false } = {}) {
  await page.getByLabel('Authentication code').fill(code);
  if (trust) await page.getByLabel(/Trust this browser/).check();
  await page.getByRole('button', { name: 'Verify' }).click();
}

// Four browsers and a dozen sign-ins: more than the default minute on a loaded two-core machine.
test.setTimeout(120_000);

test('enrol with the key on the page, then every sign-in asks for a code; backup codes and trusted browsers', async ({ browser }) => {
  const email = uniqueEmail('mfa');
  const a = await (await browser.newContext()).newPage();
  await registerAndConfirm(a, email);
  await logIn(a, email);

  await a.goto('/users/settings/security');
  await waitForHydration(a);
  await a.getByRole('button', { name: 'Set up an authenticator app' }).click();
  await expect(a.getByRole('img', { name: 'QR code for your authenticator app' })).toBeVisible();
  const key = (await a.locator('code.secret').textContent()).trim();
  await a.getByLabel('Code from the app').fill(totp(key));
  await a.getByRole('button', { name: 'Turn on' }).click();
  await expect(a.getByRole('status').filter({ hasText: 'Two-step verification is on' })).toBeVisible();
  // The notice answers the action; the codes come with the page's data, fetched again after it.
  await expect(a.locator('.codes code')).toHaveCount(10);
  const codes = (await a.locator('.codes code').allTextContents()).map((c) => c.trim());
  await expect(a.getByRole('link', { name: 'Download (.txt)' })).toHaveAttribute('download', 'backup-codes.txt');
  await a.reload();
  await expect(a.locator('.codes code')).toHaveCount(0); // shown once

  // Log out and back in: the password alone is not enough. The enrolment used this step's code, so the app's
  // next code (one step ahead, inside the ±1 window) answers.
  await a.getByRole('button', { name: 'Log out' }).click();
  await expectSignedOut(a);
  await logInToChallenge(a, email);
  const next = totp(key, 1);
  await answer(a, next);
  await expect(a.getByRole('heading', { name: 'Your dashboard' })).toBeVisible();

  // Another browser: the same code again is refused; a backup code works, and "trust this browser" is ticked.
  const b = await newDevice(browser);
  await logInToChallenge(b, email);
  await answer(b, next);
  await expect(b.getByText('That code did not work')).toBeVisible();
  await answer(b, codes[0], { trust: true });
  await expect(b.getByRole('heading', { name: 'Your dashboard' })).toBeVisible();
  await b.getByRole('button', { name: 'Log out' }).click();
  await logIn(b, email); // trusted: straight in

  // A third browser is still asked; the spent backup code is refused there.
  const c = await newDevice(browser);
  await logInToChallenge(c, email);
  await answer(c, codes[0]);
  await expect(c.getByText('That code did not work')).toBeVisible();
  await answer(c, codes[1]);
  await expect(c.getByRole('heading', { name: 'Your dashboard' })).toBeVisible();

  // Forgetting the trusted browser brings the challenge back there.
  await a.goto('/users/settings/security');
  await waitForHydration(a);
  await expect(a.locator('.session-list .session')).toHaveCount(1);
  await a.getByRole('button', { name: /^Forget .*\(/ }).click();
  await expect(a.getByRole('status').filter({ hasText: 'will be asked for a code again' })).toBeVisible();
  await b.getByRole('button', { name: 'Log out' }).click();
  await logInToChallenge(b, email);
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('enrolment and the code step work as plain forms', async ({ page }) => {
    const email = uniqueEmail('mfa-nojs');
    await registerAndConfirm(page, email);
    await logIn(page, email);
    await page.goto('/users/settings/security');
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    const key = (await page.locator('code.secret').textContent()).trim();
    await page.getByLabel('Code from the app').fill(totp(key));
    await page.getByRole('button', { name: 'Turn on' }).click();
    await expect(page.getByRole('status').filter({ hasText: 'Two-step verification is on' })).toBeVisible();
    await expect(page.locator('.codes code')).toHaveCount(10);

    await page.getByRole('button', { name: 'Log out' }).click();
    await logInToChallenge(page, email);
    await answer(page, '000000');
    await expect(page.getByText('That code did not work')).toBeVisible();
    await answer(page, totp(key, 1));
    await expect(page.getByRole('heading', { name: 'Your dashboard' })).toBeVisible();
  });
});
