--- The nginx transport: HTTP/1.1 over ngx.socket.tcp cosockets, so an API call inside nginx yields to
-- the event loop instead of blocking the worker. Implements the interface in clinch.transport
-- (send, send_many with light threads, start/wait, close) and is chosen automatically inside nginx.
--
-- Connections are kept alive in nginx's per-worker cosocket pool, named "host:port" (plus the TLS
-- server name and verification mode for https), and reused only after a response was read in full.
-- TLS uses sslhandshake with verification on: nginx reads trusted CAs from the
-- `lua_ssl_trusted_certificate` directive, so the ca_file/ca_path options do not apply here.
-- Hosts other than IP addresses need nginx's `resolver` directive.
local setmetatable, type, tostring, tonumber, pairs, ipairs, error, rawget, pcall, require =
  setmetatable, type, tostring, tonumber, pairs, ipairs, error, rawget, pcall, require
local concat, floor, min, huge = table.concat, math.floor, math.min, math.huge

local ngx = rawget(_G, "ngx")

local _M = {}

_M.DEFAULT_MAX_RESPONSE = 64 * 1024 * 1024
_M.MAX_HEADER_BYTES = 64 * 1024
_M.DEFAULT_POOL_SIZE = 30          -- lua_socket_pool_size's default
_M.DEFAULT_CONCURRENCY = 8
-- The longest timeout nginx accepts (ms); stands for "no limit" (a timeout of 0).
local FOREVER_MS = 2147483647

-- Phases where lua-nginx-module lets a handler use cosockets.
local COSOCKET_PHASES = {
  rewrite = true, server_rewrite = true, access = true, content = true, timer = true,
  ssl_cert = true, ssl_session_fetch = true, ssl_client_hello = true,
}

-- Headers the transport writes itself; a caller's copy would make the framing ambiguous.
local FRAMING = { ["content-length"] = true, ["transfer-encoding"] = true, connection = true }

--- The error every call returns where cosockets do not exist, or nil when they do.
local function phase_error()
  if type(ngx) ~= "table" or type(ngx.get_phase) ~= "function" then
    return { kind = "unsupported", sent = false,
             message = "the cosocket transport runs only inside nginx's Lua module" }
  end
  local phase = ngx.get_phase()
  if COSOCKET_PHASES[phase] then return nil end
  return { kind = "unsupported", sent = false,
           message = "cosockets are not available in the '" .. tostring(phase) .. "' phase of nginx; "
             .. "make API calls from rewrite/access/content/timer phases" }
end
_M.phase_error = phase_error

local function default_user_agent()
  local ok, core = pcall(require, "clinch.core")
  local version = ok and type(core) == "table" and core._VERSION or "0"
  local agent = "lua-clinch/" .. version .. " nginx-lua"
  local config = ngx and ngx.config
  if config and config.ngx_lua_version then
    local v = config.ngx_lua_version     -- e.g. 10023 for 0.10.23
    agent = agent .. "/" .. floor(v / 1000000) .. "." .. floor(v / 1000) % 1000 .. "." .. v % 1000
  end
  return agent
end

local Cosocket = {}
Cosocket.__index = Cosocket

--- Creates a transport. opts: timeout, connect_timeout (seconds; 0 means no limit), verify_tls
-- (only false disables it), max_response_bytes, user_agent, max_concurrency (send_many),
-- pool_size and keepalive_timeout (seconds, 0 = no limit) for the connection pool (default:
-- nginx's lua_socket_pool_size and lua_socket_keepalive_timeout). ca_file and ca_path are not
-- used (see the module comment); proxy is refused. Creating one needs no cosocket, so a client can
-- be made in init_by_lua or init_worker_by_lua and shared by all requests of the worker.
function _M.new(opts)
  if opts ~= nil and type(opts) ~= "table" then error("cosocket.new: options must be a table", 2) end
  opts = opts or {}
  for _, name in ipairs { "timeout", "connect_timeout", "max_response_bytes", "max_concurrency", "pool_size",
                          "keepalive_timeout" } do
    local v = opts[name]
    if v ~= nil and (type(v) ~= "number" or v < 0) then
      error("cosocket.new: option '" .. name .. "' must be a non-negative number", 2)
    end
  end
  if opts.pool_size ~= nil and opts.pool_size < 1 then
    error("cosocket.new: option 'pool_size' must be at least 1", 2)
  end
  if opts.user_agent ~= nil and type(opts.user_agent) ~= "string" then
    error("cosocket.new: option 'user_agent' must be a string", 2)
  end
  if opts.user_agent and opts.user_agent:find("[%z\1-\8\10-\31\127]") then -- it is sent as a header line
    error("cosocket.new: option 'user_agent' must not hold CR, LF, NUL or other control characters", 2)
  end
  -- Going around a configured proxy could break a network policy: refuse rather than ignore it.
  if opts.proxy ~= nil then
    error("cosocket.new: the proxy option is not supported inside nginx (plug in a transport that "
      .. "uses one, see clinch.transport)", 2)
  end
  if (opts.ca_file or opts.ca_path) and ngx and ngx.log then
    ngx.log(ngx.WARN, "clinch: ca_file/ca_path do not apply inside nginx; nginx verifies the API's ",
      "certificate against lua_ssl_trusted_certificate")
  end
  return setmetatable({
    timeout = opts.timeout or 60,
    connect_timeout = opts.connect_timeout or 10,
    verify_tls = opts.verify_tls ~= false,
    max_response_bytes = opts.max_response_bytes or _M.DEFAULT_MAX_RESPONSE,
    user_agent = opts.user_agent or default_user_agent(),
    max_concurrency = opts.max_concurrency or _M.DEFAULT_CONCURRENCY,
    pool_size = opts.pool_size and floor(opts.pool_size),
    keepalive_ms = opts.keepalive_timeout and floor(opts.keepalive_timeout * 1000),
  }, Cosocket)
end

-- Splits an http(s) URL into scheme, host (brackets kept for IPv6), port and request target. User
-- info is dropped: the signed Authorization header is the request's only credential.
local function parse_url(url)
  local scheme, authority, target = url:match("^(https?)://([^/?#%s%c]+)([^#%s%c]*)#?[^%s%c]*$")
  if not scheme then return nil end
  authority = authority:gsub("^.*@", "")
  local host, port = authority:match("^(%[[^%]]+%]):?(%d*)$")
  if not host then host, port = authority:match("^([^:]+):?(%d*)$") end
  if not host then return nil end
  local default_port = scheme == "https" and 443 or 80
  port = port ~= "" and tonumber(port) or default_port
  if target == "" then target = "/" elseif target:sub(1, 1) == "?" then target = "/" .. target end
  local host_header = port == default_port and host or host .. ":" .. port
  return scheme, host, port, target, host_header
end

-- Request checks raise at the caller of send/send_many/start (build_request <- prepare <- method).
local ARG_LEVEL = 4

local function check_field(s, what)
  if type(s) ~= "string" or s:find("[\r\n%z]") then
    error("cosocket transport: " .. what .. " must be a string without line breaks", ARG_LEVEL + 1)
  end
end

-- The request head and body as a list of strings for one sock:send call.
local function build_request(self, req, target, host_header)
  local method = req.method or "GET"
  check_field(method, "method")
  local out, n = { method, " ", target, " HTTP/1.1\r\n" }, 4
  local has_host, has_agent = false, false
  if req.headers ~= nil and type(req.headers) ~= "table" then
    error("cosocket transport: headers must be a table", ARG_LEVEL)
  end
  for name, value in pairs(req.headers or {}) do
    check_field(name, "header name")
    check_field(value, "header " .. name)
    local lname = name:lower()
    if lname == "host" then has_host = true elseif lname == "user-agent" then has_agent = true end
    if not FRAMING[lname] then
      out[n + 1], out[n + 2], out[n + 3], out[n + 4] = name, ": ", value, "\r\n"
      n = n + 4
    end
  end
  if not has_host then out[n + 1], out[n + 2], n = "Host: " .. host_header, "\r\n", n + 2 end
  if not has_agent then out[n + 1], out[n + 2], n = "User-Agent: " .. self.user_agent, "\r\n", n + 2 end
  local body = req.body
  if body ~= nil and type(body) ~= "string" then error("cosocket transport: body must be a string", ARG_LEVEL) end
  if body or method == "POST" or method == "PUT" or method == "PATCH" then
    out[n + 1], out[n + 2], n = "Content-Length: " .. #(body or ""), "\r\n", n + 2
  end
  out[n + 1] = "Connection: keep-alive\r\n\r\n"
  if body and body ~= "" then out[n + 2] = body end
  return out
end

local function now()
  ngx.update_time()
  return ngx.now()
end

-- One attempt on one connection. State shared by the helpers below.
local Exchange = {}
Exchange.__index = Exchange

-- Gives the socket the time left before the deadline; false when none is left.
function Exchange:arm()
  if self.deadline == huge then
    self.sock:settimeout(FOREVER_MS)
    return true
  end
  local left = self.deadline - now()
  if left <= 0 then return false end
  self.sock:settimeout(min(FOREVER_MS, floor(left * 1000) + 1))
  return true
end

function Exchange:fail(kind, message)
  self.sock:close()
  return nil, { kind = kind, message = message, sent = self.sent }
end

-- Maps a cosocket error string to a transport error.
function Exchange:io_fail(err, doing)
  if err == "timeout" then
    return self:fail("timeout", "timed out " .. doing .. " " .. self.where)
  end
  return self:fail("network", doing .. " " .. self.where .. " failed: " .. tostring(err))
end

function Exchange:receive(pattern)
  if not self:arm() then return nil, "timeout" end
  local data, err, partial = self.sock:receive(pattern)
  if data or (partial and partial ~= "") then self.got_bytes = true end
  return data, err
end

-- Reads the status line and headers. Returns status, headers, http_minor or nil, err.
function Exchange:read_head()
  local line, err = self:receive("*l")
  if not line then return nil, err end
  local minor, status = line:match("^HTTP/1%.(%d) (%d%d%d)")
  if not minor then return nil, "malformed status line" end
  local headers, bytes, last = {}, #line, nil
  while true do
    local h, herr = self:receive("*l")
    if not h then return nil, herr end
    if h == "" then break end
    bytes = bytes + #h + 2
    if bytes > _M.MAX_HEADER_BYTES then return nil, "too_large" end
    if h:find("^[ \t]") and last then
      headers[last] = headers[last] .. " " .. h:match("^%s*(.-)%s*$")
    else
      local name, value = h:match("^([^:%s]+):%s*(.-)%s*$")
      if not name then return nil, "malformed header line" end
      last = name:lower()
      local prev = headers[last]
      headers[last] = prev and prev .. ", " .. value or value
    end
  end
  return tonumber(status), headers, tonumber(minor)
end

-- Adds a piece of body to the list, keeping the total under the limit.
function Exchange:take(piece)
  self.size = self.size + #piece
  if self.size > self.limit then return false end
  self.parts[#self.parts + 1] = piece
  return true
end

function Exchange:too_large()
  return self:fail("too_large", "response body from " .. self.where .. " exceeds max_response_bytes ("
    .. self.limit .. ")")
end

function Exchange:read_chunked()
  while true do
    local line, err = self:receive("*l")
    if not line then return self:io_fail(err, "reading chunked body from") end
    local hex = line:match("^%s*(%x+)")
    local size = hex and tonumber(hex, 16)
    if not size then return self:fail("network", "malformed chunk size from " .. self.where) end
    if size == 0 then break end
    if self.size + size > self.limit then return self:too_large() end
    local data, derr = self:receive(size)
    if not data then return self:io_fail(derr, "reading chunked body from") end
    self:take(data)
    local crlf, cerr = self:receive("*l")
    if crlf ~= "" then
      if not crlf then return self:io_fail(cerr, "reading chunked body from") end
      return self:fail("network", "malformed chunk from " .. self.where)
    end
  end
  -- Trailer fields, up to the empty line that ends the message.
  local bytes = 0
  while true do
    local line, err = self:receive("*l")
    if not line then return self:io_fail(err, "reading chunked trailer from") end
    if line == "" then return true end
    bytes = bytes + #line
    if bytes > _M.MAX_HEADER_BYTES then return self:too_large() end
  end
end

function Exchange:read_to_close()
  while true do
    if not self:arm() then return self:io_fail("timeout", "reading body from") end
    local data, err = self.sock:receiveany(65536)
    if not data then
      if err == "closed" then return true end
      return self:io_fail(err, "reading body from")
    end
    if not self:take(data) then return self:too_large() end
  end
end

-- Reads the body as the headers frame it. Returns keep (connection reusable) or nil, err.
function Exchange:read_body(method, status, headers)
  if method == "HEAD" or status == 204 or status == 304 or status < 200 then return true end
  local te = headers["transfer-encoding"]
  if te and te:lower():find("chunked%s*$") then
    local ok, err = self:read_chunked()
    if not ok then return nil, err end
    return true
  elseif te then
    local ok, err = self:read_to_close()
    if not ok then return nil, err end
    return false
  end
  local cl = headers["content-length"]
  if cl then
    local len = tonumber(cl:match("^%s*(%d+)%s*$"))
    if not len then return self:fail("network", "invalid Content-Length from " .. self.where) end
    if len > self.limit then return self:too_large() end
    if len > 0 then
      local data, err = self:receive(len)
      if not data then return self:io_fail(err, "reading body from") end
      self:take(data)
    end
    return true
  end
  local ok, err = self:read_to_close()
  if not ok then return nil, err end
  return false
end

-- Connects (from the pool when possible) and does the TLS handshake on new connections.
function Cosocket:connect(x, scheme, host, port, connect_timeout)
  local sock, err = ngx.socket.tcp()
  if not sock then return nil, { kind = "network", message = tostring(err), sent = false } end
  x.sock = sock
  local sni = host:match("^%[(.*)%]$") or host
  local pool = host .. ":" .. port
  if scheme == "https" then pool = pool .. ":tls:" .. sni .. (self.verify_tls and "" or ":noverify") end
  local budget = x.deadline - now()
  if budget <= 0 then return x:fail("timeout", "no time left to connect to " .. x.where) end
  local ct = connect_timeout > 0 and min(connect_timeout, budget) or budget
  sock:settimeout(ct == huge and FOREVER_MS or min(FOREVER_MS, floor(ct * 1000) + 1))
  local ok, cerr = sock:connect(host, port, { pool = pool, pool_size = self.pool_size })
  if not ok then
    if cerr == "timeout" then return x:fail("timeout", "timed out connecting to " .. x.where) end
    return x:fail("network", "connecting to " .. x.where .. " failed: " .. tostring(cerr))
  end
  x.reused = (sock:getreusedtimes() or 0) > 0
  if scheme == "https" and not x.reused then
    if not x:arm() then return x:fail("timeout", "timed out in the TLS handshake with " .. x.where) end
    local session, herr = sock:sslhandshake(false, sni, self.verify_tls)
    if not session then
      if herr == "timeout" then return x:fail("timeout", "timed out in the TLS handshake with " .. x.where) end
      return x:fail("tls", "TLS handshake with " .. x.where .. " failed: " .. tostring(herr))
    end
  end
  return true
end

-- One attempt: returns response, or nil, err, stale (true when a reused connection turned out dead
-- before any of the response arrived, so the request may be replayed on another connection).
function Cosocket:attempt(plan, deadline)
  local x = setmetatable({ deadline = deadline, where = plan.host .. ":" .. plan.port, sent = false,
                           size = 0, parts = {}, limit = self.max_response_bytes }, Exchange)
  local ok, err = self:connect(x, plan.scheme, plan.host, plan.port, plan.connect_timeout)
  if not ok then return nil, err end

  if not x:arm() then return x:fail("timeout", "timed out sending to " .. x.where) end
  x.sent = true
  local sent, serr = x.sock:send(plan.payload)
  if not sent then
    local stale = x.reused and serr ~= "timeout"
    local _, e = x:io_fail(serr, "sending to")
    return nil, e, stale
  end

  local status, headers, minor
  repeat  -- 1xx interim responses (100 Continue, 103 Early Hints) precede the real one.
    status, headers, minor = x:read_head()
  until not status or status >= 200 or status == 101
  if not status then
    if headers == "too_large" then
      return x:fail("too_large", "response headers from " .. x.where .. " exceed " .. _M.MAX_HEADER_BYTES .. " bytes")
    end
    if headers == "timeout" then return x:io_fail("timeout", "waiting for the response from") end
    local stale = x.reused and not x.got_bytes
    local _, e = x:fail("network", "reading the response from " .. x.where .. " failed: " .. tostring(headers))
    return nil, e, stale
  end

  local keep, berr = x:read_body(plan.method, status, headers)
  if keep == nil then return nil, berr end
  if status < 200 then keep = false end  -- 101: the connection no longer speaks HTTP
  local conn = (headers.connection or ""):lower()
  if keep and (conn:find("close", 1, true) or (minor == 0 and not conn:find("keep-alive", 1, true))) then
    keep = false
  end
  if keep then
    -- nil arguments leave idle time and pool size to lua_socket_keepalive_timeout/_pool_size.
    -- Fails ("connection in dubious state") when unread bytes follow the response: drop it then.
    if not x.sock:setkeepalive(self.keepalive_ms, self.pool_size) then x.sock:close() end
  else
    x.sock:close()
  end
  return { status = status, headers = headers, body = concat(x.parts) }
end

-- Checks a request (raising on programming mistakes) and builds what every attempt sends.
function Cosocket:prepare(req)
  if type(req) ~= "table" then error("cosocket transport: request must be a table", ARG_LEVEL - 1) end
  local url = req.url
  if type(url) ~= "string" then error("cosocket transport: request url must be a string", ARG_LEVEL - 1) end
  for _, name in ipairs { "timeout", "connect_timeout" } do
    local v = req[name]
    if v ~= nil and (type(v) ~= "number" or v < 0) then
      error("cosocket transport: request " .. name .. " must be a non-negative number", ARG_LEVEL - 1)
    end
  end
  local scheme, host, port, target, host_header = parse_url(url)
  if not scheme then
    error("cosocket transport: url must be an http:// or https:// URL without spaces or control characters",
      ARG_LEVEL - 1)
  end
  return {
    scheme = scheme, host = host, port = port, method = req.method or "GET",
    payload = build_request(self, req, target, host_header),
    timeout = req.timeout or self.timeout, connect_timeout = req.connect_timeout or self.connect_timeout,
  }
end

-- Runs a prepared request -> response or nil, err.
function Cosocket:execute(plan)
  local deadline = plan.timeout > 0 and now() + plan.timeout or huge
  -- A pooled connection the server has since closed fails before any response byte: replay the
  -- request on another connection, as libcurl does (the server never saw it). Each retry uses up
  -- one dead pooled connection, so this ends at a fresh one.
  local res, err, stale
  for _ = 1, (self.pool_size or _M.DEFAULT_POOL_SIZE) + 1 do
    res, err, stale = self:attempt(plan, deadline)
    if not stale then break end
  end
  return res, err
end

--- Sends one request: -> response { status, headers, body } or nil, err.
function Cosocket:send(req)
  local perr = phase_error()
  if perr then return nil, perr end
  return self:execute(self:prepare(req))
end

--- Sends several requests in parallel light threads (at most `concurrency` at once) and returns
-- { response } or { nil, err } pairs in input order.
function Cosocket:send_many(reqs, concurrency)
  if type(reqs) ~= "table" then error("cosocket transport: send_many expects a list of requests", 2) end
  local results, plans, total = {}, {}, #reqs
  local perr = phase_error()
  for i = 1, total do
    if perr then
      results[i] = { nil, perr }
    else
      plans[i] = self:prepare(reqs[i])
    end
  end
  local next_index = 0
  local function worker()
    while next_index < total do
      next_index = next_index + 1
      local plan = plans[next_index]
      if plan then results[next_index] = { self:execute(plan) } end
    end
  end
  if not perr and total > 0 then
    local threads = {}
    local width = floor(min(total, concurrency or self.max_concurrency))
    for t = 1, width < 1 and 1 or width do threads[t] = ngx.thread.spawn(worker) end
    for _, th in ipairs(threads) do
      local ok, msg = ngx.thread.wait(th)
      if not ok then error("cosocket transport: a send_many light thread failed: " .. tostring(msg)) end
    end
  end
  return results
end

local Pending = {}
Pending.__index = Pending

--- Waits for a started request -> response or nil, err (the same result on every call).
function Pending:wait()
  if not self.result then
    local ok, res, err = ngx.thread.wait(self.thread)
    if not ok then error("cosocket transport: the request's light thread failed: " .. tostring(res)) end
    self.result = { res, err }
    self.thread = nil
  end
  return self.result[1], self.result[2]
end

--- Starts a request in a light thread and returns a pending with :wait(). Wait from the same
-- request (or timer) that started it.
function Cosocket:start(req)
  local perr = phase_error()
  if perr then return setmetatable({ result = { nil, perr } }, Pending) end
  local plan = self:prepare(req)
  return setmetatable({ thread = ngx.thread.spawn(self.execute, self, plan) }, Pending)
end

--- Nothing to release: idle connections belong to nginx's per-worker pool.
function Cosocket.close() end

return _M
