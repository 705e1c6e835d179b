--- HTTP/1.1 message handling for the mock server, free of sockets: parsing a request head, decoding a
-- chunked body, percent-decoding query strings, and writing a response head.
local tonumber, tostring, ipairs, type = tonumber, tostring, ipairs, type
local char, lower, find, sub, format = string.char, string.lower, string.find, string.sub, string.format
local concat = table.concat

local _M = {}

_M.MAX_HEAD = 64 * 1024

local REASONS = {
  [100] = "Continue", [200] = "OK", [201] = "Created", [204] = "No Content", [301] = "Moved Permanently",
  [302] = "Found", [303] = "See Other", [307] = "Temporary Redirect", [308] = "Permanent Redirect",
  [400] = "Bad Request", [401] = "Unauthorized", [403] = "Forbidden", [404] = "Not Found",
  [405] = "Method Not Allowed", [408] = "Request Timeout", [409] = "Conflict", [411] = "Length Required",
  [413] = "Payload Too Large", [415] = "Unsupported Media Type", [422] = "Unprocessable Entity",
  [429] = "Too Many Requests", [431] = "Request Header Fields Too Large", [500] = "Internal Server Error",
  [501] = "Not Implemented", [502] = "Bad Gateway", [503] = "Service Unavailable", [504] = "Gateway Timeout",
  [505] = "HTTP Version Not Supported",
}

--- The reason phrase for a status.
function _M.reason(status)
  return REASONS[status] or "Status " .. tostring(status)
end

local function hex_byte(h)
  return char(tonumber(h, 16))
end

--- Percent-decodes a string; with `plus`, "+" means a space (query strings).
function _M.unescape(s, plus)
  if plus then s = s:gsub("+", " ") end
  return (s:gsub("%%(%x%x)", hex_byte))
end

--- Splits a raw query into a list of { raw = "k=v", key = decoded key, value = decoded value }.
function _M.parse_query(query)
  local list = {}
  if not query or query == "" then return list end
  for piece in (query .. "&"):gmatch("([^&]*)&") do
    if piece ~= "" then
      local k, v = piece:match("^([^=]*)=(.*)$")
      if not k then k, v = piece, "" end
      list[#list + 1] = { raw = piece, key = _M.unescape(k, true), value = _M.unescape(v, true) }
    end
  end
  return list
end

local TOKEN = "^[!#$%%&'*+%-.^_`|~%w]+$"

--- Parses a request head (request line and header fields, without the blank line). Returns a request
-- { method, target, path, query, version, headers = {lowercase name = value}, header_list = {{name,
-- value}...} } or nil, status, message.
function _M.parse_head(head)
  local line_end = find(head, "\n", 1, true) or #head + 1
  local line = sub(head, 1, line_end - 1):gsub("\r$", "")
  local method, target, major, minor = line:match("^(%S+) (%S+) HTTP/(%d)%.(%d)$")
  if not method then return nil, 400, "malformed request line" end
  if not method:match(TOKEN) then return nil, 400, "malformed method" end
  if major ~= "1" then return nil, 505, "only HTTP/1.x is supported" end
  local req = { method = method, target = target, version = "1." .. minor, headers = {}, header_list = {} }
  local pos = line_end + 1
  while pos <= #head do
    local e = find(head, "\n", pos, true) or #head + 1
    local field = sub(head, pos, e - 1):gsub("\r$", "")
    pos = e + 1
    if field ~= "" then
      local name, value = field:match("^([^:%s]+):[ \t]*(.-)[ \t]*$")
      if not name or not name:match(TOKEN) then return nil, 400, "malformed header field" end
      req.header_list[#req.header_list + 1] = { name, value }
      local key = lower(name)
      local old = req.headers[key]
      req.headers[key] = old and (old .. ", " .. value) or value
    end
  end
  -- Absolute-form targets (a proxy's) are routed and verified by their path and query.
  local path_query = target:match("^[hH][tT][tT][pP][sS]?://[^/?#]*(.*)$") or target
  if path_query == "" then path_query = "/" end
  if sub(path_query, 1, 1) ~= "/" then return nil, 400, "malformed request target" end
  req.request_uri = path_query
  req.path, req.query = path_query:match("^([^?#]*)%??([^#]*)")
  return req
end

--- How the body of a parsed request is framed: "none", "length", n or "chunked"; or nil, status, message.
function _M.framing(req)
  local te = req.headers["transfer-encoding"]
  if te then
    if req.headers["content-length"] then return nil, 400, "both Transfer-Encoding and Content-Length" end
    if lower(te):match("^%s*chunked%s*$") then return "chunked" end
    return nil, 501, "unsupported Transfer-Encoding"
  end
  local cl = req.headers["content-length"]
  if cl then
    -- A repeated header arrives joined by commas; identical values are allowed.
    local first
    for v in (cl .. ","):gmatch("%s*([^,]-)%s*,") do
      if not v:match("^%d+$") or (first and v ~= first) then return nil, 400, "invalid Content-Length" end
      first = v
    end
    local n = tonumber(first)
    if n > 0 then return "length", n end
  end
  return "none"
end

--- Decodes a chunked body from the start of `buf`. Returns body, bytes used; or nil when more input is
-- needed; or false, message for a malformed body.
function _M.dechunk(buf, limit)
  local parts, pos, total = {}, 1, 0
  while true do
    local e = find(buf, "\r\n", pos, true)
    if not e then
      if #buf - pos > 1024 then return false, "malformed chunk size" end
      return nil
    end
    local size = sub(buf, pos, e - 1):match("^(%x+)%s*;?.*$")
    if not size or #size > 8 then return false, "malformed chunk size" end
    size = tonumber(size, 16)
    pos = e + 2
    if size == 0 then
      -- Trailer fields (ignored) end with an empty line.
      while true do
        local t = find(buf, "\r\n", pos, true)
        if not t then return nil end
        if t == pos then return concat(parts), t + 1 end
        pos = t + 2
      end
    end
    total = total + size
    if total > limit then return false, "body too large" end
    if #buf < pos + size + 1 then return nil end
    if sub(buf, pos + size, pos + size + 1) ~= "\r\n" then return false, "malformed chunk" end
    parts[#parts + 1] = sub(buf, pos, pos + size - 1)
    pos = pos + size + 2
  end
end

--- Writes a response head. `headers` is a list of { name, value }.
function _M.head(status, headers)
  local lines = { format("HTTP/1.1 %d %s", status, _M.reason(status)) }
  for _, h in ipairs(headers) do
    local value = h[2]
    if type(value) ~= "string" then value = tostring(value) end
    -- Header injection guard: values never carry line breaks.
    lines[#lines + 1] = h[1] .. ": " .. value:gsub("[\r\n]", " ")
  end
  lines[#lines + 1] = "\r\n"
  return concat(lines, "\r\n")
end

--- True when the request asks for the connection to be kept open after the response.
function _M.keep_alive(req)
  local conn = lower(req.headers["connection"] or "")
  if req.version == "1.0" then return find(conn, "keep-alive", 1, true) ~= nil end
  return not find(conn, "close", 1, true)
end

return _M
