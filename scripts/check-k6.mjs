// Runs load-tests/k6/transfers.js under Node with stand-ins for k6's modules (k6 itself is not
// installable here), to check what k6 would send: each VU logs in once, then posts transfers from
// its own account to an account of the same currency (among the first 10 users for SCENARIO=hot),
// with its Bearer token and a unique Idempotency-Key; SCENARIO=batch posts batches of BATCH_SIZE
// such items to /transfers/batch and counts the committed ones; the options bound VUs, duration
// and batch size; bad settings are refused. No network: the stand-in `http` answers from memory.
//
//   node scripts/check-k6.mjs [path/to/transfers.js]      (scripts/check-deploy runs it)
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const script = path.resolve(process.argv[2] || path.join(repo, 'load-tests/k6/transfers.js'));
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tally-k6-'));

// --- stand-ins for k6's modules, as a package `k6` that the copied script resolves --------------
const k6 = path.join(work, 'node_modules', 'k6');
fs.mkdirSync(k6, { recursive: true });
fs.writeFileSync(path.join(k6, 'package.json'), JSON.stringify({
  name: 'k6', type: 'module',
  exports: { '.': './index.js', './http': './http.js', './data': './data.js', './metrics': './metrics.js' },
}));
fs.writeFileSync(path.join(k6, 'index.js'), `
export function check(value, checks) {
  let all = true;
  for (const [name, predicate] of Object.entries(checks)) {
    const ok = Boolean(predicate(value));
    globalThis.__k6.checks.push({ name, ok });
    all = all && ok;
  }
  return all;
}
export function fail(message) { throw new Error('fail: ' + message); }
export function sleep() {}
export default { check, fail, sleep };
`);
fs.writeFileSync(path.join(k6, 'http.js'), `
function post(url, body, params) { return globalThis.__k6.server('POST', url, body, params || {}); }
function get(url, params) { return globalThis.__k6.server('GET', url, null, params || {}); }
function expectedStatuses(...statuses) { return { statuses }; }
function setResponseCallback(callback) { globalThis.__k6.responseCallback = callback; }
export { post, get, expectedStatuses, setResponseCallback };
export default { post, get, expectedStatuses, setResponseCallback };
`);
// Like k6's SharedArray: length, indexing and for-of only (no map/forEach), read-only.
fs.writeFileSync(path.join(k6, 'data.js'), `
export class SharedArray {
  constructor(name, make) {
    const items = make();
    if (!Array.isArray(items)) throw new Error('SharedArray ' + name + ': the function must return an array');
    const frozen = JSON.parse(JSON.stringify(items));
    return new Proxy({}, {
      get(_, key) {
        if (key === 'length') return frozen.length;
        if (key === Symbol.iterator) return () => frozen[Symbol.iterator]();
        if (typeof key === 'string' && /^\\d+$/.test(key)) return frozen[Number(key)];
        throw new Error('SharedArray has no ' + String(key));
      },
      set() { throw new Error('SharedArray is read-only'); },
    });
  }
}
export default { SharedArray };
`);
fs.writeFileSync(path.join(k6, 'metrics.js'), `
class Metric { constructor(name) { this.name = name; globalThis.__k6.metrics[name] = 0; }
  add(value) { globalThis.__k6.metrics[this.name] += value; } }
export class Counter extends Metric {}
export class Trend extends Metric {}
export class Rate extends Metric {}
export class Gauge extends Metric {}
export default { Counter, Trend, Rate, Gauge };
`);

// --- a seeded users file: 30 users over 3 currencies; the first 10 mix USD and EUR --------------
const currencies = ['USD', 'EUR', 'USD', 'USD', 'EUR', 'USD', 'EUR', 'USD', 'USD', 'EUR'];
const seeded = [];
for (let i = 0; i < 30; i++) {
  seeded.push({ username: `user_${i}`, password: `password-${i}`, account_id: 1000 + i,
                currency: i < 10 ? currencies[i] : ['USD', 'EUR', 'CAD'][i % 3] });
}
const usersFile = path.join(work, 'users.json');
fs.writeFileSync(usersFile, JSON.stringify(seeded));
const byAccount = new Map(seeded.map((u) => [u.account_id, u]));

// --- a fake Tally behind the stand-in http module ----------------------------------------------
function response(status, payload) {
  const body = JSON.stringify(payload);
  return {
    status, body,
    json(selector) {
      const parsed = JSON.parse(body);
      return selector === undefined ? parsed : parsed[selector];
    },
  };
}

// The fake refuses every 7th batch item it sees (insufficient_funds), to exercise the counting.
const REFUSE_EVERY = 7;

let loadCount = 0;
async function load(env) {
  globalThis.__k6 = {
    checks: [], metrics: {}, requests: [], responseCallback: null, expired: new Set(),
    batchItems: 0, batchCommitted: 0,
    server(method, url, body, params) {
      const request = { method, url, body: body === null ? null : JSON.parse(body), params, vu: globalThis.__VU };
      this.requests.push(request);
      const base = (env.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
      if (method === 'POST' && url === `${base}/users/login`) {
        const user = seeded.find((u) => u.username === request.body.username);
        if (!user || user.password !== request.body.password) return response(401, { error: { code: 'invalid_credentials' } });
        return response(200, { access_token: `token-${user.username}-${this.requests.length}`, refresh_token: 'r' });
      }
      if (method === 'POST' && url === `${base}/transfers`) {
        const auth = params.headers && params.headers.Authorization;
        if (this.expired.has(auth)) return response(401, { error: { code: 'token_expired' } });
        return response(201, { transfer: { id: this.requests.length, ...request.body } });
      }
      if (method === 'POST' && url === `${base}/transfers/batch`) {
        const auth = params.headers && params.headers.Authorization;
        if (this.expired.has(auth)) return response(401, { error: { code: 'token_expired' } });
        const items = request.body.transfers;
        if (!Array.isArray(items) || items.length < 1 || items.length > 1000) {
          return response(400, { error: { code: 'validation_failed' } });
        }
        const results = items.map((item) => {
          this.batchItems += 1;
          if (this.batchItems % REFUSE_EVERY === 0) {
            return { error: { code: 'insufficient_funds', message: 'not enough' } };
          }
          this.batchCommitted += 1;
          return { transfer: { id: this.batchItems, status: 'posted', ...item } };
        });
        return response(200, { results, accounts: [] });
      }
      return response(404, { error: { code: 'not_found' } });
    },
  };
  globalThis.__ENV = { USERS_FILE: usersFile, ...env };
  globalThis.__VU = 0;
  globalThis.__ITER = 0;
  globalThis.open = (file) => fs.readFileSync(file, 'utf8');
  // A fresh copy per load, so module state (and the init context) starts anew, as in a new VU.
  loadCount += 1;
  const copy = path.join(work, `transfers-${loadCount}.mjs`);
  fs.copyFileSync(script, copy);
  return import(pathToFileURL(copy).href);
}

async function runVus(env, vus, iterations) {
  const modules = [];
  for (let vu = 1; vu <= vus; vu++) modules.push(await load(env));
  for (let iter = 0; iter < iterations; iter++) {
    for (let vu = 1; vu <= vus; vu++) {
      globalThis.__VU = vu;
      globalThis.__ITER = iter;
      const module = modules[vu - 1];
      const name = Object.values(module.options.scenarios)[0].exec;
      await module[name]();
    }
  }
  return { modules, state: globalThis.__k6 };
}

function checkTraffic(state, { vus, iterations, hot, base }) {
  const logins = state.requests.filter((r) => r.url === `${base}/users/login`);
  const transfers = state.requests.filter((r) => r.url === `${base}/transfers`);
  assert.equal(logins.length, vus, 'one login per VU');
  assert.equal(transfers.length, vus * iterations, 'one transfer per iteration');
  const keys = new Set();
  for (let vu = 1; vu <= vus; vu++) {
    const login = logins.find((r) => r.vu === vu);
    assert.ok(login, `VU ${vu} logged in`);
    const user = seeded.find((u) => u.username === login.body.username);
    if (hot) assert.ok(seeded.indexOf(user) < 10, 'hot: VUs log in as one of the first 10 users');
    for (const t of transfers.filter((r) => r.vu === vu)) {
      const b = t.body;
      assert.deepEqual(Object.keys(b).sort(), ['amount', 'currency', 'from_account_id', 'to_account_id']);
      assert.equal(b.from_account_id, user.account_id, 'sends from its own account');
      assert.notEqual(b.to_account_id, b.from_account_id, 'never to the same account');
      const to = byAccount.get(b.to_account_id);
      assert.ok(to, 'to a seeded account');
      assert.equal(b.currency, user.currency);
      assert.equal(to.currency, user.currency, 'to an account of the same currency');
      if (hot) assert.ok(seeded.indexOf(to) < 10, 'hot: to one of the first 10 accounts');
      assert.ok(Number.isInteger(b.amount) && b.amount >= 1, 'a positive integer amount');
      assert.match(t.params.headers.Authorization, /^Bearer token-/);
      assert.equal(t.params.headers['Content-Type'], 'application/json');
      const key = t.params.headers['Idempotency-Key'];
      assert.ok(key && key.length <= 255 && /^[\x21-\x7e]+$/.test(key), 'a valid Idempotency-Key');
      assert.ok(!keys.has(key), 'Idempotency-Keys are unique');
      keys.add(key);
    }
  }
  assert.ok(state.checks.every((c) => c.ok), 'every check passed');
  assert.deepEqual(state.responseCallback, { statuses: [200, 201, 422] });
}

function checkBatches(state, { vus, iterations, size, base }) {
  const logins = state.requests.filter((r) => r.url === `${base}/users/login`);
  const batches = state.requests.filter((r) => r.url === `${base}/transfers/batch`);
  assert.equal(logins.length, vus, 'one login per VU');
  assert.equal(batches.length, vus * iterations, 'one batch per iteration');
  assert.equal(state.requests.filter((r) => r.url === `${base}/transfers`).length, 0, 'no single transfers');
  const keys = new Set();
  for (let vu = 1; vu <= vus; vu++) {
    const login = logins.find((r) => r.vu === vu);
    assert.ok(login, `VU ${vu} logged in`);
    const user = seeded.find((u) => u.username === login.body.username);
    for (const request of batches.filter((r) => r.vu === vu)) {
      assert.deepEqual(Object.keys(request.body).sort(), ['atomic', 'transfers']);
      assert.equal(request.body.atomic, false, 'each item on its own');
      assert.equal(request.body.transfers.length, size, 'BATCH_SIZE items');
      for (const b of request.body.transfers) {
        assert.deepEqual(Object.keys(b).sort(), ['amount', 'currency', 'from_account_id', 'to_account_id']);
        assert.equal(b.from_account_id, user.account_id, 'every item from its own account');
        assert.notEqual(b.to_account_id, b.from_account_id, 'never to the same account');
        const to = byAccount.get(b.to_account_id);
        assert.ok(to, 'to a seeded account');
        assert.equal(b.currency, user.currency);
        assert.equal(to.currency, user.currency, 'to an account of the same currency');
        assert.ok(Number.isInteger(b.amount) && b.amount >= 1, 'a positive integer amount');
      }
      assert.match(request.params.headers.Authorization, /^Bearer token-/);
      assert.equal(request.params.headers['Content-Type'], 'application/json');
      assert.equal(request.params.tags.endpoint, 'batch');
      const key = request.params.headers['Idempotency-Key'];
      assert.ok(key && key.length <= 255 && /^[\x21-\x7e]+$/.test(key), 'a valid Idempotency-Key');
      assert.ok(!keys.has(key), 'Idempotency-Keys are unique');
      keys.add(key);
    }
  }
  assert.ok(state.checks.length > 0 && state.checks.every((c) => c.ok), 'every check passed');
  assert.ok(state.checks.some((c) => c.name === 'batch: 200'), 'the status is checked');
  assert.equal(state.batchItems, vus * iterations * size);
  if (state.batchItems >= REFUSE_EVERY) assert.ok(state.batchCommitted < state.batchItems, 'the fake refused some items');
  assert.equal(state.metrics.tally_batch_items_committed, state.batchCommitted, 'committed items counted');
  assert.equal(state.metrics.tally_batch_items_refused, state.batchItems - state.batchCommitted, 'refused items counted');
  assert.equal(state.metrics.tally_transfers_committed, 0);
  assert.deepEqual(state.responseCallback, { statuses: [200, 201, 422] });
}

let passed = 0;
let failed = 0;
async function test(name, body) {
  try {
    await body();
    passed += 1;
    console.log(`  ok   ${name}`);
  } catch (error) {
    failed += 1;
    console.log(`  FAIL ${name}\n${String(error && error.stack || error).replace(/^/gm, '       ')}`);
  }
}

await test('uniform: login once per VU, transfers within a currency', async () => {
  const { modules, state } = await runVus({ SCENARIO: 'uniform', VUS: '7', DURATION: '2m' }, 7, 6);
  const scenario = modules[0].options.scenarios.uniform;
  assert.equal(scenario.executor, 'constant-vus');
  assert.equal(scenario.vus, 7);
  assert.equal(scenario.duration, '120s');
  checkTraffic(state, { vus: 7, iterations: 6, hot: false, base: 'http://127.0.0.1:8080' });
  assert.equal(state.metrics.tally_transfers_committed, 42);
  assert.equal(scenario.exec, 'transfers');
  assert.deepEqual(Object.keys(modules[0].options.thresholds).sort(),
    ['checks', 'http_req_duration{endpoint:transfers}', 'http_req_failed']);
  assert.equal(modules[0].default, modules[0].transfers, 'the default function posts transfers');
});

await test('batch: login once per VU, BATCH_SIZE items within a currency, committed items counted', async () => {
  const base = 'http://nginx/api';
  const env = { SCENARIO: 'batch', VUS: '5', BATCH_SIZE: '40', BASE_URL: base };
  const { modules, state } = await runVus(env, 5, 3);
  const scenario = modules[0].options.scenarios.batch;
  assert.ok(scenario, 'scenario named batch');
  assert.equal(scenario.executor, 'constant-vus');
  assert.equal(scenario.exec, 'batches');
  assert.equal(scenario.vus, 5);
  assert.ok(modules[0].options.thresholds['http_req_duration{endpoint:batch}'], 'a latency threshold on batches');
  checkBatches(state, { vus: 5, iterations: 3, size: 40, base });
});

await test('batch defaults: 100 items; BATCH_SIZE 1 and 1000 accepted', async () => {
  for (const [size, expected] of [[undefined, 100], ['1', 1], ['1000', 1000]]) {
    const env = size === undefined ? { SCENARIO: 'batch' } : { SCENARIO: 'batch', BATCH_SIZE: size };
    const { modules, state } = await runVus(env, 2, 2);
    assert.equal(modules[0].default, modules[0].batches, 'the default function posts batches');
    checkBatches(state, { vus: 2, iterations: 2, size: expected, base: 'http://127.0.0.1:8080' });
  }
});

await test('batch: an expired token: log in again on the next iteration', async () => {
  const module = await load({ SCENARIO: 'batch', BATCH_SIZE: '3' });
  globalThis.__VU = 1;
  await module.batches();
  const state = globalThis.__k6;
  state.expired.add(state.requests[1].params.headers.Authorization);
  await module.batches(); // 401
  await module.batches(); // logs in again
  const logins = state.requests.filter((r) => r.url.endsWith('/users/login'));
  assert.equal(logins.length, 2);
  assert.equal(state.metrics.tally_batch_items_committed + state.metrics.tally_batch_items_refused, 6,
    'the 401 counts no items');
  assert.deepEqual(state.checks.filter((c) => !c.ok).map((c) => c.name),
    ['batch: 200', 'batch: one result per item'], 'only the 401 fails its checks');
});

await test('hot: both accounts among the first 10 users', async () => {
  const base = 'http://nginx';
  const { modules, state } = await runVus({ SCENARIO: 'hot', VUS: '25', BASE_URL: `${base}/` }, 25, 4);
  assert.ok(modules[0].options.scenarios.hot, 'scenario named hot');
  checkTraffic(state, { vus: 25, iterations: 4, hot: true, base });
});

await test('defaults: uniform, 20 VUs, 30s, http://127.0.0.1:8080', async () => {
  const module = await load({});
  const scenario = module.options.scenarios.uniform;
  assert.equal(scenario.vus, 20);
  assert.equal(scenario.duration, '30s');
  assert.ok(module.options.thresholds.http_req_failed);
});

await test('an expired token: log in again on the next iteration', async () => {
  const module = await load({ VUS: '1' });
  globalThis.__VU = 1;
  await module.transfers();
  const state = globalThis.__k6;
  state.expired.add(state.requests[1].params.headers.Authorization);
  await module.transfers(); // 401
  await module.transfers(); // logs in again
  const logins = state.requests.filter((r) => r.url.endsWith('/users/login'));
  assert.equal(logins.length, 2);
});

for (const [env, pattern] of [
  [{ SCENARIO: 'spiky' }, /SCENARIO/],
  [{ VUS: '0' }, /VUS/],
  [{ VUS: '100000' }, /VUS/],
  [{ VUS: 'many' }, /VUS/],
  [{ SCENARIO: 'batch', BATCH_SIZE: '0' }, /BATCH_SIZE/],
  [{ SCENARIO: 'batch', BATCH_SIZE: '1001' }, /BATCH_SIZE/],
  [{ SCENARIO: 'batch', BATCH_SIZE: 'ten' }, /BATCH_SIZE/],
  [{ DURATION: '2d' }, /DURATION/],
  [{ DURATION: '3h' }, /DURATION/],
  [{ USERS_FILE: '/nonexistent/users.json' }, /ENOENT|no such file/],
]) {
  await test(`refuses ${JSON.stringify(env)}`, async () => {
    await assert.rejects(load(env), pattern);
  });
}

fs.rmSync(work, { recursive: true, force: true });
console.log(`k6 script: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
