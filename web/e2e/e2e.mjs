// The web app end to end, in real headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core; nothing downloads a browser), against the real stack: nginx serving web/dist
// and proxying /api/ to a Tally on PostgreSQL. scripts/test-web starts that stack and runs this.
//
//   E2E_BASE_URL        the front door, e.g. http://127.0.0.1:18080 (loopback only)
//   E2E_BANKER          username:password of a banker
//   E2E_ARTIFACTS       where screenshots go (default web/e2e/artifacts)
//
// Steps run in order and stop at the first failure; none is skipped: a server without a feature the
// app uses (docs/api.md's holds, date ranges) fails the first step, naming what it lacks. Any console error or uncaught page error
// fails the step it happens in, except the API refusals a step provokes on purpose. Prints
// `e2e: N passed, M failed` last and exits non-zero on a failure.
import { chromium } from 'playwright-core';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const BASE = (process.env.E2E_BASE_URL ?? '').replace(/\/+$/, '');
const [BANKER_USER, BANKER_PASSWORD] = (process.env.E2E_BANKER ?? 'banker:banker-password').split(/:(.*)/s);
const ARTIFACTS = process.env.E2E_ARTIFACTS ?? join(here, 'artifacts');
const PASSWORD = 'correct horse battery';

if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(BASE)) {
  console.error(`e2e: E2E_BASE_URL must be http://127.0.0.1:PORT, got '${BASE}'`);
  process.exit(2);
}
rmSync(ARTIFACTS, { recursive: true, force: true });
mkdirSync(ARTIFACTS, { recursive: true });

// --- the API from Node, for set-up and for checking what the UI did ----------------------------

async function api(method, path, { token, body, headers } = {}) {
  const response = await fetch(`${BASE}/api${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  return { status: response.status, json };
}

async function loginToken(username, password) {
  const answer = await api('POST', '/users/login', { body: { username, password } });
  if (answer.status !== 200) throw new Error(`login ${username}: ${answer.status} ${JSON.stringify(answer.json)}`);
  return answer.json.access_token;
}

// --- steps -----------------------------------------------------------------------------------

const results = [];
let passed = 0;
let failed = 0;
let consoleProblems = [];
let allowedApiStatuses = new Set();
let renewals = 0;

function check(condition, message) {
  if (!condition) throw new Error(message);
}

function note(text) {
  console.log(`         note: ${text}`);
}

const browser = await chromium.launch({
  executablePath: process.env.E2E_CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-dev-shm-usage',
  ],
});
const context = await browser.newContext({ viewport: { width: 1200, height: 860 }, locale: 'en-US', timezoneId: 'UTC', acceptDownloads: true });
context.setDefaultTimeout(10_000);
const page = await context.newPage();

page.on('console', (message) => {
  if (message.type() !== 'error') return;
  const url = message.location()?.url ?? '';
  const status = /status of (\d{3})/.exec(message.text())?.[1];
  if (status && url.startsWith(`${BASE}/api/`) && allowedApiStatuses.has(Number(status))) return;
  consoleProblems.push(`console error: ${message.text()} (${url})`);
});
page.on('pageerror', (error) => consoleProblems.push(`page error: ${error.message}`));
page.on('response', (response) => {
  if (response.url().endsWith('/api/tokens/renew_access') && response.status() === 200) renewals += 1;
});

async function step(name, fn, { allow = [] } = {}) {
  if (failed) {
    results.push({ name, status: 'not run' });
    return;
  }
  allowedApiStatuses = new Set(allow);
  consoleProblems = [];
  const started = Date.now();
  try {
    await fn();
    await page.waitForTimeout(50); // let late console messages arrive
    check(consoleProblems.length === 0, consoleProblems.join('\n'));
    passed += 1;
    console.log(`  ok   ${name} (${((Date.now() - started) / 1000).toFixed(1)}s)`);
    results.push({ name, status: 'passed' });
  } catch (error) {
    failed += 1;
    console.log(`  FAIL ${name}\n         ${String(error?.stack ?? error).split('\n').slice(0, 6).join('\n         ')}`);
    results.push({ name, status: 'failed' });
    await page.screenshot({ path: join(ARTIFACTS, 'failure.png'), fullPage: true }).catch(() => {});
  } finally {
    allowedApiStatuses = new Set();
  }
}

async function shot(name, fullPage = true) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage });
}

const label = (text) => page.getByLabel(text, { exact: true });
const button = (name) => page.getByRole('button', { name, exact: true });
const alert = () => page.getByRole('alert');
const nav = (name) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true });

async function expectHeading(text) {
  await page.getByRole('heading', { level: 1, name: text }).waitFor();
}

async function logIn(username, password) {
  await page.goto(`${BASE}/login`);
  await label('Username').fill(username);
  await label('Password').fill(password);
  await button('Log in').click();
  await expectHeading('Accounts');
}

async function logOut() {
  await button('Log out').click();
  await expectHeading('Log in');
}

async function signUp(username, fullName) {
  await page.goto(`${BASE}/signup`);
  await label('Username').fill(username);
  await label('Full name').fill(fullName);
  await label('Email').fill(`${username}@example.com`);
  await label('Password').fill(PASSWORD);
  await button('Sign up').click();
  await expectHeading('Accounts');
}

async function openAccount(currency) {
  await label('Currency').selectOption(currency);
  await button('Open account').click();
  const row = page.locator('table.accounts tbody tr', { hasText: currency });
  await row.waitFor();
  return Number(await row.getAttribute('data-account-id'));
}

function accountRow(id) {
  return page.locator(`table.accounts tr[data-account-id="${id}"]`);
}

async function cellText(row, column) {
  return (await row.locator(`td[data-label="${column}"]`).innerText()).replace(/\s+/g, ' ').trim();
}


const alice = { username: 'alice', name: 'Alice Liddell' };
/** The USD reserve's account id: where deposits come from. */
let reserveUsd = null;
const bob = { username: 'bob', name: 'Bob Bobson' };
const today = new Date().toISOString().slice(0, 10);
const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);

// Every operation the app calls (web/src/lib/api.ts), with the query parameters it sends.
const APP_USES = [
  ['post', '/users', []],
  ['post', '/users/login', []],
  ['post', '/users/logout', []],
  ['get', '/users/me', []],
  ['post', '/tokens/renew_access', []],
  ['get', '/accounts', ['page_id', 'page_size']],
  ['post', '/accounts', []],
  ['get', '/accounts/{id}', []],
  ['get', '/accounts/{id}/entries', ['limit', 'before_id', 'since', 'until']],
  ['get', '/accounts/{id}/transfers', ['status', 'limit']],
  ['post', '/accounts/{id}/deposits', []],
  ['post', '/accounts/{id}/withdrawals', []],
  ['post', '/transfers', []],
  ['post', '/transfers/{id}/post', []],
  ['post', '/transfers/{id}/void', []],
  ['post', '/transfers/{id}/reverse', ['Idempotency-Key']],
  ['get', '/transfers', ['account_id', 'before_id', 'limit']],
  ['put', '/accounts/{id}/limits', ['Idempotency-Key']],
];

await step('the server offers every operation the app uses (its /openapi.json)', async () => {
  const openapi = await api('GET', '/openapi.json');
  check(openapi.status === 200, `GET /api/openapi.json: ${openapi.status}`);
  const paths = openapi.json?.paths ?? {};
  const missing = [];
  for (const [method, path, params] of APP_USES) {
    const operation = paths[path]?.[method];
    if (!operation) {
      missing.push(`${method.toUpperCase()} ${path}`);
      continue;
    }
    const known = new Set((operation.parameters ?? []).map((p) => p.name));
    for (const param of params.filter((name) => !known.has(name))) missing.push(`${method.toUpperCase()} ${path}?${param}`);
  }
  check(missing.length === 0, `the server lacks what the app uses: ${missing.join(', ')}`);
});

await step('the app loads at / and, logged out, shows the login screen', async () => {
  const response = await page.goto(`${BASE}/`);
  check(response.status() === 200, `GET / answered ${response.status()}`);
  await expectHeading('Log in');
  check(new URL(page.url()).pathname === '/login', `redirected to ${page.url()}`);
  const deepLink = await fetch(`${BASE}/statement/1`);
  check(deepLink.status === 200 && (await deepLink.text()).includes('<div id="root">'), 'a client route is served the app');
  const api404 = await fetch(`${BASE}/api/metrics`);
  check(api404.status === 404, `/api/metrics is not public: ${api404.status}`);
  const unprefixed = await fetch(`${BASE}/users/login`, { method: 'POST', body: '{}' });
  const hint = await unprefixed.json();
  check(unprefixed.status === 404 && hint.error.message.includes('/api/'), 'an API call without /api/ is told where the API is');
  await shot('01-login');
});

await step('wrong password: the refusal is shown in words', async () => {
  await label('Username').fill('nobody');
  await label('Password').fill('wrong-password');
  await button('Log in').click();
  await alert().filter({ hasText: 'Wrong username or password.' }).waitFor();
}, { allow: [401] });

await step('sign up Alice and open a USD account', async () => {
  await page.getByRole('link', { name: 'Create an account' }).click();
  await expectHeading('Sign up');
  await shot('02-signup');
  await signUp(alice.username, alice.name);
  alice.usd = await openAccount('USD');
  const row = accountRow(alice.usd);
  check((await cellText(row, 'Balance')).startsWith('0.00'), `new balance: ${await cellText(row, 'Balance')}`);
  alice.eur = await openAccount('EUR');
});

await step('a reload keeps the session (refresh token in sessionStorage), log out ends it', async () => {
  await page.reload();
  await expectHeading('Accounts');
  await accountRow(alice.usd).waitFor();
  const stored = await page.evaluate(() => Object.keys(sessionStorage));
  check(stored.length === 1, `one sessionStorage key: ${stored}`);
  const local = await page.evaluate(() => localStorage.length);
  check(local === 0, 'nothing in localStorage');
  await logOut();
  check((await page.evaluate(() => sessionStorage.length)) === 0, 'the refresh token is forgotten on log-out');
  await page.goto(`${BASE}/`);
  await expectHeading('Log in');
});

await step('sign up Bob (keyboard only) and open a USD account', async () => {
  await page.goto(`${BASE}/signup`);
  await label('Username').focus();
  await page.keyboard.type(bob.username);
  await page.keyboard.press('Tab');
  await page.keyboard.type(bob.name);
  await page.keyboard.press('Tab');
  await page.keyboard.type(`${bob.username}@example.com`);
  await page.keyboard.press('Tab');
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press('Enter');
  await expectHeading('Accounts');
  bob.usd = await openAccount('USD');
  await logOut();
});

await step('banker: deposit to any account; a third decimal in USD is refused', async () => {
  // Older history first, through the API: 21 deposits of 1.00, so the statement has pages.
  const token = await loginToken(BANKER_USER, BANKER_PASSWORD);
  for (let i = 0; i < 21; i++) {
    const answer = await api('POST', `/accounts/${alice.usd}/deposits`, { token, body: { amount: 100 } });
    check(answer.status === 201, `seed deposit ${i}: ${answer.status} ${JSON.stringify(answer.json)}`);
    reserveUsd = answer.json.transfer.from_account_id;
  }
  // Some euros, so a euro payment to a dollar account is refused by the bank for its currency.
  const euros = await api('POST', `/accounts/${alice.eur}/deposits`, { token, body: { amount: 500 } });
  check(euros.status === 201, `euro deposit: ${euros.status}`);
  await logIn(BANKER_USER, BANKER_PASSWORD);
  await nav('Banker').click();
  await expectHeading('Banker');
  await label('Account').fill(String(alice.usd));
  await label('Amount').fill('12.345');
  await button('Deposit').click();
  await alert().filter({ hasText: 'at most 2 decimal places' }).waitFor();
  await label('Amount').fill('250.00');
  await button('Deposit').click();
  await page.getByRole('status').filter({ hasText: `Deposited USD 250.00 to account #${alice.usd}` }).waitFor();
  await shot('03-banker-deposit');
  await logOut();
});

await step('banker: look an account up, freeze and unfreeze it, close an empty one', async () => {
  const token = await loginToken(bob.username, PASSWORD);
  const opened = await api('POST', '/accounts', { token, body: { currency: 'EUR' } });
  check(opened.status === 201, `Bob's EUR account: ${opened.status}`);
  const spare = opened.json.id;
  await logIn(BANKER_USER, BANKER_PASSWORD);
  await nav('Banker').click();
  await expectHeading('Banker');
  const status = () => page.getByTestId('account-status');
  await label('Account number').fill(String(bob.usd));
  await button('Look up').click();
  await status().filter({ hasText: 'active' }).waitFor();
  await page.getByRole('region', { name: `Account #${bob.usd}` }).getByText(bob.username, { exact: true }).waitFor();
  await button('Freeze').click();
  await status().filter({ hasText: 'frozen' }).waitFor();
  await page.getByRole('status').filter({ hasText: `Account #${bob.usd} is frozen` }).waitFor();
  const refused = await api('POST', '/transfers', {
    token,
    body: { from_account_id: bob.usd, to_account_id: alice.usd, amount: 1, currency: 'USD' },
  });
  check(refused.status === 409 && refused.json.error.code === 'account_frozen', `a frozen account paid: ${refused.status}`);
  await shot('03b-banker-frozen');
  await button('Unfreeze').click();
  await status().filter({ hasText: 'active' }).waitFor();
  // An account with money in it is not offered a close (the bank would refuse it): it says why.
  await label('Account number').fill(String(alice.usd));
  await button('Look up').click();
  await page.getByRole('region', { name: `Account #${alice.usd}` }).waitFor();
  await page.getByText('It can be closed once empty').waitFor();
  check((await button('Close account').count()) === 0, 'a non-empty account offers no close');
  check((await button('Freeze').count()) === 1, 'an active account offers a freeze');
  await label('Account number').fill(String(spare));
  await button('Look up').click();
  await page.getByRole('region', { name: `Account #${spare}` }).waitFor();
  await button('Close account').click();
  await status().filter({ hasText: 'closed' }).waitFor();
  await page.getByText('This account is closed for good.').waitFor();
  for (const name of ['Freeze', 'Unfreeze', 'Close account']) {
    check((await button(name).count()) === 0, `a closed account offers no ${name}`);
  }
  // A reserve is never frozen or closed (the bank answers 404): no button offers it.
  await label('Account number').fill(String(reserveUsd));
  await button('Look up').click();
  await page.getByRole('region', { name: `Account #${reserveUsd}` }).getByText('the reserve', { exact: true }).waitFor();
  await page.getByText("A currency's reserve account is never frozen or closed.").waitFor();
  for (const name of ['Freeze', 'Unfreeze', 'Close account']) {
    check((await button(name).count()) === 0, `a reserve offers no ${name}`);
  }
  const reserveRows = page.locator('table.transfers tbody tr[data-transfer-id]');
  await reserveRows.first().waitFor();
  check((await reserveRows.count()) === 20, `the first page of the reserve's transfers: ${await reserveRows.count()}`);
  await button('Load more transfers').click();
  await page.waitForFunction(() => document.querySelectorAll('table.transfers tbody tr[data-transfer-id]').length === 22);
  check((await page.locator('table.transfers').getByRole('button', { name: /^Refund/ }).count()) === 0, 'no refund of a deposit');
  await shot('03c-banker-reserve');
  const after = await api('GET', `/accounts/${spare}`, { token });
  check(after.json.status === 'closed', `the spare account is ${after.json.status}`);
  await logOut();
}, { allow: [409] });

await step('Alice sends 25.50 to Bob (a double click sends once)', async () => {
  await logIn(alice.username, PASSWORD);
  const row = accountRow(alice.usd);
  check((await cellText(row, 'Balance')).startsWith('271.00'), `balance after deposits: ${await cellText(row, 'Balance')}`);
  await shot('04-accounts');
  await nav('Send money').click();
  await expectHeading('Send money');
  await label('From account').selectOption(String(alice.usd));
  await label('To account').fill(String(bob.usd));
  await label('Amount').fill('25.50');
  await button('Send').dblclick();
  await page.getByRole('status').filter({ hasText: `Sent USD 25.50 to account #${bob.usd}` }).waitFor();
  const token = await loginToken(alice.username, PASSWORD);
  const entries = (await api('GET', `/accounts/${alice.usd}/entries?limit=100`, { token })).json;
  const debits = entries.filter((e) => e.amount === -2550);
  check(debits.length === 1, `exactly one debit of 25.50, found ${debits.length}`);
  await shot('05-send');
});

await step('refusals shown in words: insufficient funds, wrong currency, same account', async () => {
  await label('From account').selectOption(String(alice.usd));
  await label('To account').fill(String(bob.usd));
  await label('Amount').fill('100000');
  await button('Send').click();
  await alert().filter({ hasText: `Amount: more than the USD 245.50 available in account #${alice.usd}.` }).waitFor();
  await shot('06-send-refused');
  await label('From account').selectOption(String(alice.eur));
  await label('Amount').fill('1.00');
  await button('Send').click();
  await alert().filter({ hasText: 'Both accounts must be in the currency of the amount.' }).waitFor();
  await label('To account').fill(String(alice.eur));
  await button('Send').click();
  await alert().filter({ hasText: 'different account' }).waitFor();
}, { allow: [400, 422] });

await step('statement: newest first, running balance, chart, Load more', async () => {
  await nav('Accounts').click();
  await accountRow(alice.usd).getByRole('link', { name: 'Statement', exact: true }).click();
  await expectHeading(`Statement of account #${alice.usd}`);
  const rows = page.locator('table.entries tbody tr');
  await rows.first().waitFor();
  check((await rows.count()) === 20, `first page: ${await rows.count()} entries`);
  const first = rows.first();
  check((await cellText(first, 'Amount')).startsWith('−25.50'), `newest entry: ${await cellText(first, 'Amount')}`);
  check((await cellText(first, 'Balance after')).startsWith('245.50'), `balance after: ${await cellText(first, 'Balance after')}`);
  check((await cellText(rows.nth(1), 'Balance after')).startsWith('271.00'), 'the deposit before it');
  const line = page.locator('.chart svg path.line');
  await line.waitFor();
  const d = await line.getAttribute('d');
  check((d.match(/V/g) ?? []).length >= 19, `the chart draws the balance history: ${d.slice(0, 80)}…`);
  const chartName = await page.locator('.chart svg').getAttribute('aria-label');
  check(chartName.includes('USD 245.50'), `the chart's accessible name: ${chartName}`);
  await shot('07-statement');
  await button('Load more').click();
  await page.waitForFunction(() => document.querySelectorAll('table.entries tbody tr').length === 23);
  check((await cellText(rows.last(), 'Balance after')).startsWith('1.00'), `oldest: ${await cellText(rows.last(), 'Balance after')}`);
  check((await button('Load more').count()) === 0, 'no Load more after the last page');
  await shot('08-statement-all');
});

await step('statement: a date range (since/until)', async () => {
  await label('Start date').fill(tomorrow);
  await label('End date').fill(tomorrow);
  await button('Show period').click();
  await page.getByText('No entries in this period.').waitFor();
  await label('Start date').fill(today);
  await label('End date').fill(today);
  await button('Show period').click();
  await page.locator('table.entries tbody tr').nth(19).waitFor();
});

await step('a 401 returns to the login screen (the session ended elsewhere)', async () => {
  const refresh = await page.evaluate(() => JSON.parse(sessionStorage.getItem('tally.session')).refreshToken);
  const renewed = await api('POST', '/tokens/renew_access', { body: { refresh_token: refresh } });
  check(renewed.status === 200, `renew: ${renewed.status}`);
  const out = await api('POST', '/users/logout', { token: renewed.json.access_token });
  check(out.status === 204, `logout elsewhere: ${out.status}`);
  // Every replica refuses the session within 1 s; past 5 s the app's cached accounts are stale,
  // so opening Accounts asks the bank again and gets the 401. (The app's own renewal of its
  // short-lived access token may get there first: a 401 too, with the same outcome.)
  await page.waitForTimeout(5_200);
  if (await nav('Accounts').isVisible()) await nav('Accounts').click({ timeout: 2_000 }).catch(() => {});
  await expectHeading('Log in');
  await page.getByRole('status').filter({ hasText: 'Your session has ended' }).waitFor();
}, { allow: [401] });

await step('hold: Alice holds 10.00 for Bob, Bob confirms it', async () => {
  await logIn(alice.username, PASSWORD);
  await nav('Send money').click();
  await label('From account').selectOption(String(alice.usd));
  await label('To account').fill(String(bob.usd));
  await label('Amount').fill('10.00');
  await page.getByLabel('Send as a hold', { exact: false }).check();
  await button('Send').click();
  await page.getByRole('status').filter({ hasText: `Held USD 10.00 to account #${bob.usd}` }).waitFor();
  await nav('Accounts').click();
  const row = accountRow(alice.usd);
  await row.waitFor();
  // The list shows its cached rows first, then the refetch the hold started.
  await row.locator('td[data-label="Held"]', { hasText: /^\s*10\.00/ }).waitFor({ timeout: 10_000 }).catch(() => {});
  check((await cellText(row, 'Held')).startsWith('10.00'), `held: ${await cellText(row, 'Held')}`);
  check((await cellText(row, 'Available')).startsWith('235.50'), `available: ${await cellText(row, 'Available')}`);
  check((await cellText(row, 'Balance')).startsWith('245.50'), `balance: ${await cellText(row, 'Balance')}`);
  await shot('09-accounts-held');
  await logOut();
  await logIn(bob.username, PASSWORD);
  await nav('Holds').click();
  await expectHeading('Holds');
  const hold = page.locator('li.hold', { hasText: `from account #${alice.usd}` });
  await hold.waitFor();
  await shot('10-holds');
  await hold.getByRole('button', { name: 'Confirm', exact: true }).click();
  await page.getByRole('status').filter({ hasText: 'confirmed: USD 10.00 received' }).waitFor();
  await nav('Accounts').click();
  const bobRow = accountRow(bob.usd);
  await bobRow.waitFor();
  await page.waitForFunction(
    (id) => document.querySelector(`tr[data-account-id="${id}"] td[data-label="Balance"]`)?.textContent?.startsWith('35.50'),
    bob.usd,
  );
  await logOut();
  await logIn(alice.username, PASSWORD);
});

await step("live: Bob's open accounts page shows Alice's payment without a reload", async () => {
  const bobContext = await browser.newContext({ viewport: { width: 1200, height: 860 }, locale: 'en-US', timezoneId: 'UTC' });
  bobContext.setDefaultTimeout(10_000);
  const bobPage = await bobContext.newPage();
  bobPage.on('pageerror', (error) => consoleProblems.push(`page error (Bob): ${error.message}`));
  try {
    await bobPage.goto(`${BASE}/login`);
    await bobPage.getByLabel('Username', { exact: true }).fill(bob.username);
    await bobPage.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await bobPage.getByRole('button', { name: 'Log in', exact: true }).click();
    await bobPage.getByRole('heading', { level: 1, name: 'Accounts' }).waitFor();
    const selector = `tr[data-account-id="${bob.usd}"] td[data-label="Balance"]`;
    await bobPage.locator(selector).waitFor();
    const before = (await bobPage.locator(selector).innerText()).trim();
    const expected = (Number.parseFloat(before.replace(/[^0-9.]/g, '')) + 1.25).toFixed(2);
    let navigations = 0;
    bobPage.on('framenavigated', () => (navigations += 1));

    // Alice pays from her own browser (the first context).
    await nav('Send money').click();
    await expectHeading('Send money');
    await label('From account').selectOption(String(alice.usd));
    await label('To account').fill(String(bob.usd));
    await label('Amount').fill('1.25');
    await button('Send').click();
    await page.getByRole('status').filter({ hasText: `Sent USD 1.25 to account #${bob.usd}` }).waitFor();
    const sent = Date.now();
    await bobPage.waitForFunction(
      ([query, text]) => document.querySelector(query)?.textContent?.trim().startsWith(text),
      [selector, expected],
      // How fast is noted below; a loaded machine may take longer than a person would wait.
      { timeout: 10_000 },
    );
    note(`Bob saw ${expected} ${Date.now() - sent} ms after Alice's send was confirmed (was ${before})`);
    check(navigations === 0, `Bob's page navigated ${navigations} times`);
    await bobPage.screenshot({ path: join(ARTIFACTS, '11-live-bob.png'), fullPage: true });
  } finally {
    await bobContext.close();
  }
});

await step('phone width (390 px): no sideways scrolling, every control reachable', async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${BASE}/`);
  await accountRow(alice.usd).waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `the accounts page scrolls sideways by ${overflow}px`);
  await shot('11-phone-accounts');
  await accountRow(alice.usd).getByRole('link', { name: 'Statement', exact: true }).click();
  await page.locator('table.entries tbody tr').first().waitFor();
  const overflow2 = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow2 <= 0, `the statement scrolls sideways by ${overflow2}px`);
  await shot('12-phone-statement', false);
  await nav('Send money').click();
  await expectHeading('Send money');
  await shot('13-phone-send');
  await page.setViewportSize({ width: 1200, height: 860 });
});

await step('a description on Send money; the statement names counterparty and description, downloads as CSV; Bob refunds', async () => {
  await nav('Send money').click();
  await expectHeading('Send money');
  await label('From account').selectOption(String(alice.usd));
  await label('To account').fill(String(bob.usd));
  await label('Amount').fill('2.00');
  await label('Description').fill('Lunch, Tuesday');
  await button('Send').click();
  await page.getByRole('status').filter({ hasText: `Sent USD 2.00 to account #${bob.usd}` }).waitFor();
  await nav('Accounts').click();
  await accountRow(alice.usd).getByRole('link', { name: 'Statement', exact: true }).click();
  const newest = page.locator('table.entries tbody tr').first();
  // The statement may first show what it had cached, then the refetched page.
  await newest.filter({ hasText: 'Lunch, Tuesday' }).waitFor();
  check((await cellText(newest, 'Description')).includes('Lunch, Tuesday'), `description: ${await cellText(newest, 'Description')}`);
  check((await cellText(newest, 'Counterparty')) === `#${bob.usd}`, `counterparty: ${await cellText(newest, 'Counterparty')}`);
  const [download] = await Promise.all([page.waitForEvent('download'), button('Download CSV').click()]);
  const csv = readFileSync(await download.path(), 'utf8');
  check(csv.startsWith('Date,Entry,Transfer,Counterparty account,Description'), `CSV header: ${csv.slice(0, 80)}`);
  check(csv.includes(`,${bob.usd},"Lunch, Tuesday",,-2.00,USD,`), `CSV line of the payment: ${csv.split('\r\n')[1]}`);
  // Deposits come from the reserve: named so, and never offered a refund (the bank answers 404).
  const deposits = page.locator('table.entries tbody tr', { has: page.locator('td[data-label="Counterparty"]', { hasText: 'Deposit' }) });
  check((await deposits.count()) > 0, 'the statement names deposits');
  check((await deposits.getByRole('button', { name: /^Refund/ }).count()) === 0, 'a deposit offers no refund');
  await shot('15-statement-described');
  await logOut();
  await logIn(bob.username, PASSWORD);
  await accountRow(bob.usd).getByRole('link', { name: 'Statement', exact: true }).click();
  const received = page.locator('table.entries tbody tr', { hasText: 'Lunch, Tuesday' });
  await received.waitFor();
  await received.getByRole('button', { name: /^Refund/ }).click();
  await page.getByRole('status').filter({ hasText: `Refunded USD 2.00 of transfer` }).waitFor();
  const refundLine = page.locator('table.entries tbody tr').first();
  await page.waitForFunction(() => document.querySelector('table.entries tbody tr td[data-label="Amount"]')?.textContent?.startsWith('−2.00'));
  check((await cellText(refundLine, 'Counterparty')) === `#${alice.usd}`, `the refund goes to Alice: ${await cellText(refundLine, 'Counterparty')}`);
  // Refunded in full: no second refund is offered (the bank would answer 409).
  await received.getByRole('button', { name: /^Refund/ }).waitFor({ state: 'detached' });
  await shot('16-refunded');
  await logOut();
  await logIn(alice.username, PASSWORD);
});

await step("banker: an account's transfers, a partial refund from the list, none on deposits or refunded ones", async () => {
  const aliceToken = await loginToken(alice.username, PASSWORD);
  const aliceEntries = (await api('GET', `/accounts/${alice.usd}/entries?limit=100`, { token: aliceToken })).json;
  const paid = aliceEntries.find((e) => e.amount === -2550).transfer_id;
  const lunch = aliceEntries.find((e) => e.description === 'Lunch, Tuesday').transfer_id;
  const bobBefore = (await api('GET', `/accounts/${bob.usd}`, { token: await loginToken(bob.username, PASSWORD) })).json.balance;
  await logOut();
  await logIn(BANKER_USER, BANKER_PASSWORD);
  await nav('Banker').click();
  await label('Account number').fill(String(bob.usd));
  await button('Look up').click();
  const region = page.getByRole('region', { name: `Account #${bob.usd}` });
  const row = (id) => region.locator(`tr[data-transfer-id="${id}"]`);
  await row(paid).waitFor();
  // Fully refunded: listed, with no refund offered.
  check((await cellText(row(lunch), 'Refunded')).startsWith('2.00'), `lunch refunded: ${await cellText(row(lunch), 'Refunded')}`);
  check((await row(lunch).getByRole('button').count()) === 0, 'a transfer refunded in full offers no refund');
  await region.getByRole('button', { name: `Refund transfer #${paid}`, exact: true }).click();
  const form = region.getByRole('form', { name: `Refund of transfer #${paid}` });
  check((await form.getByLabel('Amount to refund', { exact: true }).inputValue()) === '25.50', 'the refund defaults to all that is left');
  await form.getByLabel('Amount to refund', { exact: true }).fill('30.00');
  await form.getByRole('button', { name: 'Confirm refund', exact: true }).click();
  await form.getByRole('alert').filter({ hasText: 'at most USD 25.50, what is left of it' }).waitFor();
  await form.getByLabel('Amount to refund', { exact: true }).fill('5.00');
  await shot('17-banker-refund-form');
  await form.getByRole('button', { name: 'Confirm refund', exact: true }).click();
  await region.getByRole('status').filter({ hasText: `Refunded USD 5.00 of transfer #${paid} to account #${alice.usd}` }).waitFor();
  // The account and the list are read again: the balance is 5.00 lower, the row says 5.00 refunded.
  const expected = ((bobBefore - 500) / 100).toFixed(2);
  await page.getByTestId('account-balance').filter({ hasText: expected }).waitFor();
  await row(paid).locator('td[data-label="Refunded"]').filter({ hasText: '5.00' }).waitFor();
  await region.getByRole('button', { name: `Refund transfer #${paid}`, exact: true }).waitFor();
  const seen = (await api('GET', `/transfers/${paid}`, { token: aliceToken })).json;
  check(seen.reversed_amount === 500, `reversed_amount: ${seen.reversed_amount}`);
  await shot('18-banker-refunded');
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `the banker screen scrolls sideways by ${overflow}px`);
  await shot('19-phone-banker');
  await page.setViewportSize({ width: 1200, height: 860 });
  await logOut();
  await logIn(alice.username, PASSWORD);
}, { allow: [] });

await step('banker: set an overdraft; a debit into it shows the negative balance and available', async () => {
  await logOut();
  await logIn(BANKER_USER, BANKER_PASSWORD);
  await nav('Banker').click();
  await label('Account number').fill(String(bob.usd));
  await button('Look up').click();
  const region = page.getByRole('region', { name: `Account #${bob.usd}` });
  await region.getByTestId('account-overdraft').filter({ hasText: '0.00' }).waitFor();
  const limit = region.getByLabel('Overdraft limit', { exact: true });
  check((await limit.inputValue()) === '0.00', `the limit shown: ${await limit.inputValue()}`);
  await limit.fill('50.005');
  await button('Set overdraft').click();
  await region.getByRole('alert').filter({ hasText: 'at most 2 decimal places' }).waitFor();
  await limit.fill('50.00');
  await button('Set overdraft').click();
  await region.getByRole('status').filter({ hasText: `Account #${bob.usd} may go down to USD −50.00; USD 81.75 available.` }).waitFor();
  await region.getByTestId('account-overdraft').filter({ hasText: '50.00' }).waitFor();
  await region.getByTestId('account-available').filter({ hasText: '81.75' }).waitFor();
  await shot('20-banker-overdraft');
  await logOut();
  // Bob spends past 0, into the overdraft.
  await logIn(bob.username, PASSWORD);
  await nav('Send money').click();
  await expectHeading('Send money');
  await label('From account').selectOption(String(bob.usd));
  await label('To account').fill(String(alice.usd));
  await label('Amount').fill('60.00');
  await button('Send').click();
  await page.getByRole('status').filter({ hasText: `Sent USD 60.00 to account #${alice.usd}` }).waitFor();
  await nav('Accounts').click();
  const row = accountRow(bob.usd);
  await page.waitForFunction(
    (id) => document.querySelector(`tr[data-account-id="${id}"] td[data-label="Balance"]`)?.textContent?.startsWith('−28.25'),
    bob.usd,
  );
  check((await cellText(row, 'Available')).startsWith('21.75'), `available in the overdraft: ${await cellText(row, 'Available')}`);
  await shot('21-accounts-overdrawn');
  await row.getByRole('link', { name: 'Statement', exact: true }).click();
  const newest = page.locator('table.entries tbody tr').first();
  await newest.locator('td[data-label="Balance after"]').filter({ hasText: '−28.25' }).waitFor();
  await page.locator('.summary').getByText('21.75').waitFor();
  check((await page.locator('.summary').innerText()).includes('Overdraft\n50.00'), `the summary names the overdraft: ${await page.locator('.summary').innerText()}`);
  const chartName = await page.locator('.chart svg').getAttribute('aria-label');
  check(chartName.includes('lowest USD −28.25'), `the chart names the low point: ${chartName}`);
  await shot('22-statement-overdrawn');
  // One minor unit past the floor is refused by the bank.
  const token = await loginToken(bob.username, PASSWORD);
  const past = await api('POST', '/transfers', {
    token,
    body: { from_account_id: bob.usd, to_account_id: alice.usd, amount: 2176, currency: 'USD' },
  });
  check(past.status === 422 && past.json.error.code === 'insufficient_funds', `past the floor: ${past.status}`);
  await logOut();
  await logIn(alice.username, PASSWORD);
});

await step('log out: back to the login screen, the app no longer opens', async () => {
  await logOut();
  await page.goto(`${BASE}/statement/${alice.usd}`);
  await expectHeading('Log in');
  await shot('14-logged-out');
});

await step('the access token was renewed in the browser before it expired', async () => {
  note(`POST /api/tokens/renew_access answered 200 ${renewals} time(s)`);
  check(renewals > 0, 'no renewal seen (is TALLY_TOKEN__ACCESS_TTL short in this run?)');
});

await browser.close();
for (const result of results.filter((r) => r.status === 'not run')) console.log(`  ---- ${result.name} (not run)`);
const notRun = results.filter((r) => r.status === 'not run').length;
console.log(`e2e: ${passed} passed, ${failed + notRun} failed`);
process.exit(failed || notRun ? 1 : 0);
