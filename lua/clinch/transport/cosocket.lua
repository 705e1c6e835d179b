--- The nginx transport: HTTP/1.1 over ngx.socket.tcp cosockets, so an API call inside nginx yields to
-- the event loop instead of blocking the worker. Implements the interface in clinch.transport
-- (send, send_many with light threads, start/wait, close) and is chosen automatically inside nginx.
--
-- Connections are kept alive in nginx's per-worker cosocket pool, named "host:port" (plus the TLS
-- server name and verification mode for https), and reused only after a response was read in full.
-- A request is sent once: when a reused connection dies before any response byte, the error says
-- `reused` and the client decides (GET and DELETE are retried, writes are not). So that this stays
-- rare for writes, a POST or PATCH goes out on a pooled connection only if it went back to the pool
-- less than `write_reuse_idle` seconds ago. Each attempt has one deadline (`timeout`) for connect,
-- send and the whole response, whatever pace the server sends at.
-- TLS uses sslhandshake with verification on: nginx reads trusted CAs from the
-- `lua_ssl_trusted_certificate` directive, so the ca_file/ca_path options do not apply here.
-- Hosts other than IP addresses need nginx's `resolver` directive.
local setmetatable, type, tostring, tonumber, pairs, ipairs, error, rawget, require =
  setmetatable, type, tostring, tonumber, pairs, ipairs, error, rawget, require
local concat, remove = table.concat, table.remove
local co_status = coroutine.status
local floor, min, max, huge = math.floor, math.min, math.max, math.huge
local find, match, sub, byte, lower, gmatch = string.find, string.match, string.sub, string.byte,
  string.lower, string.gmatch

local defaults = require "clinch.defaults"
local raise = require("clinch.check").raise -- programming mistakes, at the user's line

local ngx = rawget(_G, "ngx")
local new_tab = require("clinch.tables").new

local _M = {}

local MAX_HEADER_BYTES = defaults.MAX_HEADER_BYTES
-- The longest timeout nginx accepts (ms); stands for "no limit" (a timeout of 0).
local FOREVER_MS = 2147483647
-- The most one receiveany asks for (nginx returns at most lua_socket_buffer_size bytes anyway).
local READ_SIZE = 65536
-- A request larger than this is sent in pieces of this size, each under the time left: nginx
-- restarts a send's timer whenever the write makes progress.
local SEND_PIECE = 16384

local REUSED_MESSAGE = "the kept-alive connection closed before any response came; the request may have "
  .. "reached the server"

-- Phases where lua-nginx-module lets a handler use cosockets.
local COSOCKET_PHASES = {
  rewrite = true, server_rewrite = true, access = true, content = true, timer = true,
  ssl_cert = true, ssl_session_fetch = true, ssl_client_hello = true,
}

-- Headers the transport writes itself; a caller's copy would make the framing ambiguous.
local FRAMING = { ["content-length"] = true, ["transfer-encoding"] = true, connection = true }

-- Methods whose repetition does no harm (RFC 9110); every other one counts as a write.
local IDEMPOTENT = { GET = true, HEAD = true, PUT = true, DELETE = true, OPTIONS = true, TRACE = true }

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
  local stack = "nginx-lua"
  local config = ngx and ngx.config
  if config and config.ngx_lua_version then
    local v = config.ngx_lua_version     -- e.g. 10023 for 0.10.23
    stack = stack .. "/" .. floor(v / 1000000) .. "." .. floor(v / 1000) % 1000 .. "." .. v % 1000
  end
  return defaults.user_agent(stack)
end

-- The time an attempt's deadline is set from: read afresh (ngx.update_time is a system call's worth of
-- work, and nginx formats its cached time strings with it), once per attempt.
local function now()
  ngx.update_time()
  return ngx.now()
end

-- The time every later wait of the attempt is measured with: nginx's cached time, which its event loop
-- renews whenever a wait ends, and which its own timers (the socket timeouts armed here) count from.
local function clock()
  return ngx.now()
end

-- ---- when pooled connections went back ----
-- nginx's pool is per worker and LIFO: connect hands out the connection returned last, and a full pool
-- closes the one returned first. So a stack per pool name of the times of our setkeepalive calls
-- tells how long the connection connect just gave us has been idle. It is shared by the worker's
-- transports because the pool is. A connection nginx dropped while idle (timeout, server close)
-- leaves an entry behind; those are the oldest ones, and a new connection from connect shows the
-- pool was empty, which clears them. An unknown connection (another library using the same pool
-- name) counts as idle too long for a write.
local returned = {}   -- pool name -> { times = { ... }, seqs = { ... }, pushed = count }

local function pool_record(name)
  local r = returned[name]
  if not r then
    r = { times = {}, seqs = {}, pushed = 0 }
    returned[name] = r
  end
  return r
end

local function note_returned(r, size)
  r.pushed = r.pushed + 1
  local n = #r.times + 1
  r.times[n], r.seqs[n] = clock(), r.pushed
  if n > size then
    remove(r.times, 1)
    remove(r.seqs, 1)
  end
end

-- The time the connection connect just took from the pool went back, or nil when unknown.
local function note_taken(r)
  local n = #r.times
  if n == 0 then return nil end
  local t = r.times[n]
  r.times[n], r.seqs[n] = nil, nil
  return t
end

-- connect made a new connection, so the pool was empty when it was called (`mark` = pushes by then);
-- later entries are connections other light threads returned meanwhile.
local function note_empty(r, mark)
  while r.seqs[1] and r.seqs[1] <= mark do
    remove(r.times, 1)
    remove(r.seqs, 1)
  end
end

-- The proxy variables libcurl reads (it takes HTTP_PROXY in lower case only).
local PROXY_VARIABLES = { "http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY" }

local Cosocket = {}
Cosocket.__index = Cosocket

--- Creates a transport. opts: timeout, connect_timeout (seconds; 0 means no limit), verify_tls
-- (only false disables it), max_response_bytes, user_agent, max_concurrency (send_many),
-- write_reuse_idle (whole seconds, default 1: a POST or PATCH reuses a pooled connection only if it
-- went back to the pool less than this long ago; 0: writes always open a new connection),
-- pool_size and keepalive_timeout (seconds, 0 = no limit) for the connection pool (default:
-- nginx's lua_socket_pool_size and lua_socket_keepalive_timeout). ca_file and ca_path are not
-- used (see the module comment); proxy is refused. Creating one needs no cosocket, so a client can
-- be made in init_by_lua or init_worker_by_lua and shared by all requests of the worker.
function _M.new(opts)
  if opts ~= nil and type(opts) ~= "table" then raise("cosocket.new: options must be a table") end
  opts = opts or {}
  for _, name in ipairs { "timeout", "connect_timeout", "max_response_bytes", "max_concurrency", "pool_size",
                          "keepalive_timeout", "write_reuse_idle" } do
    local v = opts[name]
    if v ~= nil and (type(v) ~= "number" or v < 0) then
      raise("cosocket.new: option '" .. name .. "' must be a non-negative number")
    end
  end
  if opts.pool_size ~= nil and opts.pool_size < 1 then
    raise("cosocket.new: option 'pool_size' must be at least 1")
  end
  if opts.write_reuse_idle ~= nil and (opts.write_reuse_idle % 1 ~= 0 or opts.write_reuse_idle == huge) then
    raise("cosocket.new: option 'write_reuse_idle' must be a whole number of seconds")
  end
  if opts.user_agent ~= nil and type(opts.user_agent) ~= "string" then
    raise("cosocket.new: option 'user_agent' must be a string")
  end
  if opts.user_agent and not defaults.is_header_value(opts.user_agent) then -- it is sent as a header line
    raise("cosocket.new: option 'user_agent' must not hold CR, LF, NUL or other control characters")
  end
  -- Going around a configured proxy could break a network policy: refuse rather than ignore it.
  if opts.proxy ~= nil then
    raise("cosocket.new: the proxy option is not supported inside nginx (plug in a transport that "
      .. "uses one, see clinch.transport)")
  end
  -- The proxy variables libcurl would follow, visible when nginx.conf passes them on (env): this
  -- transport connects directly, and says so rather than go around them without a word.
  for _, name in ipairs(PROXY_VARIABLES) do
    local v = os.getenv(name)
    if v and v ~= "" and ngx and ngx.log then
      ngx.log(ngx.WARN, "clinch: ", name, " is set, but the cosocket transport uses no proxy: it connects to ",
        "the API directly")
    end
  end
  if (opts.ca_file or opts.ca_path) and ngx and ngx.log then
    ngx.log(ngx.WARN, "clinch: ca_file/ca_path do not apply inside nginx; nginx verifies the API's ",
      "certificate against lua_ssl_trusted_certificate")
  end
  return setmetatable({
    timeout = opts.timeout or defaults.TIMEOUT,
    connect_timeout = opts.connect_timeout or defaults.CONNECT_TIMEOUT,
    verify_tls = opts.verify_tls ~= false,
    max_response_bytes = opts.max_response_bytes or defaults.MAX_RESPONSE_BYTES,
    user_agent = opts.user_agent or default_user_agent(),
    max_concurrency = opts.max_concurrency or defaults.CONCURRENCY,
    write_reuse_idle = opts.write_reuse_idle or defaults.WRITE_REUSE_IDLE,
    pool_size = opts.pool_size and floor(opts.pool_size),
    keepalive_ms = opts.keepalive_timeout and floor(opts.keepalive_timeout * 1000),
    urls = {}, url_count = 0, -- see target_of
    -- send_many's responses are tables made for the call, that nothing here keeps (the client then
    -- need not copy them); a started request's are kept by its pending, and the client copies those
    fresh_answers = true,
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

-- What a URL gives every request to it: where to connect, the pool and its connect options, the
-- request target and Host header. Parsed once per URL (a handler asks for the same few URLs over and
-- over, and the patterns are C calls the JIT cannot compile); at most 256 kept per transport, so that
-- ever new URLs (queries) do not grow it.
local function target_of(self, url)
  local cache = self.urls
  local t = cache[url]
  if t then return t end
  local scheme, host, port, target, host_header = parse_url(url)
  if not scheme then
    raise("cosocket transport: url must be an http:// or https:// URL without spaces or control characters")
  end
  local sni = match(host, "^%[(.*)%]$") or host
  local pool = host .. ":" .. port
  if scheme == "https" then pool = pool .. ":tls:" .. sni .. (self.verify_tls and "" or ":noverify") end
  t = { scheme = scheme, host = host, port = port, target = target, host_header = host_header, sni = sni,
        pool = pool, where = host .. ":" .. port, options = { pool = pool, pool_size = self.pool_size } }
  if self.url_count >= 256 then self.urls, self.url_count = {}, 0 end
  self.urls[url], self.url_count = t, self.url_count + 1
  return t
end

-- The header names and values (and methods) check_field has passed: the same few come with every
-- request (the Date and signature change once a second), and the check's answer for a string never
-- changes. At most 256 kept, so that ever new values do not grow it.
local fields_ok, fields_ok_count = {}, 0

-- (plain finds: a pattern search is a C call the JIT cannot compile, and this runs per header)
-- `what` and `name` make the message (joined only then: this runs for every header of every request).
local function check_field(s, what, name)
  if fields_ok[s] then return end -- (a nil key reads as nil)
  if type(s) ~= "string" or find(s, "\r", 1, true) or find(s, "\n", 1, true) or find(s, "\0", 1, true) then
    raise("cosocket transport: " .. what .. (name and " " .. tostring(name) or "")
      .. " must be a string without line breaks")
  end
  if fields_ok_count >= 256 then fields_ok, fields_ok_count = {}, 0 end
  fields_ok[s], fields_ok_count = true, fields_ok_count + 1
end

-- A method or header name must be a token (RFC 9110), as libcurl's transport checks: a space or a
-- separator in one would make a request line or header the server reads otherwise. Checked once per
-- string (at most 64 kept).
local tokens_ok, tokens_ok_count = {}, 0
local function check_token(s, what)
  if tokens_ok[s] then return end
  if type(s) ~= "string" or not find(s, "^[%w!#$%%&'*+%-.^_`|~]+$") then
    raise("cosocket transport: invalid " .. what .. (type(s) == "string" and "" or " (must be a string)"))
  end
  if tokens_ok_count >= 64 then tokens_ok, tokens_ok_count = {}, 0 end
  tokens_ok[s], tokens_ok_count = true, tokens_ok_count + 1
end

-- A header name (or Connection value) -> its lower-case form, for the few that requests and servers
-- use (at most 64 kept, so that ever new ones do not grow it): a lookup instead of a new string per
-- header per request.
local lowered, lowered_count = {}, 0
local function lower_cached(s)
  local l = lowered[s]
  if l then return l end
  l = lower(s)
  if lowered_count >= 64 then lowered, lowered_count = {}, 0 end
  lowered[s], lowered_count = l, lowered_count + 1
  return l
end

-- The request head's pieces, reused by every request (filled and joined with no yield in between).
local head_parts = {}

-- The request head as one string, and the body (nil when there is none).
local function build_request(self, req, target, host_header)
  local method = req.method or "GET"
  check_token(method, "method")
  local out, n = head_parts, 4
  out[1], out[2], out[3], out[4] = method, " ", target, " HTTP/1.1\r\n"
  local has_host, has_agent = false, false
  if req.headers ~= nil and type(req.headers) ~= "table" then
    raise("cosocket transport: headers must be a table")
  end
  for name, value in pairs(req.headers or {}) do
    check_token(name, "header name")
    check_field(value, "header", name)
    local lname = lower_cached(name)
    if lname == "host" then has_host = true elseif lname == "user-agent" then has_agent = true end
    if not FRAMING[lname] then
      out[n + 1], out[n + 2], out[n + 3], out[n + 4] = name, ": ", value, "\r\n"
      n = n + 4
    end
  end
  if not has_host then out[n + 1], out[n + 2], out[n + 3], n = "Host: ", host_header, "\r\n", n + 3 end
  if not has_agent then out[n + 1], out[n + 2], out[n + 3], n = "User-Agent: ", self.user_agent, "\r\n", n + 3 end
  local body = req.body
  if body ~= nil and type(body) ~= "string" then raise("cosocket transport: body must be a string") end
  if body and method == "HEAD" then raise("cosocket transport: a HEAD request cannot have a body") end
  if body or method == "POST" or method == "PUT" or method == "PATCH" then
    out[n + 1], out[n + 2], n = "Content-Length: " .. #(body or ""), "\r\n", n + 2
  end
  -- (no Connection header: HTTP/1.1 keeps a connection alive unless told otherwise; libcurl sends none)
  out[n + 1] = "\r\n"
  return concat(out, "", 1, n + 1), body ~= "" and body or nil
end

-- The value of the Content-Length headers (joined with ", " when repeated): one number, or a list of
-- equal ones; nil for anything else (which one would frame the body is a guess).
local function content_length(value)
  -- The usual one first: digits only, in a byte loop (gmatch and match are C calls the JIT cannot compile).
  local n = #value
  if n > 0 and n <= 15 then
    local v = 0
    for i = 1, n do
      local c = byte(value, i)
      if c < 48 or c > 57 then
        v = nil
        break
      end
      v = v * 10 + c - 48
    end
    if v then return v end
  end
  local len
  for item in gmatch(value .. ",", "([^,]*),") do
    local digits = match(item, "^[ \t]*(%d+)[ \t]*$")
    if not digits or #digits > 15 then return nil end
    local v = tonumber(digits)
    if len and v ~= len then return nil end
    len = v
  end
  return len
end

-- One attempt on one connection: the socket, a read buffer and the deadline every wait obeys.
local Exchange = {}
Exchange.__index = Exchange

-- Gives the socket the time left before the deadline; false when none is left. `armed` is the last
-- timeout given to the socket (in ms).
function Exchange:arm()
  if self.deadline == huge then
    self.sock:settimeout(FOREVER_MS)
    return true
  end
  local left = self.deadline - clock()
  if left <= 0 then return false end
  -- the same whole milliseconds as the last wait's (the usual case within a request): nothing to set
  local ms = min(FOREVER_MS, floor(left * 1000) + 1)
  if ms ~= self.armed then
    self.sock:settimeout(ms)
    self.armed = ms
  end
  return true
end

function Exchange:fail(kind, message, status)
  self:stop_writer() -- (a socket busy writing would not close)
  self.sock:close()
  return nil, { kind = kind, message = message, sent = self.sent, status = status }
end

-- Maps a cosocket error string to a transport error. A reused connection that failed before any
-- response byte came is the case the client retries at once, when the method allows it.
function Exchange:io_fail(err, doing)
  if err == "timeout" then
    return self:fail("timeout", "timed out " .. doing .. " " .. self.where)
  end
  if self.reused and not self.got_bytes then
    self:stop_writer()
    self.sock:close()
    return nil, { kind = "network", message = REUSED_MESSAGE, sent = true, reused = true }
  end
  return self:fail("network", doing .. " " .. self.where .. " failed: " .. tostring(err))
end

-- Reads what the server sent next into the buffer, waiting no longer than the time left.
-- receive(n) and receive("*l") restart their timer whenever a byte comes, so a server trickling
-- bytes could hold them forever; receiveany returns whatever one read gives.
function Exchange:fill()
  if not self:arm() then return nil, "timeout" end
  local data, err = self.sock:receiveany(READ_SIZE)
  if not data then return nil, err end
  self.got_bytes = true
  if self.pos > #self.buf then
    self.buf = data
  else
    self.buf = sub(self.buf, self.pos) .. data
  end
  self.pos = 1
  return true
end

-- The next line without its line end, or nil, err ("too_large" when more than `limit` bytes
-- come without one). The line usually is in the buffer already: that path has no loop, since a loop
-- inside a function aborts the JIT's trace of its caller (here read_head, once per header line).
function Exchange:line(limit)
  local i = find(self.buf, "\n", self.pos, true)
  if not i then return self:line_more(limit) end
  local j = i - 1
  if j >= self.pos and byte(self.buf, j) == 13 then j = j - 1 end
  if j - self.pos + 1 > limit then return nil, "too_large" end
  local line = sub(self.buf, self.pos, j)
  self.pos = i + 1
  return line
end

-- Reads until the buffer holds a line end, then returns the line as Exchange:line does. Usually one
-- read brings the whole head: that path has no loop either.
function Exchange:line_more(limit)
  if #self.buf - self.pos + 1 > limit + 1 then return nil, "too_large" end
  local ok, err = self:fill()
  if not ok then return nil, err end
  if find(self.buf, "\n", self.pos, true) then return self:line(limit) end
  return self:line_wait(limit)
end

function Exchange:line_wait(limit)
  while not find(self.buf, "\n", self.pos, true) do
    if #self.buf - self.pos + 1 > limit + 1 then return nil, "too_large" end
    local ok, err = self:fill()
    if not ok then return nil, err end
  end
  return self:line(limit)
end

-- The response head is parsed with byte checks rather than patterns: string.match is a C call the JIT
-- cannot compile, and it ran for every header line of every response.
local function is_space(c) -- what %s matches
  return c == 32 or (c >= 9 and c <= 13)
end

-- "HTTP/1.x NNN reason" -> status, minor version, or nil when the line is not one.
local function status_line(line)
  if sub(line, 1, 7) ~= "HTTP/1." then return nil end
  local minor = byte(line, 8)
  if not minor or minor < 48 or minor > 57 or byte(line, 9) ~= 32 then return nil end
  local i = 10
  while byte(line, i) == 32 do i = i + 1 end
  local d1, d2, d3 = byte(line, i, i + 2)
  if not d3 or d1 < 48 or d1 > 57 or d2 < 48 or d2 > 57 or d3 < 48 or d3 > 57 then return nil end
  local after = byte(line, i + 3)
  if after and after ~= 32 and after ~= 9 then return nil end
  return (d1 - 48) * 100 + (d2 - 48) * 10 + d3 - 48, minor - 48
end

-- Response header names that passed the check below -> their lower-case form: a server sends the same
-- few every time (at most 64 kept, so that ever new ones do not grow it).
local good_names, good_count = {}, 0

-- The header line at buf[i..j] ("Name: value", its line end excluded) -> lower-case name, value
-- (surrounding white space dropped), or nil: the name is everything up to the first colon, and must be
-- neither empty nor hold white space. Read in place, so that no string is made for the whole line;
-- plain finds and no loop in the usual case (one space after the colon, none at the end); anything
-- else takes the pattern.
local function header_at(buf, i, j)
  local colon = find(buf, ":", i, true)
  if not colon or colon > j or colon == i then return nil end
  local raw = sub(buf, i, colon - 1)
  local name = good_names[raw]
  if not name then
    if find(raw, " ", 1, true) or find(raw, "\t", 1, true) or find(raw, "\r", 1, true)
      or find(raw, "\v", 1, true) or find(raw, "\f", 1, true) or find(raw, "\0", 1, true) then
      return nil
    end
    name = lower(raw)
    if good_count >= 64 then good_names, good_count = {}, 0 end
    good_names[raw], good_count = name, good_count + 1
  end
  if colon + 2 <= j and byte(buf, colon + 1) == 32 and not is_space(byte(buf, colon + 2))
    and not is_space(byte(buf, j)) then
    return name, sub(buf, colon + 2, j)
  end
  return name, match(sub(buf, i, j), "^[^:]*:%s*(.-)%s*$")
end

-- Reads the status line and headers of one response -> status, headers, http_minor, or nil, err
-- where err is a cosocket error, "too_large" or "malformed ...".
function Exchange:read_head()
  local line, err = self:line(MAX_HEADER_BYTES)
  if not line then return nil, err end
  local status, minor = status_line(line)
  if not status then return nil, "malformed status line" end
  -- Counted as libcurl counts them: each header line with one line end.
  local headers, bytes, last = new_tab(0, 8), 0, nil
  while true do
    -- the usual case: the whole line is in the buffer, and is no continuation; it is read in place
    local buf, pos = self.buf, self.pos
    local eol = find(buf, "\n", pos, true)
    local b = byte(buf, pos)
    local name, value, len
    if eol and b ~= 32 and b ~= 9 then
      local j = eol - 1
      if j >= pos and byte(buf, j) == 13 then j = j - 1 end
      len = j - pos + 1
      if len > MAX_HEADER_BYTES - bytes then return nil, "too_large" end
      self.pos = eol + 1
      if len == 0 then break end
      name, value = header_at(buf, pos, j)
    else
      local h, herr = self:line(MAX_HEADER_BYTES - bytes)
      if not h then return nil, herr end
      if h == "" then break end
      len = #h
      b = byte(h, 1)
      if (b == 32 or b == 9) and last then -- obsolete line folding continues the previous value
        name, value = false, match(h, "^%s*(.-)%s*$")
      else
        name, value = header_at(h, 1, len)
      end
    end
    bytes = bytes + len + 1
    if bytes > MAX_HEADER_BYTES then return nil, "too_large" end
    -- a NUL in a value is no HTTP (libcurl refuses it too): it could cut the value short in C code
    if value and find(value, "\0", 1, true) then return nil, "malformed header line" end
    if name == false then
      headers[last] = headers[last] .. " " .. value
    else
      if not name then return nil, "malformed header line" end
      last = name
      local prev = headers[last]
      headers[last] = prev and prev .. ", " .. value or value
    end
  end
  return status, headers, minor
end

-- Adds a piece of body, keeping the total under the limit. A body usually comes in one piece: the
-- list (and the join) is made only for a second one.
function Exchange:take(piece)
  self.size = self.size + #piece
  if self.size > self.limit then return false end
  local parts = self.parts
  if parts then
    parts[#parts + 1] = piece
  elseif self.first then
    self.parts = { self.first, piece }
  else
    self.first = piece
  end
  return true
end

-- The body read so far.
function Exchange:body()
  if self.parts then return concat(self.parts) end
  return self.first or ""
end

function Exchange:too_large()
  return self:fail("too_large", "response body from " .. self.where .. " exceeds max_response_bytes ("
    .. self.limit .. ")")
end

-- Reads exactly n bytes of body (the caller checked the limit) -> true or nil, cosocket error.
function Exchange:read_exact(n)
  local avail = #self.buf - self.pos + 1
  if avail > 0 then
    local k = min(avail, n)
    self:take(sub(self.buf, self.pos, self.pos + k - 1))
    self.pos = self.pos + k
    n = n - k
  end
  while n > 0 do
    if not self:arm() then return nil, "timeout" end
    local data, err = self.sock:receiveany(min(n, READ_SIZE))
    if not data then return nil, err end
    self:take(data)
    n = n - #data
  end
  return true
end

function Exchange:read_chunked()
  while true do
    local line, err = self:line(1024)
    if not line then
      if err == "too_large" then return self:fail("network", "malformed chunk size from " .. self.where) end
      return self:io_fail(err, "reading chunked body from")
    end
    local hex, rest = match(line, "^[ \t]*(%x+)[ \t]*(.*)$")   -- the size, then any ";extension"
    local size = hex and #hex <= 15 and (rest == "" or byte(rest, 1) == 59) and tonumber(hex, 16)
    if not size then return self:fail("network", "malformed chunk size from " .. self.where) end
    if size == 0 then break end
    if self.size + size > self.limit then return self:too_large() end
    local ok, derr = self:read_exact(size)
    if not ok then return self:io_fail(derr, "reading chunked body from") end
    local crlf, cerr = self:line(0)
    if crlf ~= "" then
      if not crlf and cerr ~= "too_large" then return self:io_fail(cerr, "reading chunked body from") end
      return self:fail("network", "malformed chunk from " .. self.where)
    end
  end
  -- Trailer fields, up to the empty line that ends the message: read and dropped, so that a trailer
  -- can never pass for a header (Content-Type, X-Request-Id, Location).
  local bytes = 0
  while true do
    local line, err = self:line(MAX_HEADER_BYTES - bytes)
    if not line then
      if err == "too_large" then
        return self:fail("too_large", "response trailers larger than " .. MAX_HEADER_BYTES .. " bytes")
      end
      return self:io_fail(err, "reading chunked trailer from")
    end
    if line == "" then return true end
    bytes = bytes + #line + 1
  end
end

function Exchange:read_to_close()
  if self.pos <= #self.buf then
    if not self:take(sub(self.buf, self.pos)) then return self:too_large() end
    self.pos = #self.buf + 1
  end
  while true do
    if not self:arm() then return self:io_fail("timeout", "reading body from") end
    local data, err = self.sock:receiveany(READ_SIZE)
    if not data then
      if err == "closed" then return true end
      return self:io_fail(err, "reading body from")
    end
    if not self:take(data) then return self:too_large() end
  end
end

-- Reads the body as the headers frame it. Returns keep (connection reusable) or nil, err.
function Exchange:read_body(method, status, headers)
  local cl = headers["content-length"]
  local len = cl and content_length(cl)
  if cl and not len then
    return self:fail("protocol", "the response has conflicting or invalid Content-Length headers")
  end
  if method == "HEAD" or status == 204 or status == 304 then return true end
  local te = headers["transfer-encoding"]
  if te then
    -- chunked is the one transfer coding this client reads (it never asks for another, and a body
    -- still gzip-coded would pass for the body itself): anything else is refused, as libcurl does
    if not match(lower(te), "^%s*chunked%s*$") then
      return self:fail("protocol", "the response uses Transfer-Encoding '" .. te .. "', which this client "
        .. "does not read")
    end
    local ok, err = self:read_chunked()
    if not ok then return nil, err end
    return not cl   -- both framings: a smuggling attempt or a broken proxy, do not reuse
  end
  if len then
    if len > self.limit then return self:too_large() end
    if len > 0 then
      local ok, err = self:read_exact(len)
      if not ok then return self:io_fail(err, "reading body from") end
    end
    return true
  end
  local ok, err = self:read_to_close()
  if not ok then return nil, err end
  return false
end

-- Connects, from the pool when it may, and does the TLS handshake on new connections. A write takes
-- a pooled connection only if it went back less than write_reuse_idle seconds ago: a server that
-- closes idle connections (after 5 s for Apache and Node.js, 2 s for gunicorn) could do so just as
-- the write leaves, and then nobody knows whether it arrived. An older one is closed, and the next
-- one the pool hands out is older still, until connect opens a new one.
function Cosocket:connect(x, at, write, connect_timeout)
  local sock, err = ngx.socket.tcp()
  if not sock then return nil, { kind = "network", message = tostring(err), sent = false } end
  x.sock = sock
  local record = pool_record(at.pool)
  local options = at.options
  local tries = max(#record.times, self.pool_size or defaults.POOL_SIZE) + 1
  local fresh, began = false, nil
  for _ = 1, tries do
    began = clock()
    local budget = x.deadline - began
    if budget <= 0 then return x:fail("timeout", "no time left to connect to " .. x.where) end
    local ct = connect_timeout > 0 and min(connect_timeout, budget) or budget
    local ms = ct == huge and FOREVER_MS or min(FOREVER_MS, floor(ct * 1000) + 1)
    sock:settimeout(ms)
    x.armed = ms -- (what Exchange:arm compares with)
    local mark = record.pushed
    local ok, cerr = sock:connect(at.host, at.port, options)
    if not ok then
      if cerr == "timeout" then return x:fail("timeout", "timed out connecting to " .. x.where) end
      return x:fail("network", "connecting to " .. x.where .. " failed: " .. tostring(cerr))
    end
    if (sock:getreusedtimes() or 0) == 0 then
      note_empty(record, mark)
      fresh = true
      break
    end
    local since = note_taken(record)
    if not write or (since and clock() - since < self.write_reuse_idle) then
      x.reused = true
      return true
    end
    sock:close()
  end
  if not fresh then
    return x:fail("network", "no new connection to " .. x.where .. " for a write: the pool kept handing out "
      .. "idle ones")
  end
  if at.scheme == "https" then
    -- connect_timeout covers the handshake too, as libcurl's does: a host that accepts and then
    -- stalls costs connect_timeout, not the whole attempt's timeout
    local left = x.deadline - clock()
    if connect_timeout > 0 then left = min(left, connect_timeout - (clock() - began)) end
    if left <= 0 then return x:fail("timeout", "timed out in the TLS handshake with " .. x.where) end
    local ms = left == huge and FOREVER_MS or min(FOREVER_MS, floor(left * 1000) + 1)
    sock:settimeout(ms)
    x.armed = ms
    local session, herr = sock:sslhandshake(false, at.sni, self.verify_tls)
    if not session then
      if herr == "timeout" then return x:fail("timeout", "timed out in the TLS handshake with " .. x.where) end
      return x:fail("tls", "TLS handshake with " .. x.where .. " failed: " .. tostring(herr))
    end
  end
  return true
end

-- Sends the request, in pieces when it is large, each under the time left.
function Exchange:send(head, body)
  local sock = self.sock
  if not body or #head + #body <= SEND_PIECE then
    if not self:arm() then return nil, "timeout" end
    return sock:send(body and { head, body } or head)
  end
  if not self:arm() then return nil, "timeout" end
  local ok, err = sock:send(head)
  if not ok then return nil, err end
  for i = 1, #body, SEND_PIECE do
    if not self:arm() then return nil, "timeout" end
    ok, err = sock:send(sub(body, i, i + SEND_PIECE - 1))
    if not ok then return nil, err end
  end
  return true
end

-- Sends a body larger than one piece in a light thread of its own, so that this one reads the
-- response meanwhile (cosockets are full duplex): a server may answer before it has read the body
-- (a 401 for the signature, a 413) and stop reading, and libcurl, which reads while it sends, gets
-- that answer; a transport that only sent would wait out its timeout. A failed write is what an
-- attempt reports when no answer came (Exchange:head_fail).
local function start_writer(x, head, body)
  return ngx.thread.spawn(x.send, x, head, body)
end

-- Ends the duplex writer of the exchange, if it has one -> whether the whole request went out, and
-- the writer's error when it failed. One still sending (the server answered first) is stopped, which
-- closes the connection both ways: so a response is read whole before this. (A light thread that has
-- ended is a "zombie" to ngx_lua until it is waited for.)
function Exchange:stop_writer()
  local writer = self.writer
  if not writer then return true, nil end
  self.writer = nil
  local state = co_status(writer)
  if state ~= "zombie" and state ~= "dead" then
    ngx.thread.kill(writer)
    return false, nil
  end
  local ok, sent, err = ngx.thread.wait(writer)
  if not ok then return false, tostring(sent) end
  return sent ~= nil, err
end

-- Exchanges of attempts that succeeded, for the next attempts of the worker to use again (at most
-- SPARE_MAX): an attempt that fails leaves its exchange to the collector, so that nothing an error
-- path may still hold is ever handed out twice.
local spare, spare_count, SPARE_MAX = {}, 0, 32

-- An exchange for an attempt: a spare one of an earlier attempt, or a new one.
local function exchange_for(self, at, deadline)
  if spare_count > 0 then
    local x = spare[spare_count]
    spare[spare_count], spare_count = nil, spare_count - 1
    x.deadline, x.where, x.sent, x.reused, x.got_bytes, x.buf, x.pos, x.armed = deadline, at.where,
      false, false, false, "", 1, false
    x.size, x.first, x.parts, x.limit = 0, false, false, self.max_response_bytes
    return x
  end
  return setmetatable({ deadline = deadline, where = at.where, sent = false, sock = false,
                        reused = false, got_bytes = false, buf = "", pos = 1, armed = false,
                        size = 0, first = false, parts = false, limit = self.max_response_bytes }, Exchange)
end

-- The failure of reading a response head (`why`: read_head's error; `interim`: a 1xx came first).
-- A duplex writer is stopped, and when its write failed, that is what is reported.
function Exchange:head_fail(why, interim)
  local malformed = why == "malformed status line" or why == "malformed header line"
  local _, serr = self:stop_writer()
  if serr and why ~= "too_large" and not malformed then return self:io_fail(serr, "sending to") end
  if why == "too_large" then
    return self:fail("too_large", "response headers larger than " .. MAX_HEADER_BYTES .. " bytes")
  elseif malformed then
    return self:fail("protocol", why .. " from " .. self.where)
  elseif why == "timeout" then
    return self:io_fail("timeout", "waiting for the response from")
  elseif interim and why == "closed" then
    return self:fail("network", "the connection to " .. self.where .. " closed after an interim 1xx response, "
      .. "before the response")
  end
  return self:io_fail(why, "reading the response from")
end

-- Reads response heads up to the final one (1xx are skipped) -> status, headers, http_minor, or
-- nil, err (head_fail's).
function Exchange:final_head()
  local interim = false
  while true do
    local status, headers, minor = self:read_head()
    if not status then return self:head_fail(headers, interim) end
    if status == 101 then
      return self:fail("protocol", "the server answered 101 Switching Protocols, which this client never asks for",
        101)
    elseif status < 100 or status > 599 then
      return self:fail("protocol", "the server answered with HTTP status " .. status .. ", outside 200-599", status)
    elseif status >= 200 then
      return status, headers, minor
    end
    interim = true  -- 100 Continue, 102 Processing, 103 Early Hints: the response follows
  end
end

-- One attempt of what prepare_parts made (the request head, its body, where it goes): returns
-- response or nil, err. Never sends the request a second time.
function Cosocket:attempt(at, method, head, body, connect_timeout, deadline)
  local x = exchange_for(self, at, deadline)
  local ok, err = self:connect(x, at, not IDEMPOTENT[method], connect_timeout)
  if not ok then return nil, err end

  if not x:arm() then return x:fail("timeout", "timed out sending to " .. x.where) end
  x.sent = true
  if body and #head + #body > SEND_PIECE then
    x.writer = start_writer(x, head, body) -- every way out below stops it (Exchange:fail does)
  else
    local sent, serr = x:send(head, body)
    if not sent then return x:io_fail(serr, "sending to") end
  end

  local status, headers, minor = x:final_head()
  if not status then return nil, headers end
  local keep, berr = x:read_body(method, status, headers)
  if keep == nil then
    x:stop_writer()
    return nil, berr
  end
  -- An answer before the whole request went out: the rest is not sent, and the connection, out of
  -- step, is not kept.
  if not x:stop_writer() then keep = false end
  local conn = lower_cached(headers.connection or "")
  if keep and (find(conn, "close", 1, true) or (minor == 0 and not find(conn, "keep-alive", 1, true))) then
    keep = false
  end
  -- Bytes after the response: the connection is out of step, and they are in our buffer, not nginx's.
  if x.pos <= #x.buf then keep = false end
  if keep then
    -- nil arguments leave idle time and pool size to lua_socket_keepalive_timeout/_pool_size.
    -- Fails ("connection in dubious state") when unread bytes follow the response: drop it then.
    if x.sock:setkeepalive(self.keepalive_ms, self.pool_size) then
      note_returned(pool_record(at.pool), self.pool_size or defaults.POOL_SIZE)
    else
      x.sock:close()
    end
  else
    x.sock:close()
  end
  -- with room for what the client adds (document, request, attempts)
  local res = new_tab(0, 8)
  res.status, res.headers, res.body = status, headers, x:body()
  if spare_count < SPARE_MAX then
    x.sock, x.buf, x.first, x.parts = false, "", false, false -- nothing of this request kept alive
    spare_count = spare_count + 1
    spare[spare_count] = x
  end
  return res
end

-- Checks a request (raising on programming mistakes) and builds what every attempt sends: where it
-- goes (target_of), its method, head and body, and its timeouts.
local function prepare_parts(self, req)
  if type(req) ~= "table" then raise("cosocket transport: request must be a table") end
  local url = req.url
  if type(url) ~= "string" then raise("cosocket transport: request url must be a string") end
  local timeout, connect_timeout = req.timeout, req.connect_timeout
  if timeout ~= nil and (type(timeout) ~= "number" or timeout ~= timeout or timeout < 0) then
    raise("cosocket transport: request timeout must be a non-negative number")
  end
  if connect_timeout ~= nil and (type(connect_timeout) ~= "number" or connect_timeout ~= connect_timeout
    or connect_timeout < 0) then
    raise("cosocket transport: request connect_timeout must be a non-negative number")
  end
  local where = target_of(self, url)
  local head, body = build_request(self, req, where.target, where.host_header)
  return where, req.method or "GET", head, body, timeout or self.timeout, connect_timeout or self.connect_timeout
end

-- The deadline of an attempt of `timeout` seconds (0: none) that starts now.
local function deadline_of(timeout)
  return timeout > 0 and now() + timeout or huge
end

-- A request made ready to run later (a light thread's, or one of send_many's): prepare_parts' values.
function Cosocket:prepare(req)
  local at, method, head, body, timeout, connect_timeout = prepare_parts(self, req)
  return { at = at, method = method, head = head, body = body, timeout = timeout, connect_timeout = connect_timeout }
end

-- Runs a prepared request -> response or nil, err. One attempt: whether to try again is the
-- client's decision (clinch.retry), since only it knows whether the method may be repeated.
function Cosocket:execute(plan)
  return self:attempt(plan.at, plan.method, plan.head, plan.body, plan.connect_timeout, deadline_of(plan.timeout))
end

--- Sends one request: -> response { status, headers, body } or nil, err. (Run at once: no plan table.)
function Cosocket:send(req)
  local perr = phase_error()
  if perr then return nil, perr end
  local at, method, head, body, timeout, connect_timeout = prepare_parts(self, req)
  return self:attempt(at, method, head, body, connect_timeout, deadline_of(timeout))
end

-- A send_many light thread: takes the next plan until none is left. (A function of its own, not a
-- closure made per call: creating a closure is not JIT-compiled and would abort the request's trace.)
local function many_worker(self, job)
  local plans, results, total = job.plans, job.results, job.total
  while job.next < total do
    local i = job.next + 1
    job.next = i
    local plan = plans[i]
    if plan then results[i] = { self:execute(plan) } end
  end
end

--- Sends several requests in parallel light threads (at most `concurrency` at once) and returns
-- { response } or { nil, err } pairs in input order.
function Cosocket:send_many(reqs, concurrency)
  if type(reqs) ~= "table" then raise("cosocket transport: send_many expects a list of requests") end
  local total = #reqs
  local perr = phase_error()
  if not perr and total == 1 then
    return { { self:execute(self:prepare(reqs[1])) } } -- one request (client:request): no light thread
  end
  local results, plans = {}, {}
  for i = 1, total do
    if perr then
      results[i] = { nil, perr }
    else
      plans[i] = self:prepare(reqs[i])
    end
  end
  if not perr and total > 0 then
    local job = { plans = plans, results = results, total = total, next = 0 }
    local threads = {}
    local width = floor(min(total, concurrency or self.max_concurrency))
    for t = 1, width < 1 and 1 or width do threads[t] = ngx.thread.spawn(many_worker, self, job) end
    for _, th in ipairs(threads) do
      local ok, msg = ngx.thread.wait(th)
      if not ok then error("cosocket transport: a send_many light thread failed: " .. tostring(msg)) end
    end
  end
  return results
end

-- The exchange's methods, for spec/cosocket_head_spec.lua: the response head parser run on given bytes
-- (with a socket of the spec's own), compared with the rules written as patterns.
_M._Exchange = Exchange

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

--- True once the request has its answer (its light thread ended).
function Pending:done()
  if self.result then return true end
  return co_status(self.thread) == "dead"
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
