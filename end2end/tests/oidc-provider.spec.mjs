// Portcullis as an OpenID provider, driven by a client library nobody here wrote (openid-client): discovery,
// authorization code + PKCE through the real pages in Chromium (a person with two-step verification), token
// exchange, userinfo, refresh rotation, and a reused refresh token ending its family.
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import * as oidc from 'openid-client';
import { test, expect } from './fixtures.mjs';
import { PASSWORD, uniqueEmail, registerAndConfirm, logIn, waitForHydration, totp, enableTotp } from './helpers.mjs';

/** The app's loopback callback (RFC 8252: a native app listens on a port of its choice): answers every request. */
async function callbackServer() {
  const server = createServer((_, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('back in the app'));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${server.address().port}/callback` };
}

/** `portcullis oauth-client create` on the server's database, as an operator would run it. */
function registerClient(name = 'Notes app', { firstParty = true } = {}) {
  const out = execFileSync(
    process.env.E2E_BIN,
    ['oauth-client', 'create', '--name', name, '--redirect-uri', 'http://127.0.0.1/callback', ...(firstParty ? ['--first-party'] : [])],
    { env: { PATH: process.env.PATH, DATABASE_URL: process.env.E2E_DATABASE_URL }, encoding: 'utf8' },
  );
  return { id: /client_id: (\S+)/.exec(out)[1], secret: /client_secret: (\S+)/.exec(out)[1] };
}

test.setTimeout(120_000);

test('openid-client signs a person with two-step verification in through the pages; a reused refresh token ends the family', async ({ browser, baseURL }) => {
  const email = uniqueEmail('oidc-provider');
  const page = await (await browser.newContext()).newPage();
  await registerAndConfirm(page, email);
  await logIn(page, email);
  const key = await enableTotp(page);
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page.getByRole('link', { name: 'Log in' }).first()).toBeVisible();

  const app = registerClient();
  const config = await oidc.discovery(new URL(baseURL), app.id, app.secret, undefined, {
    execute: [oidc.allowInsecureRequests], // the test server is plain http on localhost
  });
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const callback = await callbackServer();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: callback.url,
    scope: 'openid email offline_access',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });

  await page.goto(url.href);
  await expect(page).toHaveURL(/\/users\/log-in\?return_to=/);
  await waitForHydration(page);
  await page.getByLabel('E-mail', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page).toHaveURL(/\/users\/mfa/);
  await page.getByLabel('Authentication code').fill(totp(key, 1));
  await page.getByRole('button', { name: 'Verify' }).click();
  await page.waitForURL((u) => u.href.startsWith(`${callback.url}?`));

  const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
  });
  const claims = tokens.claims();
  expect(claims.email).toBe(email);
  expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
  expect(claims.acr).toBe('urn:portcullis:acr:mfa');
  const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
  expect(info.email).toBe(email);

  const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token);
  expect(refreshed.refresh_token).toBeTruthy();
  expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
  expect((await oidc.fetchUserInfo(config, refreshed.access_token, claims.sub)).email).toBe(email);

  // The first refresh token again: refused, and the whole family with it.
  await expect(oidc.refreshTokenGrant(config, tokens.refresh_token)).rejects.toMatchObject({ error: 'invalid_grant' });
  await expect(oidc.refreshTokenGrant(config, refreshed.refresh_token)).rejects.toMatchObject({ error: 'invalid_grant' });
  await expect(oidc.fetchUserInfo(config, refreshed.access_token, claims.sub)).rejects.toThrow();
  callback.server.close();
});

test('an admin sees the registered app in the console and revokes it', async ({ browser, baseURL }) => {
  const email = uniqueEmail('oidc-admin');
  const page = await (await browser.newContext()).newPage();
  await registerAndConfirm(page, email);
  execFileSync(process.env.E2E_BIN, ['admin', 'grant', email], {
    env: { PATH: process.env.PATH, DATABASE_URL: process.env.E2E_DATABASE_URL },
  });
  await logIn(page, email);
  const key = await enableTotp(page);

  const app = registerClient('Reports app');
  const config = await oidc.discovery(new URL(baseURL), app.id, app.secret, undefined, { execute: [oidc.allowInsecureRequests] });
  await page.goto('/admin');
  await waitForHydration(page);
  const apps = page.getByRole('list', { name: 'Apps' });
  await expect(apps.getByText(app.id)).toBeVisible();
  await page.screenshot({ path: test.info().outputPath('admin-apps.png'), fullPage: true });
  await apps.getByRole('button', { name: 'Revoke Reports app' }).click();
  await expect(page.getByText('App revoked.')).toBeVisible();
  await expect(apps.getByRole('button', { name: 'Revoke Reports app' })).toHaveCount(0);
  await expect(apps.getByText(/revoked \d{4}-/)).toHaveCount(1);

  // The revoked app can no longer start a sign-in: the authorization page refuses it here, with no redirect.
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: 'http://127.0.0.1:9/callback',
    scope: 'openid',
    code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
  });
  const answer = await page.goto(url.href);
  expect(answer.status()).toBe(400);
  await expect(page.getByText('not registered with this site')).toBeVisible();
});

test('an app that is not first-party asks for consent, and Allow takes the browser back to it with a code', async ({ browser, baseURL }) => {
  const email = uniqueEmail('oidc-consent');
  const page = await (await browser.newContext()).newPage();
  await registerAndConfirm(page, email);
  await logIn(page, email);
  const app = registerClient('Partner app', { firstParty: false });
  const config = await oidc.discovery(new URL(baseURL), app.id, app.secret, undefined, { execute: [oidc.allowInsecureRequests] });
  const callback = await callbackServer();
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: callback.url,
    scope: 'openid email',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  });
  await page.goto(url.href);
  await expect(page.getByRole('heading', { name: 'Allow Partner app to use your account?' })).toBeVisible();
  await expect(page.getByText('See your e-mail address')).toBeVisible();
  // The page's own policy lets the form's redirect reach the app (browsers apply form-action to it).
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL((u) => u.href.startsWith(`${callback.url}?`));
  const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), { pkceCodeVerifier: verifier, expectedState: state });
  expect(tokens.claims().email).toBe(email);

  // Remembered: the same request goes straight back to the app.
  await page.goto(url.href);
  await page.waitForURL((u) => u.href.startsWith(`${callback.url}?`));

  // The person sees the app on the API tokens page and takes its access back: its token stops, and it asks again.
  await page.goto('/users/settings/api-tokens');
  await waitForHydration(page);
  await expect(page.getByText('Partner app', { exact: true })).toBeVisible();
  await expect(page.getByText(/can: know who you are on this site, see your e-mail address/)).toBeVisible();
  await page.getByRole('button', { name: 'Revoke the app Partner app' }).click();
  await expect(page.getByText('App revoked.')).toBeVisible();
  await expect(page.getByText('No app signs in with your account.')).toBeVisible();
  await expect(oidc.fetchUserInfo(config, tokens.access_token, tokens.claims().sub)).rejects.toThrow();
  await page.goto(url.href);
  await expect(page.getByRole('heading', { name: 'Allow Partner app to use your account?' })).toBeVisible();
  callback.server.close();
});
