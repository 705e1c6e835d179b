--- The signing contender of `make bench` (bench/run.lua): core.sign over request URIs shaped like
-- bench/hmac_loop.c's canonical strings, for SECONDS; prints "signatures N seconds T".
local core = require "clinch.core"
local seconds = tonumber(arg[1])
local now, sign = core.monotime, core.sign
local uris = {}
for i = 1, 1000 do uris[i] = "/v1/candidates?page=" .. (i - 1) end
local req = { method = "GET", access_id = "bench", secret = "bench-secret-0123456789abcdef" }
for i = 1, 1000 do req.request_uri = uris[i]; sign(req) end
local n, t0 = 0, now()
local t
repeat
  for i = 1, 1000 do
    req.request_uri = uris[i]
    sign(req)
  end
  n = n + 1000
  t = now() - t0
until t >= seconds
print(string.format("signatures %d seconds %.6f", n, t))
