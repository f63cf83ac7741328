-- wrk script for Tally's write path: POST /transfers with real access tokens.
--
--   wrk -t2 -c64 -d20s --latency -s bench/wrk/transfers.lua http://127.0.0.1:PORT -- USERS_TSV SCENARIO
--
-- USERS_TSV: one seeded user per line, "account_id<TAB>currency<TAB>access_token", in account-id
-- order (scripts/bench derives it from `tally seed`'s JSON; Lua has no JSON parser built in).
-- SCENARIO: "uniform" (sender and recipient among all users) or "hot" (both among the first 10).
--
-- Each request picks a random sender (its token and its account) and a random other account as
-- recipient, so every wrk connection behaves as one client sending as many users. Amounts are
-- 1..100 minor units. done() prints one line "WRK_RESULT {json}" with the request count, the
-- status codes (201 = committed) and the latency percentiles in microseconds.

local HOT_USERS = 10
local AMOUNT_MAX = 100

local threads = {}

function setup(thread)
  thread:set("thread_index", #threads + 1)
  table.insert(threads, thread)
end

local function read_users(path, limit)
  local users = {}
  local file = assert(io.open(path, "r"), "cannot open " .. path)
  for line in file:lines() do
    local id, currency, token = line:match("^(%d+)\t(%u+)\t(%S+)$")
    if id then
      users[#users + 1] = { id = tonumber(id), currency = currency, token = token }
      if limit and #users >= limit then break end
    end
  end
  file:close()
  assert(#users >= 2, path .. " needs at least two users")
  return users
end

function init(args)
  local path, scenario = args[1], args[2] or "uniform"
  assert(path, "usage: -- USERS_TSV [uniform|hot]")
  assert(scenario == "uniform" or scenario == "hot", "scenario must be uniform or hot")
  users = read_users(path, scenario == "hot" and HOT_USERS or nil)
  -- A different sequence per thread (each has its own Lua state), repeatable across runs.
  math.randomseed(7919 * (thread_index or 1))
  -- Counters per thread; done() adds them up through thread:get.
  status_201, status_422, status_4xx, status_5xx, status_other = 0, 0, 0, 0, 0
end

function request()
  local count = #users
  local from = math.random(count)
  -- Uniform over the others: draw among count-1 and skip the sender.
  local to = math.random(count - 1)
  if to >= from then to = to + 1 end
  local sender, recipient = users[from], users[to]
  local body = string.format(
    '{"from_account_id":%d,"to_account_id":%d,"amount":%d,"currency":"%s"}',
    sender.id, recipient.id, math.random(AMOUNT_MAX), sender.currency)
  return wrk.format("POST", "/transfers", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. sender.token,
  }, body)
end

function response(status, headers, body)
  if status == 201 then
    status_201 = status_201 + 1
  elseif status == 422 then
    status_422 = status_422 + 1
  elseif status >= 400 and status < 500 then
    status_4xx = status_4xx + 1
  elseif status >= 500 and status < 600 then
    status_5xx = status_5xx + 1
  else
    status_other = status_other + 1
  end
end

function done(summary, latency, requests)
  local totals = { s201 = 0, s422 = 0, s4xx = 0, s5xx = 0, other = 0 }
  for _, thread in ipairs(threads) do
    totals.s201 = totals.s201 + (thread:get("status_201") or 0)
    totals.s422 = totals.s422 + (thread:get("status_422") or 0)
    totals.s4xx = totals.s4xx + (thread:get("status_4xx") or 0)
    totals.s5xx = totals.s5xx + (thread:get("status_5xx") or 0)
    totals.other = totals.other + (thread:get("status_other") or 0)
  end
  local errors = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"duration_us":%d,"status_201":%d,"status_422":%d,' ..
    '"status_4xx_other":%d,"status_5xx":%d,"status_other":%d,' ..
    '"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d}}\n',
    summary.requests, summary.duration, totals.s201, totals.s422, totals.s4xx, totals.s5xx,
    totals.other, errors.connect, errors.read, errors.write, errors.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max))
end
