-- POST /api/v1/requests (manual intake): a new client phone every time (79 and nine digits: BENCH_PHONE_BASE plus
-- the thread's own range), a random city of BENCH_CITIES (comma-separated ids).
local common = dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
local cities, headers, base
local sent = 0

function init(args)
  common.seed()
  cities = common.split(os.getenv("BENCH_CITIES"), ",")
  headers = common.headers({["Content-Type"] = "application/json"})
  base = tonumber(os.getenv("BENCH_PHONE_BASE")) + thread_index * 10000000
end

function request()
  sent = sent + 1
  local phone = string.format("79%09d", (base + sent) % 1000000000)
  local body = string.format(
    '{"city_id":%s,"client_phone":"%s","client_name":"Нагрузочный Тест","problem":"Не включается"}',
    cities[math.random(#cities)], phone)
  return wrk.format("POST", "/api/v1/requests", headers, body)
end

function response(status, _, _)
  common.check(status)
end
