import { test, expect } from './fixtures.mjs';
import { PASSWORD, uniqueEmail, registerAndConfirm, logIn, waitForHydration, linkFromMailbox } from './helpers.mjs';

/** Creates an organization through /organizations/new and returns its slug (from the page it lands on). */
async function createOrganization(page, name) {
  await page.goto('/organizations/new');
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByRole('button', { name: 'Create organization' }).click();
  await expect(page).toHaveURL(/\/organizations\/[a-z0-9-]+\/members$/);
  await expect(page.getByRole('status').filter({ hasText: 'Organization created' })).toBeVisible();
  return new URL(page.url()).pathname.split('/')[2];
}

async function invite(page, email, { role = 'member', mail = true } = {}) {
  await page.getByLabel('E-mail', { exact: true }).fill(email);
  await page.getByLabel('Role', { exact: true }).selectOption(role);
  if (!mail) await page.getByLabel('Send the invitation by e-mail').uncheck();
  await page.getByRole('button', { name: 'Invite', exact: true }).click();
  await expect(page.getByLabel(`Invitation link for ${email}`, { exact: false })).toBeVisible();
  return await page.getByLabel(`Invitation link for ${email}`, { exact: false }).inputValue();
}

test.setTimeout(120_000);

test('an owner invites a new user, promotes them, the admin invites a third, and removal closes the org to them at once', async ({ browser }) => {
  const ownerEmail = uniqueEmail('org-owner');
  const adminEmail = uniqueEmail('org-invitee');
  const thirdEmail = uniqueEmail('org-third');
  const owner = await (await browser.newContext()).newPage();
  await registerAndConfirm(owner, ownerEmail);
  await logIn(owner, ownerEmail);
  const name = `Acme ${Date.now() % 100000}`;
  const slug = await createOrganization(owner, name);
  await waitForHydration(owner);
  // The layout shows the active organization.
  await expect(owner.getByRole('navigation', { name: 'Account' }).locator('summary')).toHaveText(name);

  await invite(owner, adminEmail);
  await expect(owner.getByRole('list', { name: 'Open invitations' }).getByRole('listitem').filter({ hasText: adminEmail })).toContainText('as member');

  // The invitee, in a browser of their own, signs up from the mail and lands in the organization.
  const invitee = await (await browser.newContext()).newPage();
  const link = await linkFromMailbox(invitee, adminEmail, `invited you to join ${name}`, '/invitations/');
  await invitee.goto(link);
  await waitForHydration(invitee);
  await expect(invitee.getByRole('heading', { name: `Join ${name}` })).toBeVisible();
  await expect(invitee.getByLabel('E-mail', { exact: true })).toHaveValue(adminEmail);
  await expect(invitee.getByLabel('E-mail', { exact: true })).not.toBeEditable();
  await invitee.getByLabel('Choose a password', { exact: true }).fill(PASSWORD);
  await invitee.getByRole('button', { name: 'Create account and join' }).click();
  await expect(invitee).toHaveURL(new RegExp(`/organizations/${slug}$`));
  await expect(invitee.getByRole('status').filter({ hasText: 'You joined the organization' })).toBeVisible();
  await expect(invitee.getByRole('heading', { name })).toBeVisible();

  // The owner makes them admin.
  await owner.goto(`/organizations/${slug}/members`);
  await waitForHydration(owner);
  await owner.getByLabel(`Role of ${adminEmail}`, { exact: true }).selectOption('admin');
  await owner.getByRole('button', { name: `Change the role of ${adminEmail}` }).click();
  await expect(owner.getByRole('status').filter({ hasText: 'Role changed' })).toBeVisible();
  await expect(owner.getByRole('list', { name: 'Members' }).getByRole('listitem').filter({ hasText: adminEmail }).locator('.badge').first()).toHaveText('admin');

  // The admin invites a third user (by link only).
  await invitee.goto(`/organizations/${slug}/members`);
  await waitForHydration(invitee);
  const thirdLink = await invite(invitee, thirdEmail, { mail: false });
  expect(thirdLink).toMatch(/\/invitations\/[A-Za-z0-9_-]{43}$/);
  await expect(invitee.getByRole('list', { name: 'Open invitations' }).getByRole('listitem').filter({ hasText: thirdEmail })).toBeVisible();

  // The owner removes the admin; the admin's next request to the organization is 404.
  await owner.reload();
  await waitForHydration(owner);
  await owner.getByRole('button', { name: `Remove ${adminEmail}` }).click();
  await expect(owner.getByRole('status').filter({ hasText: 'Member removed' })).toBeVisible();
  await expect(owner.getByRole('list', { name: 'Members' }).getByRole('listitem').filter({ hasText: adminEmail })).toHaveCount(0);

  const response = await invitee.goto(`/organizations/${slug}/members`);
  expect(response.status()).toBe(404);
  await expect(invitee.getByRole('heading', { name: 'Page not found' })).toBeVisible();

  // The switcher in the header: a second organization becomes active; the first is one click away.
  const second = await createOrganization(owner, `Beta ${Date.now() % 100000}`);
  await waitForHydration(owner);
  const nav = owner.getByRole('navigation', { name: 'Account' });
  await expect(nav.locator('summary')).toHaveText(/^Beta/);
  await nav.locator('summary').click();
  await nav.getByRole('button', { name: `Switch to ${name}` }).click();
  await expect(owner).toHaveURL(new RegExp(`/organizations/${slug}$`));
  await expect(nav.locator('summary')).toHaveText(name);
  expect(second).not.toBe(slug);
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('forms work: create, invite by link, and a user signed in with another e-mail gets no accept button', async ({ browser }) => {
    const ownerEmail = uniqueEmail('org-nojs-owner');
    const otherEmail = uniqueEmail('org-nojs-other');
    const invited = uniqueEmail('org-nojs-invited');
    const owner = await (await browser.newContext({ javaScriptEnabled: false })).newPage();
    await registerAndConfirm(owner, ownerEmail);
    await logIn(owner, ownerEmail);
    const slug = await createOrganization(owner, `No Script ${Date.now() % 100000}`);
    const link = await invite(owner, invited, { mail: false });

    const other = await (await browser.newContext({ javaScriptEnabled: false })).newPage();
    await registerAndConfirm(other, otherEmail);
    await logIn(other, otherEmail);
    await other.goto(link);
    await expect(other.getByText(`This invitation is for ${invited}, and you are signed in as ${otherEmail}`)).toBeVisible();
    await expect(other.getByRole('button', { name: /Accept/ })).toHaveCount(0);
    const outsider = await other.goto(`/organizations/${slug}`);
    expect(outsider.status()).toBe(404);
  });
});
