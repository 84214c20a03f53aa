// A real OpenID provider for the end-to-end tests (npm `oidc-provider`).
//
//   node provider.mjs IDP_PORT GATE_PORT     (or env IDP_PORT, GATE_PORT)
//
// Issuer http://127.0.0.1:IDP_PORT, or OIDC_ISSUER; the gate at
// http://127.0.0.1:GATE_PORT, or the comma-separated origins in OIDC_GATES
// (the docker-compose demo has two replicas); it listens on 127.0.0.1, or
// OIDC_LISTEN_HOST. Its development login form accepts any
// username with any password; the username becomes the account id and the
// `preferred_username` claim, which scimgate maps to the SCIM userName. One
// confidential client, `scimgate`, redirecting to the gate's callback, with
// PKCE required. Consent is granted up front so the flow never stops on a
// consent page. RP-initiated logout (its end_session_endpoint) signs the
// browser out without asking, as many providers do for a request carrying a
// valid id_token_hint, and returns it to the gate's /.scimgate/signed-out.
// ID tokens carry auth_time (require_auth_time), for scimgate's step-up.
// Prints `ready ISSUER` on stdout once it listens.
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const idpPort = Number(process.argv[2] ?? process.env.IDP_PORT);
const gatePort = Number(process.argv[3] ?? process.env.GATE_PORT);
if (!idpPort || !gatePort) {
  console.error('usage: provider.mjs IDP_PORT GATE_PORT');
  process.exit(2);
}

const issuer = process.env.OIDC_ISSUER ?? `http://127.0.0.1:${idpPort}`;
const gates = (process.env.OIDC_GATES ?? `http://127.0.0.1:${gatePort}`).split(',');
const listenHost = process.env.OIDC_LISTEN_HOST ?? '127.0.0.1';
const GRANTED_SCOPES = 'openid profile email';

// A fresh signing key per run: nothing to keep, nothing to leak.
const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 })
  .privateKey.export({ format: 'jwk' });

async function findAccount(_ctx, id) {
  return {
    accountId: id,
    async claims() {
      return {
        sub: id,
        preferred_username: id,
        email: `${id}@example.com`,
        email_verified: true,
        name: id.charAt(0).toUpperCase() + id.slice(1),
      };
    },
  };
}

// The end-session confirmation, answered at once: the page submits the
// provider's own form (with its xsrf token) saying yes. Without scripts, the
// button is there to click.
async function logoutSource(ctx, form) {
  const yes = form.replace('</form>', '<input type="hidden" name="logout" value="yes"></form>');
  ctx.body = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Signing out</title></head>
<body><p>Signing you out of the test provider…</p>${yes}
<button type="submit" form="op.logoutForm">Sign out</button>
<script>addEventListener('load', () => document.getElementById('op.logoutForm').submit());</script>
</body></html>`;
}

// Reuse the session's grant for this client, or grant the standard scopes
// at once: the tests exercise scimgate, not a consent screen.
async function loadExistingGrant(ctx) {
  const { provider, client, session } = ctx.oidc;
  const grantId = ctx.oidc.result?.consent?.grantId ?? session.grantIdFor(client.clientId);
  const existing = grantId ? await provider.Grant.find(grantId) : undefined;
  if (existing && existing.accountId === session.accountId) return existing;

  const grant = new provider.Grant({ clientId: client.clientId, accountId: session.accountId });
  grant.addOIDCScope(GRANTED_SCOPES);
  await grant.save();
  return grant;
}

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'scimgate',
    client_secret: 'e2e-secret',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: gates.map((g) => `${g}/.scimgate/callback`),
    post_logout_redirect_uris: gates.flatMap((g) => [`${g}/`, `${g}/.scimgate/signed-out`]),
    // Every ID token says when the user signed in (auth_time), as step-up needs;
    // the provider honours max_age and prompt=login by showing its login form.
    require_auth_time: true,
  }],
  pkce: { required: () => true },
  findAccount,
  loadExistingGrant,
  claims: {
    openid: ['sub'],
    profile: ['preferred_username', 'name'],
    email: ['email', 'email_verified'],
  },
  // Put the scope's claims in the ID token too, so a relying party may
  // read them there or from userinfo.
  conformIdTokenClaims: false,
  jwks: { keys: [signingKey] },
  cookies: { keys: ['e2e-only-cookie-signing-key'] },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true, logoutSource },
  },
});

provider.on('server_error', (_ctx, err) => console.error('idp server_error:', err));

const server = provider.listen(idpPort, listenHost, () => {
  console.log(`ready ${issuer}`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
