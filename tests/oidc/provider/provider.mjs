// A real OpenID Provider (the certified `oidc-provider`) for Whistle's sign-in tests.
//
//   node provider.mjs PORT
//
// Clients register themselves (Dynamic Client Registration, POST /reg), so every test
// brings its own redirect URI. Access tokens are JWTs for the resource `whistle`, with the
// client id as their audience, the roles at `realm_access.roles` and the referee id at
// `referee_id` (where Keycloak puts them); they live ACCESS_TTL seconds (default 4) so
// tests see refreshes. Refresh tokens rotate on every use; reusing a rotated one revokes
// the whole grant (oidc-provider's reuse detection). The login page is the provider's own
// small form (user + password), driven over HTTP by tests and typed into by the browser test.
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const port = Number(process.argv[2] ?? 0);
const issuer = `http://127.0.0.1:${port}`;
const RESOURCE = 'urn:whistle:api';
const ACCESS_TTL = Number(process.env.ACCESS_TTL ?? 4);

// Whistle's demo referee "Jane Smith" (app/services/demo.py) is the referee user.
const USERS = {
  admin: { password: 'admin-password', name: 'Ada Admin', roles: ['ADMIN'] },
  referee: {
    password: 'referee-password', name: 'Jane Smith', roles: ['REFEREE'],
    refereeId: 'e1214a09-42e1-4194-9acc-d310172d001a',
  },
  nobody: { password: 'nobody-password', name: 'No Role', roles: [] },
};

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'provider-key', use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  jwks: { keys: [signingKey] },
  cookies: { keys: ['whistle-test-provider-cookie-key'] },
  claims: { openid: ['sub'], profile: ['name'], email: ['email'] },
  scopes: ['openid', 'profile', 'email', 'offline_access'],
  features: {
    devInteractions: { enabled: false },
    registration: { enabled: true },
    revocation: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      // Plain pages (the defaults load web fonts, which a machine without internet cannot).
      logoutSource(ctx, form) {
        ctx.body = `<!doctype html><title>Sign out</title><h1>Sign out of the league?</h1>${form}
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>`;
      },
      postLogoutSuccessSource(ctx) {
        ctx.body = '<!doctype html><title>Signed out</title><h1>You are signed out</h1>';
      },
    },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resource, client) => ({
        scope: 'whistle',
        audience: client.clientId,
        accessTokenTTL: ACCESS_TTL,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
  ttl: { RefreshToken: 3600, Session: 3600, Grant: 3600, Interaction: 600, AuthorizationCode: 60, IdToken: 3600 },
  rotateRefreshToken: true,
  issueRefreshToken: (ctx, client) => client.grantTypeAllowed('refresh_token'),
  // A first-party app: the person is asked to sign in, never to consent.
  async loadExistingGrant(ctx) {
    const known = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    const existing = known && await ctx.oidc.provider.Grant.find(known);
    if (existing) return existing; // (a revoked grant is gone: a new one below)
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid profile email offline_access');
    grant.addResourceScope(RESOURCE, 'whistle');
    await grant.save();
    return grant;
  },
  async findAccount(ctx, id) {
    const user = USERS[id];
    if (!user) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, name: user.name, email: `${id}@league.test` }) };
  },
  async extraTokenClaims(ctx, token) {
    if (token.kind !== 'AccessToken') return undefined;
    const user = USERS[token.accountId];
    if (!user) return undefined;
    return { realm_access: { roles: user.roles }, ...(user.refereeId ? { referee_id: user.refereeId } : {}) };
  },
  renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = `<!doctype html><title>Error</title><h1>${escape(out.error)}</h1><p>${escape(out.error_description ?? '')}</p>`;
  },
});
provider.proxy = false;

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function loginPage(uid, problem = '') {
  return `<!doctype html><html><head><title>Sign in to the league</title></head><body>
<h1>Sign in to the league</h1>${problem ? `<p role="alert">${escape(problem)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}">
<label>Username <input name="username" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form></body></html>`;
}

async function formBody(req) {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  return new URLSearchParams(raw);
}

async function interaction(req, res, uid) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid || details.prompt.name !== 'login') {
    res.writeHead(400, { 'Content-Type': 'text/plain' }).end(`unexpected prompt ${details.prompt.name}`);
    return;
  }
  if (req.method === 'GET') {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(loginPage(uid));
    return;
  }
  const form = await formBody(req);
  const username = form.get('username') ?? '';
  const user = USERS[username];
  if (!user || user.password !== form.get('password')) {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(loginPage(uid, 'Wrong username or password.'));
    return;
  }
  await provider.interactionFinished(req, res, { login: { accountId: username } }, { mergeWithLastSubmission: false });
}

const handle = provider.callback();
const server = createServer(async (req, res) => {
  if (req.url === '/favicon.ico') return res.writeHead(204).end(); // browsers ask; no console error
  const match = /^\/interaction\/([\w-]+)$/.exec(req.url.split('?')[0]);
  if (!match) return handle(req, res);
  try {
    await interaction(req, res, match[1]);
  } catch (error) {
    res.writeHead(400, { 'Content-Type': 'text/plain' }).end(String(error));
  }
});
server.listen(port, '127.0.0.1', () => console.log(`oidc-provider listening on ${issuer}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
