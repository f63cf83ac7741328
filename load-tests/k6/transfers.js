// k6 load test of Tally's write path: every VU logs in once, then posts transfers (or batches of
// them) in a loop.
//
//   k6 run load-tests/k6/transfers.js                          # against http://127.0.0.1:8080
//   SCENARIO=hot VUS=50 DURATION=2m k6 run load-tests/k6/transfers.js
//   SCENARIO=batch BATCH_SIZE=500 k6 run load-tests/k6/transfers.js
//   docker compose --profile load run --rm k6                  # the demo stack, through nginx
//
// Environment:
//   BASE_URL    where Tally answers (default http://127.0.0.1:8080; the compose stack sets
//               http://nginx)
//   USERS_FILE  the JSON written by `tally seed` (default /seed/users.json):
//               [{"username": "...", "password": "...", "account_id": 123, "currency": "USD"}, ...]
//   SCENARIO    uniform (default): each VU sends from its own user's account to a random account
//               of the same currency among all users;
//               hot: VUs log in only as the first 10 users and send among those 10 accounts, so
//               the traffic concentrates on a few accounts;
//               batch: like uniform, but each iteration is one POST /transfers/batch
//               ("atomic": false) of BATCH_SIZE items from the VU's own account to random accounts
//               of the same currency among all users
//   VUS         virtual users (default 20, at most 1000)
//   DURATION    how long the loop runs (default 30s, at most 1h)
//   AMOUNT_MAX  largest transfer in minor units (default 100; each transfer is 1..AMOUNT_MAX)
//   BATCH_SIZE  items per batch for SCENARIO=batch (default 100, 1..1000, Tally's own bound)
//
// 201 is a committed transfer, 422 (insufficient_funds, currency_mismatch) a refused one: both are
// expected answers. Anything else counts as a failure (thresholds below). A batch answers 200 with
// one result per item, {"transfer": {...}} (committed, counted in tally_batch_items_committed) or
// {"error": {...}} (refused, counted in tally_batch_items_refused).

import http from 'k6/http';
import { check, fail } from 'k6';
import { SharedArray } from 'k6/data';
import { Counter } from 'k6/metrics';

const HOT_USERS = 10;
const MAX_VUS = 1000;
const MAX_DURATION_SECONDS = 3600;
const MAX_BATCH_SIZE = 1000;

function intFromEnv(name, fallback, min, max) {
  const raw = __ENV[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number.parseInt(raw, 10);
  if (!Number.isFinite(value) || String(value) !== String(raw).trim() || value < min || value > max) {
    throw new Error(`${name} must be an integer in ${min}..${max}, got "${raw}"`);
  }
  return value;
}

// "90", "90s", "5m", "1h", "1m30s" -> seconds; refuses anything else and anything over the bound.
function durationFromEnv(name, fallback) {
  const raw = (__ENV[name] || fallback).trim();
  const match = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?$/.exec(raw);
  if (!match || raw === '') throw new Error(`${name} must look like 30s, 5m or 1h, got "${raw}"`);
  const seconds = Number(match[1] || 0) * 3600 + Number(match[2] || 0) * 60 + Number(match[3] || 0);
  if (seconds < 1 || seconds > MAX_DURATION_SECONDS) {
    throw new Error(`${name} must be between 1s and ${MAX_DURATION_SECONDS}s, got "${raw}"`);
  }
  return `${seconds}s`;
}

const SCENARIOS = ['uniform', 'hot', 'batch'];
const SCENARIO = (__ENV.SCENARIO || 'uniform').trim().toLowerCase();
if (!SCENARIOS.includes(SCENARIO)) {
  throw new Error(`SCENARIO must be "uniform", "hot" or "batch", got "${__ENV.SCENARIO}"`);
}
const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const USERS_FILE = __ENV.USERS_FILE || '/seed/users.json';
const VUS = intFromEnv('VUS', 20, 1, MAX_VUS);
const DURATION = durationFromEnv('DURATION', '30s');
const AMOUNT_MAX = intFromEnv('AMOUNT_MAX', 100, 1, 1000000000);
const BATCH_SIZE = intFromEnv('BATCH_SIZE', 100, 1, MAX_BATCH_SIZE);

// Read once, shared read-only by all VUs.
const users = new SharedArray('users', () => {
  const parsed = JSON.parse(open(USERS_FILE));
  if (!Array.isArray(parsed) || parsed.length === 0) {
    throw new Error(`${USERS_FILE} must be a non-empty JSON array of users`);
  }
  parsed.forEach((user, index) => {
    const valid = user && typeof user.username === 'string' && typeof user.password === 'string' &&
      Number.isInteger(user.account_id) && typeof user.currency === 'string';
    if (!valid) {
      throw new Error(`${USERS_FILE}[${index}] needs username, password, account_id and currency`);
    }
  });
  return SCENARIO === 'hot' ? parsed.slice(0, HOT_USERS) : parsed;
});

// For each user (by index), the indexes of the other users whose account has the same currency.
// (A SharedArray supports only length, indexing and for-of: no map/forEach.)
const peers = [];
for (let index = 0; index < users.length; index++) {
  const user = users[index];
  const same = [];
  for (let other = 0; other < users.length; other++) {
    if (other !== index && users[other].currency === user.currency &&
        users[other].account_id !== user.account_id) {
      same.push(other);
    }
  }
  peers.push(same);
}
// The users a VU can log in as: those with someone to send to.
const senders = [];
for (let index = 0; index < peers.length; index++) {
  if (peers[index].length > 0) senders.push(index);
}
if (senders.length === 0) {
  throw new Error(`${USERS_FILE}: no two ${SCENARIO === 'hot' ? 'of the first 10 ' : ''}users share a currency`);
}

const BATCH = SCENARIO === 'batch';

export const options = {
  scenarios: {
    [SCENARIO]: {
      executor: 'constant-vus',
      exec: BATCH ? 'batches' : 'transfers',
      vus: VUS,
      duration: DURATION,
      gracefulStop: '10s',
    },
  },
  thresholds: {
    // Refusals by the money rules (422) are answers, not failures: see the response callback.
    http_req_failed: ['rate<0.01'],
    // A batch of up to 1,000 items is one request: its latency is bounded per request too, looser.
    [BATCH ? 'http_req_duration{endpoint:batch}' : 'http_req_duration{endpoint:transfers}']:
      [BATCH ? 'p(99)<5000' : 'p(99)<1000'],
    checks: ['rate>0.99'],
  },
  summaryTrendStats: ['avg', 'med', 'p(95)', 'p(99)', 'max'],
};

http.setResponseCallback(http.expectedStatuses(200, 201, 422));

const committed = new Counter('tally_transfers_committed');
const refused = new Counter('tally_transfers_refused');
const batchCommitted = new Counter('tally_batch_items_committed');
const batchRefused = new Counter('tally_batch_items_refused');

const JSON_HEADERS = { 'Content-Type': 'application/json' };
// Idempotency keys are scoped to the user and kept for a day: make them unique per run.
const RUN = `${Date.now().toString(36)}-${Math.floor(Math.random() * 1e9).toString(36)}`;

// Per VU (each VU has its own copy of module state): who it is and its token.
let me = -1;
let token = null;

// Spreads the VUs over the senders; VU ids start at 1.
function pickUser() {
  return senders[(__VU - 1) % senders.length];
}

function login() {
  const user = users[me];
  const response = http.post(
    `${BASE_URL}/users/login`,
    JSON.stringify({ username: user.username, password: user.password }),
    { headers: JSON_HEADERS, tags: { name: 'POST /users/login', endpoint: 'login' } },
  );
  const ok = check(response, {
    'login: 200': (r) => r.status === 200,
    'login: access_token': (r) => r.status === 200 && typeof r.json('access_token') === 'string',
  });
  if (!ok) fail(`login as ${user.username} failed: ${response.status} ${response.body}`);
  token = response.json('access_token');
}

export function transfers() {
  if (me < 0) me = pickUser();
  if (token === null) login();

  const from = users[me];
  const candidates = peers[me];
  const to = users[candidates[Math.floor(Math.random() * candidates.length)]];
  const body = {
    from_account_id: from.account_id,
    to_account_id: to.account_id,
    amount: 1 + Math.floor(Math.random() * AMOUNT_MAX),
    currency: from.currency,
  };
  const response = http.post(`${BASE_URL}/transfers`, JSON.stringify(body), {
    headers: Object.assign({}, JSON_HEADERS, {
      Authorization: `Bearer ${token}`,
      'Idempotency-Key': `k6-${RUN}-${__VU}-${__ITER}`,
    }),
    tags: { name: 'POST /transfers', endpoint: 'transfers' },
  });

  if (response.status === 401) {
    // The access token expired (15 minutes by default): log in again on the next iteration.
    token = null;
  }
  if (response.status === 201) committed.add(1);
  if (response.status === 422) refused.add(1);
  check(response, {
    'transfer: 201 or 422': (r) => r.status === 201 || r.status === 422,
  });
}

function randomPeer() {
  const candidates = peers[me];
  return users[candidates[Math.floor(Math.random() * candidates.length)]];
}

// One POST /transfers/batch, "atomic": false: BATCH_SIZE items from the VU's own account to random
// accounts of its currency. 200 answers each item on its own; the committed ones are counted.
export function batches() {
  if (me < 0) me = pickUser();
  if (token === null) login();

  const from = users[me];
  const items = [];
  for (let i = 0; i < BATCH_SIZE; i++) {
    items.push({
      from_account_id: from.account_id,
      to_account_id: randomPeer().account_id,
      amount: 1 + Math.floor(Math.random() * AMOUNT_MAX),
      currency: from.currency,
    });
  }
  const response = http.post(
    `${BASE_URL}/transfers/batch`,
    JSON.stringify({ transfers: items, atomic: false }),
    {
      headers: Object.assign({}, JSON_HEADERS, {
        Authorization: `Bearer ${token}`,
        'Idempotency-Key': `k6-batch-${RUN}-${__VU}-${__ITER}`,
      }),
      tags: { name: 'POST /transfers/batch', endpoint: 'batch' },
    },
  );

  if (response.status === 401) {
    // The access token expired (15 minutes by default): log in again on the next iteration.
    token = null;
  }
  let results = null;
  if (response.status === 200) {
    try {
      const parsed = response.json('results');
      if (Array.isArray(parsed)) results = parsed;
    } catch (error) {
      // Not JSON: the check below fails.
    }
  }
  if (results !== null) {
    let done = 0;
    for (const result of results) {
      if (result && result.transfer) done += 1;
    }
    batchCommitted.add(done);
    batchRefused.add(results.length - done);
  }
  check(response, {
    'batch: 200': (r) => r.status === 200,
    'batch: one result per item': () => results !== null && results.length === items.length,
  });
}

export default BATCH ? batches : transfers;
