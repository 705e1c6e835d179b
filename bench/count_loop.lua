--- A contender of the instruction counts (bench/instructions.lua), run N times under callgrind:
--   lua count_loop.lua decode cjson|jsonapi|lualinker N    -- decodes the 100-candidate page N times
--   (nginx) require("count_loop").nginx(backend_port)       -- /loop?mode=client|cosocket&n=N: N GETs
-- luacheck: read globals ngx
local _M = {}

function _M.nginx(port)
  local n = tonumber(ngx.var.arg_n) or 0
  if ngx.var.arg_mode == "client" then
    local client = package.loaded.bench_client
    for _ = 1, n do assert(client:request("GET", "/doc").document.data) end
  else
    local get = require("floors").cosocket_get
    for _ = 1, n do assert(get(port).data) end
  end
  ngx.say("ok")
end

if arg and arg[1] == "decode" then
  local which, n = arg[2], tonumber(arg[3])
  local text = require("fixture").page(100)
  local decode
  if which == "cjson" then decode = require("cjson").decode
  elseif which == "jsonapi" then decode = require("clinch.jsonapi").decode
  else decode = require("lua_linker").decode end
  for _ = 1, n do assert(decode(text)) end
end

return _M
