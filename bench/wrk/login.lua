-- POST /api/v1/auth/token (the API clients' sign-in, OAuth2 password form) as a random account of BENCH_LOGINS (one
-- a line, all with the password BENCH_PASSWORD): spread over many logins, since more than five sign-ins of one login
-- at once wait for the lockout's reservation of attempts.
local common = dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
local logins, headers, password

function init(args)
  common.seed()
  logins = common.lines(os.getenv("BENCH_LOGINS"))
  password = common.urlencode(os.getenv("BENCH_PASSWORD"))
  headers = common.headers({["Content-Type"] = "application/x-www-form-urlencoded"})
end

function request()
  local body = "username=" .. common.urlencode(logins[math.random(#logins)]) .. "&password=" .. password
  return wrk.format("POST", "/api/v1/auth/token", headers, body)
end

function response(status, _, _)
  common.check(status)
end
