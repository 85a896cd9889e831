import { test, expect } from './fixtures.mjs';
import { PASSWORD, uniqueEmail, waitForHydration, confirmationLinkFromMailbox } from './helpers.mjs';

for (const javaScriptEnabled of [true, false]) {
  const mode = javaScriptEnabled ? 'with JavaScript' : 'without JavaScript';

  test.describe(mode, () => {
    test.use({ javaScriptEnabled });

    test('a new user registers, confirms from the mailbox, logs in and logs out', async ({ page }) => {
      const email = uniqueEmail(javaScriptEnabled ? 'js' : 'nojs');

      await page.goto('/users/register');
      if (javaScriptEnabled) {
        await waitForHydration(page);
        // The password policy runs in the page (shared Rust compiled to WASM) before anything is sent.
        await page.getByLabel('Password', { exact: true }).fill('too short');
        await expect(page.getByText(/Use at least 12 characters/)).toBeVisible();
      }
      await page.getByLabel('E-mail', { exact: true }).fill(email);
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: 'Create account' }).click();

      await expect(page).toHaveURL(/\/users\/confirm$/);
      await expect(page.getByRole('status').filter({ hasText: 'Check your inbox' })).toBeVisible();
      await expect(page.getByLabel('E-mail', { exact: true })).toHaveValue(email);

      const link = await confirmationLinkFromMailbox(page, email);
      expect(link).toMatch(/^http:\/\/localhost:\d+\/users\/confirm\/[A-Za-z0-9_-]{43}$/);
      await page.goto(link);
      await page.getByRole('button', { name: 'Confirm my e-mail' }).click();

      await expect(page).toHaveURL(/\/users\/log-in$/);
      await expect(page.getByRole('status').filter({ hasText: 'confirmed' })).toBeVisible();
      if (javaScriptEnabled) await waitForHydration(page);

      // A wrong password first: one generic message, the e-mail kept. With WASM the page is not reloaded.
      if (javaScriptEnabled) await page.evaluate(() => { window.__samePage = true; });
      await page.getByLabel('E-mail', { exact: true }).fill(email);
      await page.getByLabel('Password', { exact: true }).fill('not my password at all');
      await page.getByRole('button', { name: 'Log in' }).click();
      await expect(page.getByRole('alert').filter({ hasText: 'Invalid e-mail or password.' })).toBeVisible();
      await expect(page.getByLabel('E-mail', { exact: true })).toHaveValue(email);
      if (javaScriptEnabled) expect(await page.evaluate(() => window.__samePage)).toBe(true);

      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: 'Log in' }).click();
      await expect(page.getByRole('heading', { name: 'Your dashboard' })).toBeVisible();
      await expect(page).toHaveURL(/\/$/);
      await expect(page.locator('main')).toContainText(email);

      await page.getByRole('button', { name: 'Log out' }).click();
      await expect(page.getByRole('status').filter({ hasText: 'logged out' })).toBeVisible();
      await expect(page.getByRole('navigation', { name: 'Account' }).getByRole('link', { name: 'Log in' })).toBeVisible();
      await page.goto('/');
      await expect(page.getByRole('heading', { name: 'Your dashboard' })).toHaveCount(0);
    });
  });
}
