-- wrk script for bench/run.py: cycles through a pool of tokens (one per line of the file given
-- as the first script argument), one request each, and counts every response whose status is
-- not the expected one (second argument). `done` prints one line "BENCH_RESULT {json}".
--
--   wrk -t1 -c16 -d5s --latency http://127.0.0.1:PORT/api -s bench/wrk.lua -- POOL_FILE 200
--
-- A fourth argument N > 0 stops the (single) thread after N responses: a fixed amount of
-- traffic (bench/footprint.py), with `-d` as the upper bound. A pool of one line is the
-- "repeated token" scenario. Every request is formatted once, in
-- `init`, so `request` only indexes an array: the load generator's per-request work is the same
-- whatever the token.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local reqs = {}
local n = 0
local i = 0
local expect = 200
local limit = 0

-- Globals (not locals): `done` reads them from each thread with thread:get().
ok = 0
bad = 0
last_bad = 0

function init(args)
  local pool = args[1]
  expect = tonumber(args[2] or "200")
  if pool ~= nil and pool ~= "" and pool ~= "-" then
    for line in io.lines(pool) do
      if #line > 0 then
        n = n + 1
        reqs[n] = wrk.format("GET", "/api", { ["Authorization"] = "Bearer " .. line })
      end
    end
  end
  if n == 0 then
    n = 1
    reqs[1] = wrk.format("GET", "/api", {})
  end
  -- Threads start at different offsets of the pool (wrk.thread is per-thread state).
  i = (tonumber(args[3] or "0") or 0) % n
  limit = tonumber(args[4] or "0") or 0
end

function request()
  i = i % n + 1
  return reqs[i]
end

function response(status, headers, body)
  if status == expect then
    ok = ok + 1
  else
    bad = bad + 1
    last_bad = status
  end
  if limit > 0 and ok + bad >= limit then
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local okt, badt, last = 0, 0, 0
  for _, t in ipairs(threads) do
    okt = okt + (t:get("ok") or 0)
    badt = badt + (t:get("bad") or 0)
    local lb = t:get("last_bad") or 0
    if lb ~= 0 then last = lb end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"ok":%d,"bad":%d,"last_bad_status":%d,'
      .. '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f},'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
    summary.requests, summary.duration, summary.bytes, okt, badt, last,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
end
