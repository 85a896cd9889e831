import { expect } from '@playwright/test';
import { createHmac } from 'node:crypto';

export const PASSWORD = 'correct horse battery staple';

export function uniqueEmail(tag) {
  return `${tag}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
}

/** Waits until the WASM bundle has hydrated the page (App marks <body data-hydrated>). */
export async function waitForHydration(page) {
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1, { timeout: 20_000 });
}

/**
 * Opens the newest mail in the development mailbox whose list entry matches `pattern` (reloading until it is there).
 * The mailbox answers only to this machine: its requests say they come from loopback (the page's next requests
 * are its own device's again, see fixtures.mjs).
 */
export async function openMail(page, pattern) {
  await page.setExtraHTTPHeaders({ 'x-forwarded-for': '127.0.0.1' });
  try {
    await expect(async () => {
      await page.goto('/dev/mailbox');
      await expect(page.getByRole('link', { name: pattern }).first()).toBeVisible({ timeout: 1_000 });
    }).toPass({ timeout: 15_000 });
    await page.getByRole('link', { name: pattern }).first().click();
    await page.waitForLoadState();
  } finally {
    await page.setExtraHTTPHeaders({});
  }
}

const escapeRe = (s) => s.replace(/[.+*?^${}()|[\]\\]/g, '\\$&');

/** Opens the newest confirmation mail to `email` in the development mailbox and returns the link in it. */
export async function confirmationLinkFromMailbox(page, email) {
  await openMail(page, new RegExp(`${escapeRe(email)}.*Confirm your e-mail`));
  await expect(page.getByRole('heading', { name: /Confirm your e-mail/ })).toBeVisible();
  const link = page.getByRole('link', { name: /\/users\/confirm\// });
  return await link.getAttribute('href');
}

/** Opens the newest sign-in-link mail to `email` and returns the link in it. */
export async function magicLinkFromMailbox(page, email) {
  await openMail(page, new RegExp(`${escapeRe(email)}.*sign-in link`));
  return await page.getByRole('link', { name: /\/users\/log-in\// }).getAttribute('href');
}

/** Registers and confirms `email` through the pages and the development mailbox. */
export async function registerAndConfirm(page, email) {
  await page.goto('/users/register');
  await page.getByLabel('E-mail', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page).toHaveURL(/\/users\/confirm$/);
  const link = await confirmationLinkFromMailbox(page, email);
  await page.goto(link);
  await page.getByRole('button', { name: 'Confirm my e-mail' }).click();
  await expect(page).toHaveURL(/\/users\/log-in$/);
}

let devices = 0;

/**
 * A browser standing for another device, on an address of its own (documentation range 198.51.100.0/24): the
 * server's per-address limits see each device apart, as they would real ones. (It cannot read the development
 * mailbox, which answers only to this machine.)
 */
export async function newDevice(browser) {
  devices += 1;
  const address = `198.51.100.${(devices % 250) + 1}`; // apart from fixtures.mjs's per-test addresses
  return (await browser.newContext({ extraHTTPHeaders: { 'x-forwarded-for': address } })).newPage();
}

/** Logs in through the log-in page. */
export async function logIn(page, email, password = PASSWORD) {
  await page.goto('/users/log-in');
  await page.getByLabel('E-mail', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByRole('heading', { name: 'Your dashboard' })).toBeVisible();
}

/** Opens the newest mail to `email` whose subject matches `subject` and returns its link containing `marker`. */
export async function linkFromMailbox(page, email, subject, marker) {
  await openMail(page, new RegExp(`${escapeRe(email)}.*${subject}`));
  return await page.getByRole('link', { name: new RegExp(escapeRe(marker)) }).first().getAttribute('href');
}

/** Asks for a sign-in link on the log-in page it is on and follows it from the mailbox. */
export async function followSignInLink(page, email, { javaScript = true } = {}) {
  // With JavaScript, let the page hydrate first: a click that lands while hydration attaches its handlers can be
  // lost. (Without it the form posts as plain HTML.)
  if (javaScript) await waitForHydration(page);
  await page.getByText('E-mail me a sign-in link instead').click();
  await page.getByLabel('E-mail for the link').fill(email);
  await page.getByRole('button', { name: 'Send me a link' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'sign-in link is on its way' })).toBeVisible();
  await page.goto(await magicLinkFromMailbox(page, email));
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Asks for a sign-in link on the log-in page and follows it from the mailbox to the dashboard. */
export async function signInByLink(page, email, { javaScript = true } = {}) {
  await page.goto('/users/log-in');
  await followSignInLink(page, email, { javaScript });
  await expect(page.getByRole('heading', { name: 'Your dashboard' })).toBeVisible();
}

/** The account navigation shows "Log in": the browser is signed out. */
export async function expectSignedOut(page) {
  await expect(page.getByRole('navigation', { name: 'Account' }).getByRole('link', { name: 'Log in' })).toBeVisible();
}

/**
 * An authenticator app for the tests: the RFC 6238 code (SHA-1, 6 digits, 30 s) for a base32 key, `stepOffset`
 * steps from now. Written out here (node:crypto) rather than taken from a package: it is the test's own
 * independent check of the server's TOTP.
 */
export function totp(base32Key, stepOffset = 0) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32Key.replace(/=+$/, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000 / 30) + stepOffset));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  const value = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return value.toString().padStart(6, '0');
}

/** A new confirmed user signed in in two separate browser contexts. */
export async function twoSignedInBrowsers(browser, tag) {
  const email = uniqueEmail(tag);
  const a = await (await browser.newContext()).newPage();
  const b = await (await browser.newContext()).newPage();
  await registerAndConfirm(a, email);
  await logIn(a, email);
  await logIn(b, email);
  return { email, a, b };
}

/** Turns two-step verification on from the security page (signed in, sudo window open); returns the app's key. */
export async function enableTotp(page) {
  await page.goto('/users/settings/security');
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
  const key = (await page.locator('code.secret').textContent()).trim();
  await page.getByLabel('Code from the app').fill(totp(key));
  await page.getByRole('button', { name: 'Turn on' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Two-step verification is on' })).toBeVisible();
  return key;
}
