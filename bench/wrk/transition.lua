-- POST /api/v1/requests/{id}/transitions on requests of the benchmark's own (BENCH_POOL: "id version status"
-- lines, spread over the threads), moving each between callback and not_reached, a pair of intake moves that can
-- alternate forever (SPEC §3.2). A request is never in flight twice: each sent move takes one from the thread's free
-- list; its answer (recognised by the X-Request-ID echoed back) gives the new status and version and returns it.
-- A request whose move failed is dropped (its version is unknown); a thread with none free sends a request that is
-- counted as an error ("starved"), never a move with a made-up version. (wrk calls request() once before the run to
-- check the script, on the first thread, and never sends that one: its request stays out of the pool, which is why
-- the pool has four requests per connection.)
local common = dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
local headers
local pool = {} -- id -> {version=, status=}
local free = {}
local sent = 0

function init(args)
  common.seed()
  headers = common.headers({["Content-Type"] = "application/json"})
  local threads = tonumber(os.getenv("BENCH_THREADS"))
  for n, line in ipairs(common.lines(os.getenv("BENCH_POOL"))) do
    if (n - 1) % threads == thread_index then
      local id, version, status = line:match("^(%d+) (%d+) ([%a_]+)$")
      pool[id] = {version = tonumber(version), status = status}
      table.insert(free, id)
    end
  end
end

function request()
  sent = sent + 1
  local id = table.remove(free, 1)
  if id == nil then
    starved = starved + 1
    return wrk.format("GET", "/health/live", {["X-Request-ID"] = "bench-starved-" .. sent})
  end
  local item = pool[id]
  local target = item.status == "callback" and "not_reached" or "callback"
  local body = string.format('{"to":"%s","version":%d}', target, item.version)
  headers["X-Request-ID"] = string.format("bench-move-%s-%d", id, sent)
  return wrk.format("POST", "/api/v1/requests/" .. id .. "/transitions", headers, body)
end

function response(status, response_headers, body)
  local tag = common.header(response_headers, "X-Request-ID") or ""
  if tag:match("^bench%-starved") then
    return -- already counted as starved
  end
  local id = tag:match("^bench%-move%-(%d+)%-")
  if not common.check(status) or id == nil then
    return
  end
  local version = body:match('"version":(%d+)')
  local moved = body:match('"status":"([%a_]+)"')
  if version and moved then
    pool[id] = {version = tonumber(version), status = moved}
    table.insert(free, id)
  end
end
