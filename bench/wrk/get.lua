-- GET scenarios (lists, one request, balance, metrics, console fragments, health, the bare endpoint): each request
-- takes a random path from the file BENCH_PATHS (one a line), with the headers of BENCH_HEADERS.
local common = dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
local paths, headers

function init(args)
  common.seed()
  paths = common.lines(os.getenv("BENCH_PATHS"))
  headers = common.headers()
end

function request()
  return wrk.format("GET", paths[math.random(#paths)], headers)
end

function response(status, _, _)
  common.check(status)
end
