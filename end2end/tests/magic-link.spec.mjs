import { test, expect } from './fixtures.mjs';
import { uniqueEmail, registerAndConfirm, magicLinkFromMailbox } from './helpers.mjs';

for (const javaScriptEnabled of [true, false]) {
  test.describe(javaScriptEnabled ? 'with JavaScript' : 'without JavaScript', () => {
    test.use({ javaScriptEnabled });

    test('"e-mail me a link" signs in from the mailed link', async ({ page }) => {
      const email = uniqueEmail(javaScriptEnabled ? 'magic-js' : 'magic-nojs');
      await registerAndConfirm(page, email);

      await page.getByText('E-mail me a sign-in link instead').click();
      await page.getByLabel('E-mail for the link').fill(email);
      await page.getByRole('button', { name: 'Send me a link' }).click();
      await expect(page.getByRole('status').filter({ hasText: 'sign-in link is on its way' })).toBeVisible();

      const link = await magicLinkFromMailbox(page, email);
      await page.goto(link);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect(page.getByRole('heading', { name: 'Your dashboard' })).toBeVisible();
      await expect(page.locator('main')).toContainText(email);
    });
  });
}
