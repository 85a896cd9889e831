// Development helper: screenshots of what the one form shape changed (the notice a reactive page now shows after
// its own form, the invitation link to copy), light and dark. Start a development server first, then:
// node end2end/shots-forms.mjs BASE_URL OUT_DIR
import { chromium, expect } from '@playwright/test';
import { uniqueEmail, registerAndConfirm, logIn, waitForHydration } from './tests/helpers.mjs';
const [base, out] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
const shot = async (page, name) => { await page.waitForTimeout(500); await page.screenshot({ path: `${out}/${name}.png`, fullPage: true }); };

for (const scheme of ['light', 'dark']) {
  const page = await (await browser.newContext({ baseURL: base, colorScheme: scheme, viewport: { width: 1000, height: 800 } })).newPage();
  const email = uniqueEmail(`shots-${scheme}`);
  await registerAndConfirm(page, email);
  await logIn(page, email);
  await page.goto('/users/settings');
  await waitForHydration(page);
  await page.getByLabel('Display name').fill('Ann Example');
  await page.getByRole('button', { name: 'Save' }).first().click();
  await expect(page.getByRole('status')).toBeVisible();
  await shot(page, `settings-saved-${scheme}`);

  await page.goto('/organizations/new');
  await waitForHydration(page);
  await page.getByLabel('Name').fill(`Acme ${scheme}`);
  await page.getByRole('button', { name: /create/i }).click();
  await page.waitForURL(/\/members$/);
  await waitForHydration(page);
  await page.getByRole('textbox', { name: 'E-mail' }).fill(`invitee-${scheme}@example.com`);
  await page.getByLabel('Send the invitation by e-mail').uncheck();
  await page.getByRole('button', { name: /invite/i }).click();
  await page.waitForTimeout(1500);
  await shot(page, `members-invited-${scheme}`);
}
await browser.close();
