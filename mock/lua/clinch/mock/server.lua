--- The mock's HTTP/1.1 server: one thread, non-blocking LuaSocket sockets and socket.select, many
-- connections at once, keep-alive and pipelining, partial reads and writes, and timers so that a
-- delayed or trickled response never holds up other connections (nothing here ever sleeps).
--
-- The handler is called as handler(req, conn) and returns a response table:
--   { status = n, headers = { {name, value}, ... }, body = "...",
--     delay = seconds (send later), close = true (close the connection afterwards),
--     on_deliver = function() called when the answer starts going out,
--     mode = nil | "reset" | "truncate" | "trickle", trickle_ms = n, trickle_bytes = n }
-- The server adds Content-Length, Date and Connection.
local socket = require "socket"
local http = require "clinch.mock.http"

local gettime, select = socket.gettime, socket.select
local setmetatable, ipairs, pcall, tostring, tonumber, type, error = setmetatable, ipairs, pcall, tostring, tonumber,
  type, error
local os_date = os.date
local find, sub, floor, min, concat, remove = string.find, string.sub, math.floor, math.min, table.concat,
  table.remove

local _M = {}
local Server = {}
Server.__index = Server

local MAX_CONNECTIONS = 900 -- select() handles descriptors below FD_SETSIZE (1024) only
local READ_SIZE = 65536
local PIPELINE_LIMIT = 1024 * 1024

--- Creates a server. opts: host, port, handler, max_body (bytes, default 32 MiB), idle_timeout (s,
-- default 300), log (function(message) or nil), on_error (function(req) -> response for a handler error),
-- request_id (function() -> id for the X-Request-Id of the server's own 4xx answers to malformed requests).
function _M.new(opts)
  return setmetatable({
    host = opts.host or "127.0.0.1", port = opts.port or 0, handler = opts.handler,
    max_body = opts.max_body or 32 * 1024 * 1024, idle_timeout = opts.idle_timeout or 300,
    log = opts.log or function() end, on_error = opts.on_error, request_id = opts.request_id,
    conns = {}, by_sock = {}, timers = {}, accepted = 0, next_id = 0,
  }, Server)
end

--- Binds and listens. Returns true, or nil and an error message.
function Server:listen()
  local sock, err = socket.bind(self.host, self.port, 128)
  if not sock then return nil, err end
  sock:settimeout(0)
  self.sock = sock
  local _, port = sock:getsockname()
  self.port = tonumber(port)
  return true
end

--- Runs `fn` after `seconds` from the event loop.
function Server:after(seconds, fn)
  local t = { at = gettime() + seconds, fn = fn }
  self.timers[#self.timers + 1] = t
  return t
end

local function close(self, conn, reset)
  if conn.closed then return end
  conn.closed = true
  if reset then conn.sock:setoption("linger", { on = true, timeout = 0 }) end
  conn.sock:close()
  self.by_sock[conn.sock] = nil
  for i, c in ipairs(self.conns) do
    if c == conn then remove(self.conns, i) break end
  end
end

local function queue(conn, data)
  if data ~= "" then conn.out[#conn.out + 1] = data end
end

-- Writes what the socket takes now; the rest waits for writability. When everything queued is sent,
-- performs conn.after_flush: "next" (ready for the next request), "close" or "reset".
local function flush(self, conn)
  local out = conn.out
  while out[1] do
    local data = out[1]
    local i, err, last = conn.sock:send(data, conn.out_pos)
    local sent = i or last or conn.out_pos - 1
    if sent >= #data then
      remove(out, 1)
      conn.out_pos = 1
    else
      conn.out_pos = sent + 1
      if err ~= "timeout" then close(self, conn) end
      return
    end
  end
  local action = conn.after_flush
  if not action then return end
  conn.after_flush = nil
  if action == "next" then
    conn.busy = false
  else
    close(self, conn, action == "reset")
  end
end

local function fail(self, conn, status, message)
  self.log("bad request from connection " .. conn.id .. ": " .. tostring(message))
  local body = http.reason(status) .. ": " .. tostring(message) .. "\n"
  local headers = { { "Content-Type", "text/plain" }, { "Content-Length", #body }, { "Connection", "close" } }
  if self.request_id then headers[#headers + 1] = { "X-Request-Id", self.request_id() } end
  queue(conn, http.head(status, headers) .. body)
  conn.busy, conn.after_flush = true, "close"
  flush(self, conn)
end

local function deliver(self, conn, req, res)
  if conn.closed then return end
  local keep = req.keep_alive and not res.close and not self.stopping
  local body = res.body or ""
  local declared = #body
  local mode = res.mode
  if mode == "truncate" and declared == 0 then declared = 16 end
  local headers, has_length = {}, false
  for i, h in ipairs(res.headers or {}) do
    headers[i] = h
    has_length = has_length or h[1]:lower() == "content-length"
  end
  if not has_length then headers[#headers + 1] = { "Content-Length", declared } end
  headers[#headers + 1] = { "Date", os_date("!%a, %d %b %Y %H:%M:%S GMT") }
  headers[#headers + 1] = { "Connection", keep and "keep-alive" or "close" }
  local head = http.head(res.status, headers)
  if req.method == "HEAD" then body = "" end

  if mode == "reset" or mode == "truncate" then
    queue(conn, head .. sub(body, 1, floor(#body / 2)))
    conn.after_flush = mode == "reset" and "reset" or "close"
    flush(self, conn)
  elseif mode == "trickle" then
    queue(conn, head)
    flush(self, conn)
    local pos, step, every = 1, res.trickle_bytes or 4, (res.trickle_ms or 500) / 1000
    local function drip()
      if conn.closed then return end
      queue(conn, sub(body, pos, pos + step - 1))
      pos = pos + step
      if pos > #body then conn.after_flush = keep and "next" or "close" else self:after(every, drip) end
      flush(self, conn)
      if not conn.busy then self:advance(conn) end
    end
    if #body == 0 then drip() else self:after(every, drip) end
  else
    queue(conn, head .. body)
    conn.after_flush = keep and "next" or "close"
    flush(self, conn)
  end
end

local function is_interrupt(err)
  return type(err) == "string" and find(err, "interrupted!", 1, true) ~= nil
end

local function dispatch(self, conn, req)
  conn.busy = true
  req.keep_alive = http.keep_alive(req)
  local ok, res = pcall(self.handler, req, conn)
  if not ok then
    if is_interrupt(res) then error(res, 0) end
    self.log("handler error: " .. tostring(res))
    res = self.on_error and self.on_error(req) or { status = 500, headers = {}, body = "" }
  end
  if res.delay and res.delay > 0 then
    self:after(res.delay, function()
      if res.on_deliver then res.on_deliver() end
      deliver(self, conn, req, res)
      if not conn.closed and not conn.busy then self:advance(conn) end
    end)
  else
    if res.on_deliver then res.on_deliver() end
    deliver(self, conn, req, res)
  end
end

--- Parses and dispatches buffered requests on a connection, one at a time.
function Server:advance(conn)
  while not conn.closed and not conn.busy do
    local state = conn.state
    if state == "head" then
      local buf = conn.buf
      if find(buf, "^[\r\n]") then buf = buf:gsub("^[\r\n]+", "") conn.buf = buf end
      -- Not HTTP at all (say a TLS ClientHello): answer at once rather than wait for a head that never comes.
      if buf ~= "" and not find(buf, "^[!#$%%&'*+%-.^_`|~%w]") then
        return fail(self, conn, 400, "not an HTTP request")
      end
      local s, e = find(buf, "\r?\n\r?\n")
      if not s then
        if #buf > http.MAX_HEAD then fail(self, conn, 431, "request head too large") end
        return
      end
      if s > http.MAX_HEAD then return fail(self, conn, 431, "request head too large") end
      local req, status, message = http.parse_head(sub(buf, 1, s - 1))
      conn.buf = sub(buf, e + 1)
      if not req then return fail(self, conn, status, message) end
      self.arrivals = (self.arrivals or 0) + 1
      req.seq = self.arrivals -- the order heads arrived in, whatever order bodies complete in
      local framing, n, why = http.framing(req)
      if not framing then return fail(self, conn, n, why) end
      if framing == "length" and n > self.max_body then return fail(self, conn, 413, "body too large") end
      conn.req = req
      if framing == "none" then
        req.body = ""
        conn.req = nil
        dispatch(self, conn, req)
      else
        if framing == "length" then
          conn.state, conn.need, conn.parts, conn.have = "body", n, { conn.buf }, #conn.buf
          conn.buf = ""
        else
          conn.state = "chunked"
        end
        local expect = req.headers["expect"]
        local arrived = framing == "length" and conn.have >= n
          or framing == "chunked" and http.dechunk(conn.buf, self.max_body) ~= nil
        if expect and expect:lower() == "100-continue" and not arrived then
          queue(conn, "HTTP/1.1 100 Continue\r\n\r\n")
          flush(self, conn)
        end
      end
    elseif state == "body" then
      if conn.have < conn.need then return end
      local all = concat(conn.parts)
      local req = conn.req
      req.body, conn.buf = sub(all, 1, conn.need), sub(all, conn.need + 1)
      conn.state, conn.parts, conn.req = "head", nil, nil
      dispatch(self, conn, req)
    else -- chunked
      local body, used = http.dechunk(conn.buf, self.max_body)
      if body == nil then return end
      if body == false then return fail(self, conn, used == "body too large" and 413 or 400, used) end
      local req = conn.req
      req.body, conn.buf = body, sub(conn.buf, used + 1)
      conn.state, conn.req = "head", nil
      dispatch(self, conn, req)
    end
  end
end

local function on_readable(self, conn)
  local data, err, partial = conn.sock:receive(READ_SIZE)
  local chunk = data or partial
  if chunk and chunk ~= "" then
    conn.last_active = gettime()
    if conn.state == "body" then
      conn.parts[#conn.parts + 1] = chunk
      conn.have = conn.have + #chunk
    else
      conn.buf = conn.buf .. chunk
    end
  end
  if err and err ~= "timeout" then
    -- The peer closed (or the connection broke): nothing more can be answered.
    close(self, conn)
    return
  end
  self:advance(conn)
end

local function accept(self)
  while #self.conns < MAX_CONNECTIONS do
    local sock = self.sock:accept()
    if not sock then return end
    sock:settimeout(0)
    sock:setoption("tcp-nodelay", true)
    self.next_id = self.next_id + 1
    self.accepted = self.accepted + 1
    local conn = { sock = sock, id = self.next_id, buf = "", state = "head", out = {}, out_pos = 1,
      last_active = gettime() }
    self.conns[#self.conns + 1] = conn
    self.by_sock[sock] = conn
  end
end

local function run_timers(self)
  local timers = self.timers
  if not timers[1] then return end
  local now, due, keep = gettime(), {}, {}
  for _, t in ipairs(timers) do
    if t.at <= now then due[#due + 1] = t else keep[#keep + 1] = t end
  end
  self.timers = keep
  for _, t in ipairs(due) do t.fn() end
end

--- One turn of the event loop, waiting at most max_wait seconds.
function Server:step(max_wait)
  local wait = max_wait or 0.25
  local now = gettime()
  for _, t in ipairs(self.timers) do wait = min(wait, t.at - now) end
  if wait < 0 then wait = 0 end
  local recvt, sendt = {}, {}
  if not self.stopping then recvt[1] = self.sock end
  for _, conn in ipairs(self.conns) do
    if conn.state == "body" or not conn.busy or #conn.buf < PIPELINE_LIMIT then recvt[#recvt + 1] = conn.sock end
    if conn.out[1] then sendt[#sendt + 1] = conn.sock end
  end
  local readable, writable = select(recvt, sendt, wait)
  for _, sock in ipairs(writable or {}) do
    local conn = self.by_sock[sock]
    if conn and not conn.closed then
      flush(self, conn)
      if not conn.closed and not conn.busy then self:advance(conn) end
    end
  end
  for _, sock in ipairs(readable or {}) do
    if sock == self.sock then
      accept(self)
    else
      local conn = self.by_sock[sock]
      if conn and not conn.closed then on_readable(self, conn) end
    end
  end
  run_timers(self)
  if now - (self.swept or 0) > 1 then
    self.swept = now
    for i = #self.conns, 1, -1 do
      local conn = self.conns[i]
      if conn and not conn.busy and not conn.out[1] and now - conn.last_active > self.idle_timeout then
        close(self, conn)
      end
    end
  end
end

--- Runs the loop until stop() is called. Errors (e.g. Lua's "interrupted!" on SIGINT) propagate.
function Server:run()
  while not self.stopping do self:step(0.25) end
end

--- Asks run() to return after the current turn.
function Server:stop()
  self.stopping = true
end

--- Closes every connection and the listening socket.
function Server:close()
  for i = #self.conns, 1, -1 do close(self, self.conns[i]) end
  if self.sock then
    self.sock:close()
    self.sock = nil
  end
end

--- Currently open connections (a list of connection tables).
function Server:connections()
  return self.conns
end

return _M
