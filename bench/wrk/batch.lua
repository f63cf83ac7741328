-- wrk script for batches: POST /transfers/batch with ITEMS transfers each, real access tokens.
--
--   wrk -t2 -c4 -d20s --timeout 60s --latency -s bench/wrk/batch.lua http://127.0.0.1:PORT \
--       -- USERS_TSV SCENARIO [ITEMS]
--
-- USERS_TSV and SCENARIO as for transfers.lua ("uniform": all seeded users; "hot": the first 10).
-- Each request is one random seeded user (its token) sending ITEMS (default 1000, the API's
-- maximum) transfers from its own account (the API refuses any other) to random other accounts
-- of the set, 1..100 minor units each, "atomic": false. A batch's items are drawn afresh for every
-- request.
--
-- done() prints one line "BATCH_RESULT {json}": requests, answers by status (200/201 = the batch
-- was taken), the items the answers reported as transfers and as errors, and the latency
-- percentiles in microseconds. scripts/bench counts committed transfers from the database, not
-- from these answers.

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
  items = tonumber(args[3] or "1000")
  assert(path, "usage: -- USERS_TSV [uniform|hot] [ITEMS]")
  assert(scenario == "uniform" or scenario == "hot", "scenario must be uniform or hot")
  assert(items and items >= 1 and items <= 1000, "ITEMS must be 1..1000")
  users = read_users(path, scenario == "hot" and HOT_USERS or nil)
  math.randomseed(7907 * (thread_index or 1))
  status_ok, status_4xx, status_5xx, status_other = 0, 0, 0, 0
  items_transfer, items_error = 0, 0
end

function request()
  local count = #users
  local from = math.random(count)
  local sender = users[from]
  local parts = {}
  for k = 1, items do
    local to = math.random(count - 1)
    if to >= from then to = to + 1 end
    parts[k] = string.format(
      '{"from_account_id":%d,"to_account_id":%d,"amount":%d,"currency":"%s"}',
      sender.id, users[to].id, math.random(AMOUNT_MAX), sender.currency)
  end
  local body = '{"atomic":false,"transfers":[' .. table.concat(parts, ",") .. ']}'
  return wrk.format("POST", "/transfers/batch", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. sender.token,
  }, body)
end

function response(status, headers, body)
  if status == 200 or status == 201 then
    status_ok = status_ok + 1
    if body then
      -- Each result is {"transfer": {...}} or {"error": {...}}.
      local _, transfers = body:gsub('"transfer"%s*:', "")
      local _, errors = body:gsub('"error"%s*:', "")
      items_transfer = items_transfer + transfers
      items_error = items_error + errors
    end
  elseif status >= 400 and status < 500 then
    status_4xx = status_4xx + 1
  elseif status >= 500 and status < 600 then
    status_5xx = status_5xx + 1
  else
    status_other = status_other + 1
  end
end

function done(summary, latency, requests)
  local names = { "status_ok", "status_4xx", "status_5xx", "status_other", "items_transfer",
                  "items_error" }
  local totals = {}
  for _, name in ipairs(names) do totals[name] = 0 end
  -- done() runs in wrk's main Lua state, where init() never ran: ask a thread.
  local per_request = threads[1] and threads[1]:get("items") or 0
  for _, thread in ipairs(threads) do
    for _, name in ipairs(names) do
      totals[name] = totals[name] + (thread:get(name) or 0)
    end
  end
  local errors = summary.errors
  io.write(string.format(
    'BATCH_RESULT {"requests":%d,"duration_us":%d,"items_per_request":%d,"status_ok":%d,' ..
    '"status_4xx":%d,"status_5xx":%d,"status_other":%d,"items_transfer":%d,"items_error":%d,' ..
    '"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d}}\n',
    summary.requests, summary.duration, per_request, totals.status_ok, totals.status_4xx,
    totals.status_5xx, totals.status_other, totals.items_transfer, totals.items_error,
    errors.connect, errors.read, errors.write, errors.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max))
end
