import { test, expect } from './fixtures.mjs';
import { waitForHydration } from './helpers.mjs';

test('the register page refuses a common password and the e-mail local part before submit, with a meter asked of the server', async ({ page }) => {
  await page.goto('/users/register');
  await waitForHydration(page);
  const requests = [];
  page.on('request', (r) => { if (r.method() === 'POST') requests.push(r.url()); });

  await page.getByLabel('E-mail', { exact: true }).fill('lee.morgan@example.com');
  const password = page.getByLabel('Password', { exact: true });

  await password.fill('password123456');
  await expect(page.getByText(/Add another word/)).toBeVisible();
  await expect(page.getByText(/^(Very weak|Weak)$/)).toBeVisible();

  await password.fill('lee.morgan rides again');
  await expect(page.getByText(/e-mail address or this site's name/)).toBeVisible();

  await password.fill('purple elephants dance quietly');
  await expect(page.getByText(/Add another word|e-mail address or this site/)).toHaveCount(0);
  await expect(page.getByText(/^(Strong|Very strong)$/)).toBeVisible();
  // The policy and the meter are asked of the server as one types (zxcvbn stays out of the bundle); nothing is submitted.
  expect(requests.length).toBeGreaterThan(0);
  expect(requests.filter((u) => !u.endsWith('/api/check_new_password'))).toEqual([]);
});
