import { test, expect } from './fixtures.mjs';
import { uniqueEmail, registerAndConfirm, logIn, waitForHydration } from './helpers.mjs';

test('revoking a session from the sessions page signs that browser out at its next request', async ({ browser }) => {
  const email = uniqueEmail('sessions');
  const a = await (await browser.newContext()).newPage();
  const b = await (await browser.newContext({ userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:130.0) Gecko/20100101 Firefox/130.0' })).newPage();
  await registerAndConfirm(a, email);
  await logIn(a, email);
  await logIn(b, email);

  await a.goto('/users/sessions');
  await waitForHydration(a);
  const devices = a.locator('.session-list');
  await expect(devices.getByText('This device')).toBeVisible();
  await expect(devices.getByText('Firefox on Windows')).toBeVisible();
  await a.getByRole('button', { name: /Sign out Firefox on Windows/ }).click();
  await expect(devices.getByText('Firefox on Windows')).toHaveCount(0);
  await expect(a.getByText('Signed out a device')).toBeVisible();

  await b.reload();
  await expect(b.getByRole('heading', { name: 'Your dashboard' })).toHaveCount(0);
  await expect(b.getByRole('navigation', { name: 'Account' }).getByRole('link', { name: 'Log in' })).toBeVisible();
});
