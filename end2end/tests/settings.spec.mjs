import { test, expect } from './fixtures.mjs';
import {
  PASSWORD, uniqueEmail, registerAndConfirm, logIn, waitForHydration, linkFromMailbox, signInByLink, expectSignedOut, twoSignedInBrowsers,
} from './helpers.mjs';

const NEW_PASSWORD = 'purple elephants juggle quietly';

test('changing the password in browser A signs browser B out at its next request', async ({ browser }) => {
  const { email, a, b } = await twoSignedInBrowsers(browser, 'password-change');

  await a.goto('/users/settings');
  await waitForHydration(a);
  await expect(a.getByText(/You confirmed it's you/)).toBeVisible();
  await a.getByLabel('Current password', { exact: true }).fill(PASSWORD);
  await a.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
  await a.getByRole('button', { name: 'Change password' }).click();
  await expect(a.getByRole('status').filter({ hasText: 'Your password was changed' })).toBeVisible();

  await b.reload();
  await expectSignedOut(b);
  await a.reload();
  await expect(a.getByRole('heading', { name: 'Settings' })).toBeVisible();
  await expect(a.getByRole('navigation', { name: 'Account' }).getByRole('link', { name: 'Settings' })).toBeVisible();

  await logIn(b, email, NEW_PASSWORD);
});

test('an e-mail change needs the link from the new address, and the old address can cancel one', async ({ page }) => {
  const email = uniqueEmail('email-change');
  const newEmail = uniqueEmail('email-changed');
  await registerAndConfirm(page, email);
  await logIn(page, email);

  await page.goto('/users/settings');
  await waitForHydration(page);
  await page.getByLabel('New e-mail address').fill(newEmail);
  await page.getByRole('button', { name: 'Send confirmation link' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'confirmation link is on its way' })).toBeVisible();
  await expect(page.getByText(`Waiting for you to confirm ${newEmail}`)).toBeVisible();

  const link = await linkFromMailbox(page, newEmail, 'Confirm your new e-mail', '/users/settings/email/');
  await page.goto(link);
  await waitForHydration(page);
  // S21: once the page runs, the token is gone from the address bar and the history entry.
  await expect(page).toHaveURL(/\/users\/settings$/);
  await page.getByRole('button', { name: 'Confirm new e-mail' }).click();
  await expect(page).toHaveURL(/\/users\/log-in$/);
  await expect(page.getByRole('status').filter({ hasText: 'Your e-mail address was changed' })).toBeVisible();
  await logIn(page, newEmail);

  // A second change, cancelled from the notice sent to the current address.
  const third = uniqueEmail('email-unwanted');
  await page.goto('/users/settings');
  await page.getByLabel('New e-mail address').fill(third);
  await page.getByRole('button', { name: 'Send confirmation link' }).click();
  await expect(page.getByText(`Waiting for you to confirm ${third}`)).toBeVisible();
  const cancel = await linkFromMailbox(page, newEmail, 'about to change', '/users/settings/email/cancel/');
  await page.goto(cancel);
  await page.getByRole('button', { name: 'Cancel the change' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'The e-mail change was cancelled' })).toBeVisible();
  await page.goto('/users/settings');
  await expect(page.locator('main').getByText(newEmail, { exact: true })).toBeVisible();
  await expect(page.getByText('Waiting for you to confirm')).toHaveCount(0);
});

for (const javaScriptEnabled of [true, false]) {
  test.describe(javaScriptEnabled ? 'with JavaScript' : 'without JavaScript', () => {
    test.use({ javaScriptEnabled });

    test('a session that did not just prove the password must confirm it before changing it', async ({ page }) => {
      const email = uniqueEmail(javaScriptEnabled ? 'sudo-js' : 'sudo-nojs');
      await registerAndConfirm(page, email);
      await signInByLink(page, email, { javaScript: javaScriptEnabled });

      await page.goto('/users/settings');
      await expect(page.getByLabel('Current password')).toHaveCount(0);
      await page.getByRole('link', { name: "Confirm it's you" }).click();
      await expect(page).toHaveURL(/\/users\/sudo\?return_to=/);
      await page.getByLabel('Password', { exact: true }).fill('not the password at all');
      await page.getByRole('button', { name: 'Confirm' }).click();
      await expect(page.getByText('That password did not work')).toBeVisible();
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: 'Confirm' }).click();
      await expect(page).toHaveURL(/\/users\/settings$/);

      await page.getByLabel('Current password', { exact: true }).fill(PASSWORD);
      await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
      await page.getByRole('button', { name: 'Change password' }).click();
      await expect(page.getByRole('status').filter({ hasText: 'Your password was changed' })).toBeVisible();
    });
  });
}

test('deleting the account signs every browser out, and the mailed link keeps it', async ({ browser }) => {
  const { email, a, b } = await twoSignedInBrowsers(browser, 'delete');

  await a.goto('/users/settings');
  await waitForHydration(a);
  await a.getByLabel('Type your e-mail address to confirm').fill(email);
  await a.getByRole('button', { name: 'Delete my account' }).click();
  await expect(a.getByRole('status').filter({ hasText: 'will be deleted in 7 days' })).toBeVisible();
  await expectSignedOut(a);
  await b.reload();
  await expectSignedOut(b);

  const keep = await linkFromMailbox(a, email, 'will be deleted', '/users/settings/delete/cancel/');
  await a.goto(keep);
  await a.getByRole('button', { name: 'Keep my account' }).click();
  await expect(a.getByRole('status').filter({ hasText: 'Your account is kept' })).toBeVisible();
  await logIn(a, email);
});
