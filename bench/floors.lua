--- The hand-written floor inside nginx, shared by bench/nginx.conf's /cosocket endpoint and the
-- instruction counts (bench/instructions.lua): a GET of the backend's document on a pooled cosocket,
-- read with receive("*l") and receive(n), decoded with cjson. The obvious code, no lua-clinch (but for
-- cosocket_get_work's signing and decoding).
-- luacheck: read globals ngx
local _M = {}

local decode = require("cjson").decode
local sign_fields = require("clinch.core").sign_fields
local jsonapi_decode = require("clinch.jsonapi").decode
local REQUEST = "GET /v1/doc HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/vnd.api+json\r\n\r\n"

-- GET /v1/doc with request (the request head) from 127.0.0.1:port -> the document decoded by `decoder`
-- (cjson's by default), or nil, a message.
local function get(port, request, decoder)
  local sock = ngx.socket.tcp()
  sock:settimeout(5000)
  local ok, err = sock:connect("127.0.0.1", port)
  if not ok then return nil, err end
  sock:send(request)
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
  return (decoder or decode)(body)
end

--- GET /v1/doc from 127.0.0.1:port -> the decoded document, or nil, a message.
function _M.cosocket_get(port)
  return get(port, REQUEST)
end

-- port -> the request head of cosocket_get_signed.
local signed_heads = {}

--- The same GET sending the header lines client:request sends (its User-Agent, Accept, Authorization,
-- Date and Host, from one signed_request of `client`, made once per port): what the backend's parsing
-- of a signed request's head costs, without the signing. (The benchmark's backend checks no signature.)
function _M.cosocket_get_signed(port, client)
  local head = signed_heads[port]
  if not head then
    local req = assert(client:signed_request("GET", "/doc"))
    local lines = { "GET /v1/doc HTTP/1.1" }
    for name, value in pairs(req.headers) do lines[#lines + 1] = name .. ": " .. value end
    lines[#lines + 1] = "Host: 127.0.0.1:" .. port
    lines[#lines + 1] = "User-Agent: " .. client.transport.impl.user_agent
    head = table.concat(lines, "\r\n") .. "\r\n\r\n"
    signed_heads[port] = head
  end
  return get(port, head)
end

--- The same-work floor: the GET doing what client:request must do at the least, each piece done the
-- cheapest way this project knows: a head of the client's header lines with a signature made for it
-- (core.sign, which remembers the MAC within the second, as for the client), the document decoded and
-- linked by jsonapi.decode. What is left out is the client's own: checks, budget, retries, the
-- protocol's corner cases, error objects, resource classes.
function _M.cosocket_get_work(port, key, secret, user_agent)
  local h = sign_fields("GET", "/v1/doc", key, secret, nil, nil, nil, nil, nil, nil, nil)
  local head = "GET /v1/doc HTTP/1.1\r\nHost: 127.0.0.1:" .. port .. "\r\nUser-Agent: " .. user_agent
    .. "\r\nAccept: application/vnd.api+json\r\nAuthorization: " .. h.Authorization .. "\r\nDate: " .. h.Date
    .. "\r\n\r\n"
  return get(port, head, jsonapi_decode)
end

return _M
