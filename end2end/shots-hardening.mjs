// Development helper: screenshots of the pages issue 15 changed (sessions, security, sudo, admin), light and dark.
// Start a development server first, then: node end2end/shots-hardening.mjs BASE_URL DB_FILE OUT_DIR
import { chromium, expect } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { PASSWORD, uniqueEmail, registerAndConfirm, logIn, magicLinkFromMailbox, waitForHydration, totp } from './tests/helpers.mjs';
const [base, db, out] = process.argv.slice(2);
const sql = (q) => execFileSync('python3', ['-c', `import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()`, db, q]);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
const ctx = async (scheme = 'light') => (await browser.newContext({ baseURL: base, colorScheme: scheme, viewport: { width: 1000, height: 800 } })).newPage();
const shot = async (page, name) => { await page.waitForTimeout(800); await page.screenshot({ path: `${out}/${name}.png`, fullPage: true }); };

const email = uniqueEmail('shots');
const a = await ctx();
await registerAndConfirm(a, email);
await logIn(a, email);
// A second browser signed in by a mailed link (which opens no sudo window): the sessions page asks for sudo.
const b = await ctx('dark');
await b.goto('/users/log-in');
await b.getByRole('button', { name: /link/i }).first().click().catch(() => {});
await b.goto('/users/log-in');
await b.getByLabel('E-mail', { exact: true }).fill(email);
const link = await (async () => {
  await b.request.post('/api/request_magic_link', { form: { email }, headers: { 'sec-fetch-site': 'same-origin', accept: 'application/json' } });
  return magicLinkFromMailbox(b, email);
})();
await b.goto(link);
await b.getByRole('button').filter({ hasText: /sign in|log in/i }).first().click();
await b.goto('/users/sessions');
await waitForHydration(b);
await shot(b, 'sessions-sudo-prompt-dark');
// Security page, window open: set up TOTP, with "keep my other devices signed in".
await a.goto('/users/settings/security');
await waitForHydration(a);
await a.getByRole('button', { name: 'Set up an authenticator app' }).click();
await expect(a.locator('code.secret')).toBeVisible();
await shot(a, 'security-enable-keep');
const key = (await a.locator('code.secret').textContent()).trim();
await a.getByLabel('Code from the app').fill(totp(key));
await a.getByRole('button', { name: 'Turn on' }).click();
await expect(a.getByRole('status').filter({ hasText: 'Two-step verification is on' })).toBeVisible();
await shot(a, 'security-on');
// Admin: the console with its window closed, and the sudo page that takes only a code.
execFileSync(process.env.E2E_BIN, ['admin', 'grant', email], { env: { PATH: process.env.PATH, DATABASE_URL: `sqlite://${db}` } });
sql(`UPDATE sessions SET sudo_at = NULL`);
await a.goto('/admin/users');
await waitForHydration(a);
await shot(a, 'admin-sudo-prompt');
const d = await ctx('dark');
for (const c of await a.context().cookies()) await d.context().addCookies([c]);
await d.goto('/admin');
await shot(d, 'admin-sudo-prompt-dark');
await a.getByRole('link', { name: "Confirm it's you" }).click();
await waitForHydration(a);
await shot(a, 'sudo-admin-code-only');
await d.goto(a.url());
await shot(d, 'sudo-admin-code-only-dark');
await browser.close();
