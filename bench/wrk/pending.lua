-- wrk script for pending (two-phase) transfers: create-then-post pairs with real access tokens.
--
--   wrk -t2 -c64 -d20s --latency -s bench/wrk/pending.lua http://127.0.0.1:PORT -- USERS_TSV SCENARIO
--
-- USERS_TSV and SCENARIO as for transfers.lua ("uniform": all seeded users; "hot": the first 10).
-- A pair: user i (the payer, its token) sends POST /transfers with "pending": true to user j's
-- account; once the hold is answered (201), user j (the payee, its token: only the payee or a
-- banker may post) sends POST /transfers/{id}/post with an empty JSON body, which moves the whole
-- held amount. Each thread keeps a queue of holds waiting for their post: a connection that is
-- free posts the oldest waiting hold first, else creates a new one, so pairs complete as fast as
-- the server answers and at most one post per hold is ever sent.
--
-- done() prints one line "PENDING_RESULT {json}": holds sent and created (201), posts sent and
-- done (200), the other answers by status, holds still waiting for their post at the end, and the
-- latency percentiles (of both kinds of request together) in microseconds. The committed counts
-- that scripts/bench reports come from the database.

local HOT_USERS = 10
local AMOUNT_MAX = 100
-- Long enough that no hold expires during a run (expiry is not what this scenario measures).
local TIMEOUT_SECONDS = 3600

local threads = {}

function setup(thread)
  thread:set("thread_index", #threads + 1)
  table.insert(threads, thread)
end

local function read_users(path, limit)
  local list, by_account = {}, {}
  local file = assert(io.open(path, "r"), "cannot open " .. path)
  for line in file:lines() do
    local id, currency, token = line:match("^(%d+)\t(%u+)\t(%S+)$")
    if id then
      local user = { id = tonumber(id), currency = currency, token = token }
      list[#list + 1] = user
      by_account[user.id] = user
      if limit and #list >= limit then break end
    end
  end
  file:close()
  assert(#list >= 2, path .. " needs at least two users")
  return list, by_account
end

function init(args)
  local path, scenario = args[1], args[2] or "uniform"
  assert(path, "usage: -- USERS_TSV [uniform|hot]")
  assert(scenario == "uniform" or scenario == "hot", "scenario must be uniform or hot")
  users, users_by_account = read_users(path, scenario == "hot" and HOT_USERS or nil)
  math.randomseed(104729 * (thread_index or 1))
  -- Holds waiting for their post: a FIFO of {id, payee token}.
  waiting, waiting_head, waiting_tail = {}, 1, 0
  holds_sent, holds_created, posts_sent, posts_done = 0, 0, 0, 0
  status_4xx, status_409, status_5xx, status_other, unparsed = 0, 0, 0, 0, 0
end

function request()
  if waiting_head <= waiting_tail then
    local hold = waiting[waiting_head]
    waiting[waiting_head] = nil
    waiting_head = waiting_head + 1
    posts_sent = posts_sent + 1
    return wrk.format("POST", "/transfers/" .. hold.id .. "/post", {
      ["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. hold.token,
    }, "{}")
  end
  local count = #users
  local from = math.random(count)
  local to = math.random(count - 1)
  if to >= from then to = to + 1 end
  local payer, payee = users[from], users[to]
  holds_sent = holds_sent + 1
  local body = string.format(
    '{"from_account_id":%d,"to_account_id":%d,"amount":%d,"currency":"%s",' ..
    '"pending":true,"timeout_seconds":%d}',
    payer.id, payee.id, math.random(AMOUNT_MAX), payer.currency, TIMEOUT_SECONDS)
  return wrk.format("POST", "/transfers", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. payer.token,
  }, body)
end

function response(status, headers, body)
  if status == 201 then
    -- A hold: its id and payee are in the transfer object of the answer.
    holds_created = holds_created + 1
    local transfer = body and body:match('"transfer"%s*:%s*(%b{})')
    local id = transfer and transfer:match('"id"%s*:%s*(%d+)')
    local to = transfer and transfer:match('"to_account_id"%s*:%s*(%d+)')
    local payee = to and users_by_account[tonumber(to)]
    if id and payee then
      waiting_tail = waiting_tail + 1
      waiting[waiting_tail] = { id = id, token = payee.token }
    else
      unparsed = unparsed + 1
    end
  elseif status == 200 then
    posts_done = posts_done + 1
  elseif status == 409 then
    status_409 = status_409 + 1
  elseif status >= 400 and status < 500 then
    status_4xx = status_4xx + 1
  elseif status >= 500 and status < 600 then
    status_5xx = status_5xx + 1
  else
    status_other = status_other + 1
  end
end

function done(summary, latency, requests)
  local names = { "holds_sent", "holds_created", "posts_sent", "posts_done", "status_409",
                  "status_4xx", "status_5xx", "status_other", "unparsed" }
  local totals = { waiting = 0 }
  for _, name in ipairs(names) do totals[name] = 0 end
  for _, thread in ipairs(threads) do
    for _, name in ipairs(names) do
      totals[name] = totals[name] + (thread:get(name) or 0)
    end
    totals.waiting = totals.waiting + (thread:get("waiting_tail") or 0) - (thread:get("waiting_head") or 1) + 1
  end
  local errors = summary.errors
  io.write(string.format(
    'PENDING_RESULT {"requests":%d,"duration_us":%d,"holds_sent":%d,"holds_created":%d,' ..
    '"posts_sent":%d,"posts_done":%d,"status_409":%d,"status_4xx_other":%d,"status_5xx":%d,' ..
    '"status_other":%d,"unparsed":%d,"waiting_at_end":%d,' ..
    '"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d}}\n',
    summary.requests, summary.duration, totals.holds_sent, totals.holds_created,
    totals.posts_sent, totals.posts_done, totals.status_409, totals.status_4xx, totals.status_5xx,
    totals.status_other, totals.unparsed, totals.waiting,
    errors.connect, errors.read, errors.write, errors.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max))
end
