--- The hand-written floor inside nginx, shared by bench/nginx.conf's /cosocket endpoint and the
-- instruction counts (bench/instructions.lua): a GET of the backend's document on a pooled cosocket,
-- read with receive("*l") and receive(n), decoded with cjson. The obvious code, no lua-clinch.
-- luacheck: read globals ngx
local _M = {}

local decode = require("cjson").decode
local REQUEST = "GET /v1/doc HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/vnd.api+json\r\n\r\n"

--- GET /v1/doc from 127.0.0.1:port -> the decoded document, or nil, a message.
function _M.cosocket_get(port)
  local sock = ngx.socket.tcp()
  sock:settimeout(5000)
  local ok, err = sock:connect("127.0.0.1", port)
  if not ok then return nil, err end
  sock:send(REQUEST)
  local status = sock:receive("*l")
  local len
  while true do
    local line = sock:receive("*l")
    if not line or line == "" then break end
    local v = line:match("^[Cc]ontent%-[Ll]ength:%s*(%d+)")
    if v then len = tonumber(v) end
  end
  local body = len and sock:receive(len)
  sock:setkeepalive()
  if not status or not body then return nil, "bad response" end
  return decode(body)
end

return _M
