-- wrk script for bench/soak.py: cycles through a file of requests, one per line, each
--   PATH<TAB>Header-Name: value<TAB>Header-Name: value ...     (no header at all is fine)
-- and counts the responses by status. Arguments: FILE EXPECTED_STATUS [START_OFFSET].
-- `done` prints one line "SOAK_RESULT {json}" (requests, ok, bad, statuses, socket errors).
-- Every request is formatted once, in `init`, as in bench/wrk.lua.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local reqs = {}
local n = 0
local i = 0
local expect = 200

-- Globals: `done` reads them from each thread with thread:get().
ok = 0
bad = 0
last_bad = 0
statuses = {}

local function split_tab(line)
  local out = {}
  for field in string.gmatch(line, "[^\t]+") do
    table.insert(out, field)
  end
  return out
end

function init(args)
  expect = tonumber(args[2] or "200")
  for line in io.lines(args[1]) do
    if #line > 0 then
      local fields = split_tab(line)
      local headers = {}
      for k = 2, #fields do
        local name, value = string.match(fields[k], "^([^:]+): ?(.*)$")
        if name then
          headers[name] = value
        end
      end
      n = n + 1
      reqs[n] = wrk.format("GET", fields[1], headers)
    end
  end
  if n == 0 then
    n = 1
    reqs[1] = wrk.format("GET", "/api", {})
  end
  i = (tonumber(args[3] or "0") or 0) % n
end

function request()
  i = i % n + 1
  return reqs[i]
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if status == expect then
    ok = ok + 1
  else
    bad = bad + 1
    last_bad = status
  end
end

function done(summary, latency, requests)
  local okt, badt, last = 0, 0, 0
  local by_status = {}
  for _, t in ipairs(threads) do
    okt = okt + (t:get("ok") or 0)
    badt = badt + (t:get("bad") or 0)
    local lb = t:get("last_bad") or 0
    if lb ~= 0 then last = lb end
    for k, v in pairs(t:get("statuses") or {}) do
      by_status[k] = (by_status[k] or 0) + v
    end
  end
  local parts = {}
  for k, v in pairs(by_status) do
    table.insert(parts, string.format('"%s":%d', k, v))
  end
  local e = summary.errors
  io.write(string.format(
    'SOAK_RESULT {"requests":%d,"duration_us":%d,"ok":%d,"bad":%d,"last_bad_status":%d,"statuses":{%s},'
      .. '"p99_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d}}\n',
    summary.requests, summary.duration, okt, badt, last, table.concat(parts, ","),
    latency:percentile(99), e.connect, e.read, e.write, e.timeout))
end
