--- One contender of the request benchmark (`make bench`, bench/run.lua): GETs of a small JSON:API
-- document on one kept-alive connection, for SECONDS, and prints "requests N seconds T".
--   lua request.lua client  BASE_URL SECONDS   -- client:request("GET", "/doc"): signed, decoded
--   luajit request.lua luacurl URL SECONDS [HEADER...]  -- Debian's lua-curl (0.3) + cjson.decode, sending
--                                                         the HEADER lines ("Name: value") with every GET
local mode, url, seconds = arg[1], arg[2], tonumber(arg[3])
local core = require "clinch.core"
local now = core.monotime

local function run(once)
  for _ = 1, 200 do once() end -- warm up (connection, JIT)
  local n, t0 = 0, now()
  local t
  repeat
    for _ = 1, 50 do once() end
    n = n + 50
    t = now() - t0
  until t >= seconds
  print(string.format("requests %d seconds %.6f", n, t))
end

if mode == "client" then
  local client = require("clinch").new { key = "bench", secret = "bench-secret", base_url = url, retries = 0 }
  run(function()
    local res = client:request("GET", "/doc")
    if not res or not res.document then error("request failed") end
  end)
elseif mode == "luacurl" then
  local curl = require "curl"  -- lua-curl 0.3 (Debian's package): setopt(curl.OPT_*, value), perform()
  local decode = require("cjson").new().decode
  local e = curl.easy_init()
  local parts, n = {}, 0
  e:setopt(curl.OPT_URL, url)
  if arg[4] then e:setopt(curl.OPT_HTTPHEADER, { select(4, unpack(arg)) }) end
  e:setopt(curl.OPT_WRITEFUNCTION, function(s, len)
    n = n + 1
    parts[n] = s
    return len
  end)
  run(function()
    n = 0
    if e:perform() ~= 0 then error("request failed") end
    local doc = decode(table.concat(parts, "", 1, n))
    if not doc.data then error("request failed") end
  end)
else
  error("usage: request.lua client|luacurl URL SECONDS")
end
