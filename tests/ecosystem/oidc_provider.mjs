// A real OpenID provider for the test suite (node-oidc-provider), started by
// tests/ecosystem/oidc_provider.py: `node oidc_provider.mjs CONFIG.json`.
//
// CONFIG: {"port": 0, "issuer": "http://127.0.0.1:PORT", "clients": [...],
//          "accounts_file": "accounts.json"}
// The accounts file maps a login to the claims the provider tells about it; it is read at
// every sign-in, so a test adds accounts while the provider runs. The login page is this
// file's own: a form with one field, `login` (no password: the test chooses who signs in),
// and consent is given at once. Prints "listening" when it is ready.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));

function accounts() {
  return JSON.parse(readFileSync(config.accounts_file, 'utf8'));
}

const provider = new Provider(config.issuer, {
  clients: config.clients,
  async findAccount(ctx, id) {
    const claims = accounts()[id];
    if (!claims) return undefined;
    return {
      accountId: id,
      async claims() {
        return { ...claims, sub: claims.sub || id };
      },
    };
  },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'locale'],
  },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: ['oidc-test-cookie-key'] },
  ttl: { Session: 60, Interaction: 600, Grant: 600, AccessToken: 600, IdToken: 600 },
});

const page = (uid) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Test University sign-in</title></head>
<body><h1>Test University</h1>
<form method="post" action="/interaction/${uid}/login">
  <label for="login">Login</label> <input id="login" name="login" autofocus>
  <button type="submit" id="sign-in">Sign in</button>
</form></body></html>`;

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error('interaction mismatch');
  const { prompt, params, session, grantId } = details;
  if (prompt.name === 'login') {
    if (req.method === 'POST' && action === 'login') {
      const login = (await readBody(req)).get('login') || '';
      if (!accounts()[login]) {
        res.writeHead(400, { 'content-type': 'text/html' });
        res.end(page(uid));
        return;
      }
      await provider.interactionFinished(req, res, { login: { accountId: login } }, {
        mergeWithLastSubmission: false,
      });
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(page(uid));
    return;
  }
  // consent: everything the client asks for
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
  if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
  const saved = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId: saved } }, {
    mergeWithLastSubmission: true,
  });
}

const callback = provider.callback();
const server = createServer((req, res) => {
  const match = req.url.match(/^\/interaction\/([^/?]+)(?:\/(login))?/);
  if (!match) {
    callback(req, res);
    return;
  }
  interaction(req, res, match[1], match[2]).catch((err) => {
    res.writeHead(400, { 'content-type': 'text/plain' });
    res.end(String(err));
  });
});
server.listen(config.port, '127.0.0.1', () => {
  process.stdout.write('listening\n');
});
