-- Shared by the wrk scripts of bench/report.py (each loads it with dofile): numbering of wrk's threads, the status
-- check of every response, the data files written by report.py, and one line of results printed by done().
--
-- wrk gives every thread its own Lua state: the counters below are per thread, and done() (in the main state)
-- adds them up through thread:get().

local common = {}
local threads = {}

-- Counters of this thread: responses that were not 2xx (by status), and requests sent without valid data.
bad = 0
bad_statuses = {}
starved = 0

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

-- A response counts only when it is 2xx: wrk itself counts only statuses from 400 up, so a redirect to the sign-in
-- page would pass as a success without this check.
function common.check(status)
  if status >= 200 and status < 300 then
    return true
  end
  bad = bad + 1
  local key = tostring(status)
  bad_statuses[key] = (bad_statuses[key] or 0) + 1
  return false
end

function common.lines(path)
  local found = {}
  local handle = assert(io.open(path, "r"), "cannot open " .. tostring(path))
  for line in handle:lines() do
    if line ~= "" then
      table.insert(found, line)
    end
  end
  handle:close()
  assert(#found > 0, "no data in " .. path)
  return found
end

function common.split(text, separator)
  local found = {}
  for part in string.gmatch(text or "", "([^" .. separator .. "]+)") do
    table.insert(found, part)
  end
  return found
end

-- Request headers from BENCH_HEADERS: "Name: value" lines (the bearer token or the page session's cookie).
function common.headers(extra)
  local headers = {}
  for _, line in ipairs(common.split(os.getenv("BENCH_HEADERS"), "\n")) do
    local name, value = line:match("^([^:]+):%s*(.*)$")
    if name then
      headers[name] = value
    end
  end
  for name, value in pairs(extra or {}) do
    headers[name] = value
  end
  return headers
end

function common.urlencode(text)
  return (text:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function common.seed()
  math.randomseed(os.time() * 1000 + (thread_index or 0) * 7919)
end

function common.header(headers, name)
  return headers[name] or headers[string.lower(name)]
end

function done(summary, latency, requests)
  local non2xx, lost = 0, 0
  local statuses = {}
  for _, thread in ipairs(threads) do
    non2xx = non2xx + (thread:get("bad") or 0)
    lost = lost + (thread:get("starved") or 0)
    for status, count in pairs(thread:get("bad_statuses") or {}) do
      statuses[status] = (statuses[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(statuses) do
    table.insert(parts, string.format('"%s":%d', status, count))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,'
      .. '"mean_us":%.1f,"non2xx":%d,"statuses":{%s},"starved":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,'
      .. '"wrk_status":%d}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, non2xx, table.concat(parts, ","), lost, e.connect, e.read,
    e.write, e.timeout, e.status))
end

return common
