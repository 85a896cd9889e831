import { test, expect } from './fixtures.mjs';
import { uniqueEmail, registerAndConfirm, waitForHydration, followSignInLink, PASSWORD } from './helpers.mjs';

// A page behind log in, opened signed out, sends the visitor to log in and brings them back after signing in.
for (const javaScriptEnabled of [true, false]) {
  const mode = javaScriptEnabled ? 'with JavaScript' : 'without JavaScript';
  test.describe(mode, () => {
    test.use({ javaScriptEnabled });

    test(`a signed-out visit to the sessions page logs in and lands back there (${mode})`, async ({ page }) => {
      const email = uniqueEmail(javaScriptEnabled ? 'back-js' : 'back-nojs');
      await registerAndConfirm(page, email);
      await page.goto('/users/sessions');
      await expect(page).toHaveURL(/\/users\/log-in\?return_to=\/users\/sessions$/);
      if (javaScriptEnabled) await waitForHydration(page);
      await page.getByLabel('E-mail', { exact: true }).fill(email);
      // A wrong password first: the page to come back to is kept.
      await page.getByLabel('Password', { exact: true }).fill('not the password at all');
      await page.getByRole('button', { name: 'Log in' }).click();
      await expect(page.getByRole('alert').filter({ hasText: /Invalid e-mail or password/i })).toBeVisible();
      await expect(page).toHaveURL(/return_to=\/users\/sessions/);
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: 'Log in' }).click();
      await expect(page).toHaveURL(/\/users\/sessions$/);
      await expect(page.getByRole('heading', { name: 'Your sessions' })).toBeVisible();
    });
  });
}

test('a sign-in link asked for on the way to a page lands on that page', async ({ page }) => {
  const email = uniqueEmail('back-link');
  await registerAndConfirm(page, email);
  await page.goto('/organizations/new');
  await expect(page).toHaveURL(/return_to=\/organizations\/new$/);
  await followSignInLink(page, email);
  await expect(page).toHaveURL(/\/organizations\/new$/);
  await expect(page.getByRole('heading', { name: 'New organization' })).toBeVisible();
});

test('a session that ended meanwhile: the next page behind log in offers to log in and come back', async ({ page }) => {
  const email = uniqueEmail('back-ended');
  await registerAndConfirm(page, email);
  await page.goto('/users/log-in');
  await waitForHydration(page);
  await page.getByLabel('E-mail', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByRole('heading', { name: 'Your dashboard' })).toBeVisible();
  // The session ends behind the page's back (another tab logged out; it expired).
  await page.context().clearCookies();
  await page.getByRole('navigation', { name: 'Account' }).getByRole('link', { name: 'Sessions' }).click();
  await expect(page.getByRole('heading', { name: 'Please log in' })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Your sessions' })).toHaveCount(0);
  await page.getByRole('main').getByRole('link', { name: 'Log in' }).click();
  await expect(page).toHaveURL(/\/users\/log-in\?return_to=\/users\/sessions$/);
});
