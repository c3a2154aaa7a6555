// A real OpenID Connect provider for the integration tests
// (tests/all/oidc_provider.rs): the npm package `oidc-provider` on 127.0.0.1,
// with test clients, test users with group claims, and an interaction route
// that logs in, without a form, the user named by the authorization
// request's `login_hint`.
//
//   node tests/oidc-provider/server.mjs [port]      (or PORT=...; default 0)
//
// The first line on stdout is `listening http://127.0.0.1:PORT`; the issuer
// is that URL. The process exits when its stdin closes, so it never outlives
// the test that started it. Install with `npm ci --prefix tests/oidc-provider`.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

// The test users, by account id (the `sub` of their tokens).
const USERS = {
  alice: {
    email: 'alice@acme.example',
    email_verified: true,
    given_name: 'Alice',
    family_name: 'Liddell',
    groups: ['Engineering', 'Everyone'],
  },
  bob: {
    email: 'bob@acme.example',
    email_verified: true,
    given_name: 'Bob',
    family_name: 'Builder',
    groups: ['Sales'],
  },
  // Claims an address the IdP never verified.
  carol: {
    email: 'carol@acme.example',
    email_verified: false,
    given_name: 'Carol',
    family_name: 'Unverified',
    groups: ['Engineering'],
  },
};

// Public clients (PKCE, no secret). `provisio-test` is the audience the
// tests configure; `provisio-other` is another application of the same IdP.
const REDIRECT_URI = 'http://127.0.0.1:1/cb';
const CLIENTS = ['provisio-test', 'provisio-other'].map((client_id) => ({
  client_id,
  token_endpoint_auth_method: 'none',
  grant_types: ['authorization_code'],
  response_types: ['code'],
  redirect_uris: [REDIRECT_URI],
}));

const SCOPES = 'openid email profile groups';

function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: `rsa-${randomBytes(4).toString('hex')}`, alg: 'RS256', use: 'sig' };
}

const requested = process.argv[2] ?? process.env.PORT ?? '0';
let handler = (_req, res) => {
  res.statusCode = 503;
  res.end();
};
const server = createServer((req, res) => handler(req, res));
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(Number(requested), '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: CLIENTS,
  jwks: { keys: [signingKey()] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['given_name', 'family_name'],
    groups: ['groups'],
  },
  // Every claim of the granted scopes goes into the ID token, as most
  // enterprise IdPs do, rather than only into the userinfo response.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: false } },
  pkce: { required: () => true },
  async findAccount(_ctx, id) {
    const user = USERS[id];
    if (!user) return undefined;
    return { accountId: id, claims: () => ({ sub: id, ...user }) };
  },
  // The test clients are first-party: consent is given without asking.
  async loadExistingGrant(ctx) {
    const { client, session } = ctx.oidc;
    const grantId = ctx.oidc.result?.consent?.grantId || session.grantIdFor(client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
    grant.addOIDCScope(SCOPES);
    await grant.save();
    return grant;
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
});

provider.on('server_error', (_ctx, err) => console.error('oidc-provider server_error:', err));

// The interaction: log in the user named by `login_hint`, or refuse.
async function interaction(req, res) {
  try {
    const details = await provider.interactionDetails(req, res);
    const id = details.params.login_hint;
    const result = details.prompt.name === 'login' && USERS[id]
      ? { login: { accountId: id } }
      : { error: 'access_denied', error_description: `no test user ${JSON.stringify(id)}` };
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  } catch (err) {
    console.error('interaction failed:', err);
    res.statusCode = 500;
    res.end(String(err));
  }
}

const callback = provider.callback();
handler = (req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res);
  } else {
    callback(req, res);
  }
};

console.log(`listening ${issuer}`);

process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
