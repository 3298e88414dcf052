// The passkey browser test's driver (tests/passkey_browser.rs runs it): Debian's Chromium,
// headless, with a virtual authenticator (DevTools protocol: WebAuthn.enable and
// WebAuthn.addVirtualAuthenticator, resident keys and user verification) signs in with a
// password, registers a passkey through navigator.credentials.create() and the API, then signs
// in with it through navigator.credentials.get(), all from a page of the API's own origin.
// Prints one JSON line: the answers of the registration and of the passkey sign-in.
//
//   node passkey_browser.mjs <api base, e.g. http://localhost:9000> <email> <password>
import { chromium } from 'playwright-core';

const [, , base, email, password] = process.argv;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  // As the /docs test runs it: no sandbox (root in CI), no calls to Google's services.
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  const devtools = await page.context().newCDPSession(page);
  await devtools.send('WebAuthn.enable');
  await devtools.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', transport: 'internal', hasResidentKey: true,
      hasUserVerification: true, isUserVerified: true,
    },
  });
  // Any page of the API's origin: the relying party allows that origin.
  await page.goto(`${base}/openapi.json`);
  const result = await page.evaluate(async ([email, password]) => {
    const post = async (path, body, token) => {
      const headers = { 'content-type': 'application/json' };
      if (token) headers.authorization = `Bearer ${token}`;
      const response = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body) });
      return { status: response.status, body: await response.json() };
    };
    const login = await post('/login', { email, password });
    const token = login.body.access_token;
    const id = login.body.user.id;
    const started = await post(`/users/${id}/passkeys/registration`, {}, token);
    const created = await navigator.credentials.create({
      publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(started.body.options.publicKey),
    });
    const added = await post(`/users/${id}/passkeys`, {
      registration_id: started.body.registration_id, name: 'Chromium', credential: created.toJSON(),
    }, token);
    const options = await post('/login/passkey/options', {});
    const asserted = await navigator.credentials.get({
      publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.body.options.publicKey),
    });
    const signedIn = await post('/login/passkey', {
      challenge_id: options.body.challenge_id, credential: asserted.toJSON(),
    });
    return { added, signedIn, algorithm: created.toJSON().response.publicKeyAlgorithm };
  }, [email, password]);
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
}
