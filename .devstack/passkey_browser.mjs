// The passkey browser test's driver (tests/passkey_browser.rs runs it): Debian's Chromium,
// headless, with a virtual authenticator (DevTools protocol: WebAuthn.enable and
// WebAuthn.addVirtualAuthenticator, resident keys and user verification) opens the service's
// passkey page (GET /docs/passkeys) and uses it as a person would: signs in with a password,
// adds a passkey, signs out, signs in with the passkey, removes it, and tries it once more.
// Prints one JSON line: what the page showed after each step.
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
  const errors = [];
  page.on('pageerror', (error) => errors.push(String(error)));
  await page.goto(`${base}/docs/passkeys`);

  // Clicks a button and waits until the page says that button's work is done.
  const click = async (selector, done) => {
    await page.click(selector);
    await page.waitForSelector(`body[data-done="${done}"]`, { timeout: 15000 });
    return {
      status: await page.textContent('#status'),
      who: await page.getAttribute('#who', 'data-amr'),
      answer: JSON.parse((await page.textContent('#answer')) || 'null'),
      passkeys: await page.$$eval('#passkeys li', (items) => items.map((item) => item.textContent)),
    };
  };
  await page.fill('#email', email);
  await page.fill('#password', password);
  const signedIn = await click('#sign-in', 'sign-in');
  await page.fill('#passkey-name', 'Chromium');
  const added = await click('#add-passkey', 'add-passkey');
  const signedOut = await click('#sign-out', 'sign-out');
  const passkeySignedIn = await click('#passkey-sign-in', 'passkey-sign-in');
  const removed = await click('.remove-passkey', 'remove-passkey');
  await click('#sign-out', 'sign-out');
  const afterRemoval = await click('#passkey-sign-in', 'passkey-sign-in');
  console.log(JSON.stringify({
    signedIn, added, signedOut, passkeySignedIn, removed, afterRemoval, errors,
  }));
} finally {
  await browser.close();
}
