-- POSTs of bodies prepared by report.py, each sent once: BENCH_BODIES_DIR/<thread>.txt holds one form body a line
-- (signed Mango call events of new callers; Lua has no SHA-256, so report.py signs them). A thread that runs out
-- stops and counts the request it could not send as an error ("starved"): the run is then shorter, never a replay.
local common = dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
local bodies, headers, path
local next_body = 0

function init(args)
  bodies = common.lines(os.getenv("BENCH_BODIES_DIR") .. "/" .. thread_index .. ".txt")
  path = os.getenv("BENCH_PATH")
  headers = common.headers({["Content-Type"] = "application/x-www-form-urlencoded"})
end

function request()
  next_body = next_body + 1
  if next_body > #bodies then
    starved = starved + 1
    wrk.thread:stop()
    return wrk.format("GET", "/health/live")
  end
  return wrk.format("POST", path, headers, bodies[next_body])
end

function response(status, _, _)
  common.check(status)
end
