// Loopback OpenID Connect provider for Portcullis tests (oidc-provider, in-memory).
//
//   OIDC_PORT=4011 OIDC_CLIENTS='[{"client_id":"portcullis","client_secret":"s3cret",
//     "redirect_uris":["http://localhost:3000/auth/oidc/callback"]}]' node provider.mjs
//
// stdout carries exactly one line, "OIDC provider ready at <issuer>", once listening;
// everything else (oidc-provider notices, warnings, errors) goes to stderr.
// See README.md in this folder.

import { createSign, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

// oidc-provider prints NOTICEs with console.info (stdout). Keep stdout for the ready line.
console.info = console.error;
console.log = console.error;

const { default: Provider } = await import('oidc-provider');

function fail(message) {
  console.error(`oidc test provider: ${message}`);
  process.exit(2);
}

// ---------------------------------------------------------------- configuration
const port = Number.parseInt(process.env.OIDC_PORT ?? '', 10);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  fail('OIDC_PORT must be set to a TCP port (1-65535)');
}
const issuer = `http://localhost:${port}`;

let clientsInput;
try {
  clientsInput = JSON.parse(process.env.OIDC_CLIENTS ?? '');
} catch (err) {
  fail(`OIDC_CLIENTS must be a JSON array of clients: ${err.message}`);
}
if (!Array.isArray(clientsInput) || clientsInput.length === 0) {
  fail('OIDC_CLIENTS must be a non-empty JSON array of {client_id, client_secret, redirect_uris}');
}
const clients = clientsInput.map((c, i) => {
  if (!c || typeof c.client_id !== 'string' || typeof c.client_secret !== 'string'
    || !Array.isArray(c.redirect_uris) || c.redirect_uris.length === 0) {
    fail(`OIDC_CLIENTS[${i}] needs client_id, client_secret (strings) and redirect_uris (non-empty array)`);
  }
  return {
    grant_types: ['authorization_code'],
    response_types: ['code'],
    // Registered method; oidc-provider v9 accepts client_secret_basic and
    // client_secret_post interchangeably for a client registered with either.
    token_endpoint_auth_method: 'client_secret_basic',
    ...c, // any further client metadata is passed through as given
  };
});

const requirePkce = ['1', 'true', 'yes'].includes((process.env.OIDC_REQUIRE_PKCE ?? '').toLowerCase());

// ---------------------------------------------------------------- accounts
// Accounts are made on the fly by the login form / shortcut: sub -> claims.
const accounts = new Map();

async function findAccount(_ctx, sub) {
  const account = accounts.get(sub);
  if (!account) return undefined;
  return {
    accountId: sub,
    // oidc-provider filters these by the granted scopes / claims.
    async claims() {
      return { ...account };
    },
  };
}

// ---------------------------------------------------------------- keys
// One RS256 signing key, made fresh on every start (published at jwks_uri).
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingJwk = {
  ...privateKey.export({ format: 'jwk' }),
  kid: randomUUID(),
  alg: 'RS256',
  use: 'sig',
};

const cookieNames = {
  // Cookies are not port-scoped: on localhost the app sees these too, so give
  // them names that cannot collide with the app's own cookies.
  session: 'oidc_test_session',
  interaction: 'oidc_test_interaction',
  resume: 'oidc_test_interaction_resume',
};

const provider = new Provider(issuer, {
  clients,
  findAccount,
  jwks: { keys: [signingJwk] },
  cookies: {
    names: cookieNames,
    keys: [randomBytes(32).toString('base64url')],
  },
  scopes: ['openid', 'email', 'profile'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  // Put the scope-granted claims (email, email_verified, name) in the ID token
  // too, as Google and most hosted IdPs do, not only at userinfo.
  conformIdTokenClaims: false,
  responseTypes: ['code'],
  clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
  pkce: {
    // Default: PKCE (S256 only) is optional for confidential clients but, when a
    // code_challenge is sent, the code_verifier is enforced at the token endpoint.
    ...(requirePkce ? { required: () => true } : {}),
  },
  features: {
    devInteractions: { enabled: false },
    userinfo: { enabled: true },
  },
  interactions: {
    url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
  },
  ttl: {
    AccessToken: 3600,
    AuthorizationCode: 60,
    IdToken: 3600,
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
  },
});

provider.on('server_error', (_ctx, err) => console.error('oidc-provider server_error:', err));

// ---------------------------------------------------------------- interaction pages
const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (ch) => ({
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
}[ch]));

function loginPage({ uid, clientId, scope, error, values = {} }) {
  const v = (k) => escapeHtml(values[k] ?? '');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in - Test OIDC provider</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 28rem; margin: 2rem auto; padding: 0 1rem; }
  label { display: block; margin-top: 1rem; }
  input[type=text], input[type=email] { display: block; width: 100%; padding: .4rem; box-sizing: border-box; }
  .check { display: flex; gap: .5rem; align-items: center; }
  button { margin-top: 1.5rem; padding: .5rem 1.2rem; }
  [role=alert] { color: #a00; }
</style>
</head>
<body>
<main>
<h1>Sign in</h1>
<p>Test OpenID provider. Client <code>${escapeHtml(clientId)}</code> requests <code>${escapeHtml(scope)}</code>.</p>
${error ? `<p role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
  <label for="sub">Subject</label>
  <input type="text" id="sub" name="sub" required autocomplete="off" value="${v('sub')}">
  <label for="email">E-mail</label>
  <input type="email" id="email" name="email" autocomplete="off" value="${v('email')}">
  <div class="check">
    <input type="checkbox" id="email_verified" name="email_verified" value="true"${values.email_verified ? ' checked' : ''}>
    <label for="email_verified" style="margin-top:0">E-mail verified</label>
  </div>
  <label for="name">Name</label>
  <input type="text" id="name" name="name" autocomplete="off" value="${v('name')}">
  <button type="submit">Sign in</button>
</form>
</main>
</body>
</html>`;
}

function send(res, status, body, type = 'text/html; charset=utf-8') {
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) throw new Error('request body too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

const truthy = (value) => ['true', 'on', '1', 'yes'].includes(String(value ?? '').toLowerCase());

function formValues(params) {
  return {
    sub: (params.get('sub') ?? '').trim(),
    email: (params.get('email') ?? '').trim(),
    email_verified: truthy(params.get('email_verified')),
    name: (params.get('name') ?? '').trim(),
  };
}

// Log the account in and grant the requested OIDC scopes/claims in one go.
async function completeLogin(req, res, details, values) {
  const claims = { sub: values.sub, email_verified: values.email_verified };
  if (values.email) claims.email = values.email;
  if (values.name) claims.name = values.name;
  accounts.set(values.sub, claims);

  const { params } = details;
  const grant = new provider.Grant({ accountId: values.sub, clientId: params.client_id });
  if (params.scope) grant.addOIDCScope(params.scope);
  if (params.claims) {
    // only when the claims request parameter is enabled and used
    const requested = JSON.parse(params.claims);
    for (const target of ['id_token', 'userinfo']) {
      if (requested[target]) grant.addOIDCClaims(Object.keys(requested[target]));
    }
  }
  const grantId = await grant.save();

  await provider.interactionFinished(req, res, {
    login: { accountId: values.sub },
    consent: { grantId },
  }, { mergeWithLastSubmission: false });
}

async function handleInteraction(req, res, url) {
  const match = /^\/interaction\/([^/]+)(\/login)?\/?$/.exec(url.pathname);
  if (!match) return send(res, 404, 'not found\n', 'text/plain; charset=utf-8');
  const [, uid, isLogin] = match;

  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch (err) {
    return send(res, 400, `interaction not found or expired (${err.message}); start again from the authorization endpoint\n`, 'text/plain; charset=utf-8');
  }
  if (details.uid !== uid) {
    return send(res, 400, 'interaction mismatch\n', 'text/plain; charset=utf-8');
  }
  const page = {
    uid,
    clientId: details.params.client_id,
    scope: details.params.scope ?? '',
  };

  if (!isLogin) {
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed\n', 'text/plain; charset=utf-8');
    return send(res, 200, loginPage(page));
  }

  let values;
  if (req.method === 'POST') {
    values = formValues(await readForm(req));
  } else if (req.method === 'GET') {
    // Shortcut for HTTP-only tests: same as posting the form.
    values = formValues(url.searchParams);
  } else {
    return send(res, 405, 'method not allowed\n', 'text/plain; charset=utf-8');
  }
  if (!values.sub) {
    return send(res, 400, loginPage({ ...page, error: 'Subject is required.', values }));
  }
  return completeLogin(req, res, details, values);
}

// ---------------------------------------------------------------- HTTP server
const oidcCallback = provider.callback();
const authorizationPath = provider.pathFor('authorization');
const sessionCookieNames = new Set([cookieNames.session, `${cookieNames.session}.sig`]);

// No provider session is ever carried into an authorization: the session cookie
// is hidden from the authorization endpoint and its resume step (/auth/:uid), as
// if the browser had never been here. So every authorization request asks for
// login (prompt=none gets login_required), and the same browser can sign in as a
// different subject next time without an end-session/logout detour.
function dropProviderSession(req, url) {
  const { pathname } = url;
  if (!req.headers.cookie
    || (pathname !== authorizationPath && !pathname.startsWith(`${authorizationPath}/`))) return;
  const kept = req.headers.cookie.split(';')
    .filter((part) => !sessionCookieNames.has(part.split('=')[0].trim()));
  if (kept.length) req.headers.cookie = kept.join(';');
  else delete req.headers.cookie;
}

// Test-only misbehaviour, so the relying party's checks can be shown to work: OIDC_TAMPER_ID_TOKEN=aud re-signs
// every ID token the token endpoint returns with another audience (a token minted for another client);
// OIDC_TAMPER_ID_TOKEN=none sends it unsigned (alg "none"); OIDC_TAMPER_ID_TOKEN=resign re-signs it unchanged (the
// control: the interception alone breaks nothing). Unset, the provider behaves.
const tamper = process.env.OIDC_TAMPER_ID_TOKEN ?? '';
const b64json = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');

function reissue(jwt) {
  const [h, p] = jwt.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url'));
  const payload = JSON.parse(Buffer.from(p, 'base64url'));
  if (tamper === 'none') return `${b64json({ ...header, alg: 'none' })}.${b64json(payload)}.`;
  if (tamper === 'aud') payload.aud = 'other-app';
  const input = `${b64json(header)}.${b64json(payload)}`;
  return `${input}.${createSign('RSA-SHA256').update(input).sign(privateKey).toString('base64url')}`;
}

function tamperTokenResponse(res) {
  const chunks = [];
  const end = res.end.bind(res);
  res.write = (chunk) => { chunks.push(Buffer.from(chunk)); return true; };
  res.end = (chunk, ...rest) => {
    if (chunk && typeof chunk !== 'function') chunks.push(Buffer.from(chunk));
    let body = Buffer.concat(chunks).toString();
    try {
      const json = JSON.parse(body);
      if (json.id_token) body = JSON.stringify({ ...json, id_token: reissue(json.id_token) });
    } catch { /* not JSON: pass through */ }
    if (!res.headersSent) res.setHeader('content-length', Buffer.byteLength(body));
    return end(body);
  };
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url, issuer);
  try {
    if (tamper && req.method === 'POST' && url.pathname === provider.pathFor('token')) tamperTokenResponse(res);
    if (url.pathname.startsWith('/interaction/')) {
      await handleInteraction(req, res, url);
      return;
    }
    dropProviderSession(req, url);
    oidcCallback(req, res);
  } catch (err) {
    console.error('oidc test provider error:', err);
    if (!res.headersSent) send(res, 500, 'internal error\n', 'text/plain; charset=utf-8');
    else res.destroy();
  }
});

server.keepAliveTimeout = 1000;
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`OIDC provider ready at ${issuer}\n`);
});
server.on('error', (err) => fail(`cannot listen on 127.0.0.1:${port}: ${err.message}`));

function shutdown(signal) {
  console.error(`oidc test provider: ${signal}, shutting down`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
