// Development helper: screenshots of the API tokens page (the form, a new token, the list), the API reference and an
// organization's service accounts page (empty, then a new one with its secret),
// light and dark, wide and narrow. Start a development server first, then:
// node end2end/shots-api.mjs BASE_URL OUT_DIR
import { chromium, expect } from '@playwright/test';
import { uniqueEmail, registerAndConfirm, logIn, waitForHydration } from './tests/helpers.mjs';
const [base, out] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
const shot = async (page, name) => { await page.waitForTimeout(400); await page.screenshot({ path: `${out}/${name}.png`, fullPage: true }); };

for (const [scheme, width] of [['light', 1000], ['dark', 390]]) {
  const page = await (await browser.newContext({ baseURL: base, colorScheme: scheme, viewport: { width, height: 800 } })).newPage();
  const email = uniqueEmail(`shots-api-${scheme}`);
  await registerAndConfirm(page, email);
  await logIn(page, email);
  await page.goto('/organizations/new');
  await waitForHydration(page);
  await page.getByLabel('Name').fill(`Acme ${scheme}`);
  await page.getByRole('button', { name: /create/i }).click();
  await page.waitForURL(/\/members$/);
  await page.goto('/users/settings/api-tokens');
  await waitForHydration(page);
  await shot(page, `api-tokens-empty-${scheme}`);
  await page.getByLabel('Name').fill('deploy script');
  await page.getByRole('checkbox').first().check();
  await page.getByRole('button', { name: 'Make token' }).click();
  await expect(page.getByLabel(/Your new token/)).toBeVisible();
  await page.getByLabel('Name').focus();
  await shot(page, `api-tokens-made-${scheme}`);
  await page.goto('/developers/api');
  await shot(page, `api-reference-${scheme}`);
  await page.goto('/organizations');
  await page.getByRole('link', { name: `Acme ${scheme}` }).first().click();
  await page.getByRole('link', { name: 'Service accounts' }).click();
  await waitForHydration(page);
  await shot(page, `service-accounts-empty-${scheme}`);
  await page.getByLabel('Name').fill('billing sync');
  await page.getByRole('button', { name: 'Make service account' }).click();
  await expect(page.getByLabel(/Client secret/)).toBeVisible();
  await page.getByRole('button', { name: 'Copy client secret' }).focus();
  await shot(page, `service-accounts-made-${scheme}`);
}
await browser.close();
