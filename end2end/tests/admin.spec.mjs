import { test, expect } from './fixtures.mjs';
import { execFileSync } from 'node:child_process';
import { PASSWORD, uniqueEmail, registerAndConfirm, logIn, waitForHydration, totp, expectSignedOut } from './helpers.mjs';

/** `portcullis admin grant EMAIL`, the way an operator makes the first admin. */
function grantAdmin(email) {
  const out = execFileSync(process.env.E2E_BIN, ['admin', 'grant', email], {
    env: { PATH: process.env.PATH, DATABASE_URL: process.env.E2E_DATABASE_URL },
  }).toString();
  expect(out).toContain(`${email} is an admin`);
}

/** Opens an action's confirmation and confirms, once the page has settled (an action re-renders the user page). */
async function confirmAction(page, opener, button) {
  await page.waitForLoadState('networkidle');
  await page.getByText(opener, { exact: true }).click();
  await page.getByRole('button', { name: button }).click();
}

/** Submits the log-in form with the right password (for an account that will be refused). */
async function attemptLogIn(page, email) {
  await page.goto('/users/log-in');
  await page.getByLabel('E-mail', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
}

test.setTimeout(150_000);

test('an admin granted by the CLI enrols MFA, finds a user, locks and unlocks them, impersonates them and exports the audit rows', async ({ browser }) => {
  const adminEmail = uniqueEmail('admin');
  const userEmail = uniqueEmail('admin-user');
  const admin = await (await browser.newContext({ acceptDownloads: true })).newPage();
  const user = await (await browser.newContext()).newPage();
  await registerAndConfirm(admin, adminEmail);
  await registerAndConfirm(user, userEmail);
  await logIn(user, userEmail);

  grantAdmin(adminEmail);
  await logIn(admin, adminEmail);
  await expect(admin.getByRole('navigation', { name: 'Account' }).getByRole('link', { name: 'Admin' })).toBeVisible();

  // An admin without two-step verification is sent to enrol first.
  await admin.goto('/admin');
  await expect(admin).toHaveURL(/\/users\/settings\/security$/);
  await expect(admin.getByRole('status').filter({ hasText: 'Admin pages need two-step verification' })).toBeVisible();
  await waitForHydration(admin);
  await admin.getByRole('button', { name: 'Set up an authenticator app' }).click();
  const key = (await admin.locator('code.secret').textContent()).trim();
  await admin.getByLabel('Code from the app').fill(totp(key));
  await admin.getByRole('button', { name: 'Turn on' }).click();
  await expect(admin.getByRole('status').filter({ hasText: 'Two-step verification is on' })).toBeVisible();

  // The overview, then the user found by e-mail.
  await admin.goto('/admin');
  await expect(admin.getByRole('heading', { name: 'Admin', exact: true })).toBeVisible();
  await expect(admin.getByRole('definition').first()).toBeVisible();
  await admin.getByRole('navigation', { name: 'Admin' }).getByRole('link', { name: 'Users' }).click();
  await admin.getByLabel('E-mail contains').fill(userEmail);
  await admin.getByRole('button', { name: 'Search' }).click();
  await expect(admin.getByRole('row')).toHaveCount(2); // header + the one match
  await admin.getByRole('link', { name: userEmail }).click();
  await expect(admin.getByRole('heading', { name: userEmail })).toBeVisible();
  const userPage = admin.url();
  await waitForHydration(admin);

  // Lock: the user's open browser is signed out at its next request, and cannot log in again.
  await confirmAction(admin, 'Lock…', 'Lock account');
  await expect(admin.getByRole('status').filter({ hasText: 'Account locked' })).toBeVisible();
  await expect(admin.getByText(/Locked by an admin since/)).toBeVisible();
  await user.goto('/users/settings');
  await expectSignedOut(user);
  // The right password is answered like a wrong one: it confirms nothing to whoever holds it.
  await attemptLogIn(user, userEmail);
  await expect(user.getByRole('alert').filter({ hasText: 'Invalid e-mail or password' })).toBeVisible();

  // Unlock: they can log in again.
  await confirmAction(admin, 'Unlock…', 'Unlock account');
  await expect(admin.getByRole('status').filter({ hasText: 'Account unlocked' })).toBeVisible();
  await logIn(user, userEmail);

  // Impersonate: the banner on every page; a password change is refused; stop brings the admin back.
  await confirmAction(admin, 'Impersonate…', 'Start impersonating');
  const banner = admin.getByRole('status').filter({ hasText: `You are viewing the site as ${userEmail}` });
  await expect(banner).toBeVisible();
  await expect(banner).toContainText(`Impersonated by ${adminEmail}`);
  await admin.goto('/users/settings');
  await expect(banner).toBeVisible();
  await expect(admin.getByRole('alert').filter({ hasText: 'Not while impersonating' }).first()).toBeVisible();
  await expect(admin.getByLabel('New password', { exact: true })).toHaveCount(0);
  // Straight to the re-authentication the password form sits behind: refused too, whatever the password.
  await admin.goto('/users/sudo?return_to=/users/settings');
  await waitForHydration(admin);
  await admin.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await admin.getByRole('button', { name: 'Confirm' }).click();
  await expect(admin.getByRole('alert').filter({ hasText: 'Not while impersonating' })).toBeVisible();
  await admin.goto('/admin');
  // As the user, the console is closed.
  await expect(admin.getByRole('heading', { name: 'Not allowed' })).toBeVisible();
  await expect(admin.getByRole('navigation', { name: 'Account' }).getByRole('link', { name: 'Admin' })).toHaveCount(0);
  await admin.getByRole('button', { name: 'Stop impersonating' }).click();
  await expect(admin.getByRole('status').filter({ hasText: 'Impersonation ended' })).toBeVisible();
  await expect(admin.getByRole('heading', { name: userEmail })).toBeVisible();
  await expect(banner).toHaveCount(0);

  // The audit rows of this session, exported as CSV.
  await admin.goto(`/admin/audit?actor=${encodeURIComponent(adminEmail)}`);
  await expect(admin.getByRole('cell', { name: 'admin.impersonation_stopped' })).toBeVisible();
  const [download] = await Promise.all([
    admin.waitForEvent('download'),
    admin.getByRole('link', { name: 'Export these rows as CSV' }).click(),
  ]);
  const csv = await (await download.createReadStream()).toArray().then((chunks) => Buffer.concat(chunks).toString());
  const lines = csv.trim().split('\r\n');
  expect(lines[0]).toBe('"time","action","outcome","actor","target","impersonator","ip","user_agent","detail","org_id","id"');
  const actions = lines.slice(1).map((l) => l.split('","')[1]);
  for (const a of ['admin.user_locked', 'admin.user_unlocked', 'admin.impersonation_started', 'admin.impersonation_stopped']) {
    expect(actions).toContain(a);
  }
  const started = lines.find((l) => l.includes('"admin.impersonation_started"'));
  expect(started).toContain(`"${adminEmail}","${userEmail}"`);
  // Only this admin's rows: the filter carried over to the export.
  expect(lines.slice(1).every((l) => l.includes(`"${adminEmail}"`))).toBeTruthy();

  // The user sees in their own activity what an admin did, without the admin's device or address.
  await user.goto('/users/sessions');
  const told = user.getByRole('listitem').filter({ hasText: 'An administrator started using the site as you' });
  await expect(told).toBeVisible();
  await expect(told).toContainText('an administrator');

  // Require a new password (S5): the user is signed out, and their password no longer signs in.
  await admin.goto(userPage);
  await expect(admin.getByRole('heading', { name: userEmail })).toBeVisible();
  await waitForHydration(admin);
  await confirmAction(admin, 'Require a new password…', 'Require a new password');
  await expect(admin.getByRole('status').filter({ hasText: 'The password no longer signs in' })).toBeVisible();
  await expect(admin.getByText('must be changed: it no longer signs in')).toBeVisible();
  await user.goto('/users/settings');
  await expectSignedOut(user);
  // Answered like a wrong password (a leaked password is not confirmed); the owner is mailed a reset link.
  await attemptLogIn(user, userEmail);
  await expect(user.getByRole('alert').filter({ hasText: 'Invalid e-mail or password' })).toBeVisible();
});

test('without JavaScript: a non-admin gets 403 from every admin page and the export', async ({ browser }) => {
  const email = uniqueEmail('not-admin');
  const page = await (await browser.newContext({ javaScriptEnabled: false })).newPage();
  await registerAndConfirm(page, email);
  await logIn(page, email);
  for (const path of ['/admin', '/admin/users', '/admin/audit', '/admin/jobs', '/admin/audit.csv']) {
    const r = await page.goto(path);
    expect(r.status(), path).toBe(403);
  }
});
