--- A hostile HTTP/1.1 server of the test suite's own, written at the socket level (it shares nothing
-- with bin/clinch-mock, which must stay a faithful API). It produces transport faults byte by byte and
-- logs exactly what it received, so that "at most once" is proven from the server's side.
--
--   local fs = require("fault_server").start()   -- a child process on a free loopback port
--   fs.url("close-reused", "t1")                  -- "http://127.0.0.1:PORT/f/close-reused/t1"
--   fs.received("t1")                             -- the log lines of /f/<any fault>/t1
--   fs.stop()
--
-- Run directly: `lua spec/fault_server.lua LOGFILE` prints "listening on PORT" and serves until killed.
--
-- Each request is logged, before the server acts on it, as one JSON line:
--   { conn = connection number, nreq = request number on that connection, method, path (the request
--     target), body (what was read of it), body_read = true when the whole declared body was read,
--     action = what the server then did }
-- Faults, chosen by the path /f/<fault>/<tag>[?params]:
--   ok             200 with a small JSON:API document, kept alive
--   close-reused   on a connection's first request like ok; on a later one: read it whole, close (FIN)
--   reset-reused   like close-reused, but a reset (RST) instead of a close
--   reset-body     read the whole request, then reset
--   reset-headers  read the request head only, then reset
--   status         ?code=N [&retry_after=S]: that status with a JSON:API error body, kept alive
--   stall-body     Content-Length 100, 10 bytes, then nothing until the client goes (at most 30 s)
--   trickle        ?n=N&every=S: Content-Length N, one byte every S seconds
--   trailers       a chunked 200 whose trailers say content-type, x-request-id and location
--   switch         101 Switching Protocols, then silence until the client goes
--   interim        100 Continue, 103 Early Hints, then ok
--   interim-close  100 Continue, then close
--   big-header     ?size=N: a 200 with an X-Big header of N bytes
--   two-cl         Content-Length: 5 and Content-Length: 7, then 7 bytes
--   alternate      the server's odd-numbered requests like ok, even-numbered ones like reset-body
--   errbody        a 500 with a JSON:API content type whose body is ERROR_BODIES[tag]
--   early          read the request head only, answer 401 (its head, then 0.3 s later its body; kept
--                  open), and read nothing more for 10 s: a server refusing an upload before reading it
local _M = {}

local LISTEN_BACKLOG = 128

--- Error response bodies of every JSON shape (and worse), served by /f/errbody/<name>.
_M.ERROR_BODIES = {
  numbers = '{"errors":[1,2]}', booleans = '{"errors":[true]}', string = '{"errors":"broken"}',
  object = '{"errors":{"title":"not a list"}}', empty = '{"errors":[]}', nulls = '{"errors":[null]}',
  mixed = '{"errors":[7,{"title":"Second"}]}', array = '[1,2]', top_string = '"oops"', top_null = 'null',
  number_title = '{"errors":[{"title":5,"detail":false}]}', invalid = '{"errors":[',
  empty_body = '',
  crlf = [[{"errors":[{"title":"Bad\r\nclinch: all good","detail":"line\nbreak\u001b[31m"}]}]],
  bidi = [[{"errors":[{"title":"invoice\u202Egpj.exe","detail":"a\u2066b\u2069c\u200Fd\u0085e"}]}]],
}

--- The log entries (decoded) of the requests whose path is /f/<fault>/<tag>.
local function read_log(path, tag)
  local cjson = require "cjson"
  local out = {}
  local f = io.open(path, "rb")
  if not f then return out end
  for line in f:lines() do
    local e = cjson.decode(line)
    if not tag or e.path:match("^/f/[^/]+/([^?]*)") == tag then out[#out + 1] = e end
  end
  f:close()
  return out
end

--- Starts the server as a child process with the suite's interpreter; returns a handle.
function _M.start()
  local support = require "support"
  local log = os.tmpname()
  local q = support.shell_quote
  local cmd = "exec sh -c " .. q("echo $$; exec env " .. (support.child_env or "") .. support.lua .. " "
    .. q(support.root .. "/spec/fault_server.lua") .. " " .. q(log))
  local p = assert(io.popen(cmd, "r"))
  local pid = p:read("*l")
  local line = p:read("*l")
  local port = line and line:match("^listening on (%d+)")
  if not port then error("fault server did not start: " .. tostring(line), 2) end
  local fs = { port = tonumber(port), origin = "http://127.0.0.1:" .. port, log = log }
  function fs.url(fault, tag, query)
    return fs.origin .. "/f/" .. fault .. "/" .. tag .. (query and ("?" .. query) or "")
  end
  function fs.path(fault, tag, query)
    return "/f/" .. fault .. "/" .. tag .. (query and ("?" .. query) or "")
  end
  function fs.received(tag) return read_log(log, tag) end
  function fs.stop()
    if pid then
      os.execute("kill " .. pid .. " 2>/dev/null")
      p:close()
      os.remove(log)
      pid = nil
    end
  end
  return fs
end

--- What a client call gave, as plain data (for the fault matrix, which runs the same cases through
-- libcurl in busted and through cosockets inside nginx, where the result crosses as JSON).
function _M.summarize(res, err, elapsed)
  if res then
    local data = type(res.document) == "table" and res.document.data
    local attrs = type(data) == "table" and { conn = data.conn, nreq = data.nreq, method = data.method } or nil
    return { ok = true, status = res.status, attempts = res.attempts, elapsed = elapsed, attrs = attrs,
             headers = { ["content-type"] = res.headers["content-type"],
                         ["x-request-id"] = res.headers["x-request-id"], location = res.headers.location },
             body = res.body }
  end
  return { ok = false, kind = err.kind, sent = err.sent, attempts = err.attempts, status = err.status,
           message = err.message, elapsed = elapsed, text = tostring(err) }
end

-- ---- the server (run as a script) ----

local function serve(logpath)
  local socket = require "socket"
  local cjson = require "cjson"
  local gettime, select = socket.gettime, socket.select
  local logf = assert(io.open(logpath, "ab"))
  local listener = assert(socket.bind("127.0.0.1", 0, LISTEN_BACKLOG))
  listener:settimeout(0)
  local _, port = listener:getsockname()
  io.stdout:write("listening on ", port, "\n")
  io.stdout:flush()

  local waiting = {}   -- coroutine -> { sock =, mode = "r"|"w"|nil, wake = time|nil }
  local conns, served = 0, 0

  local function wait(sock, mode, wake)
    coroutine.yield { sock = sock, mode = mode, wake = wake }
  end
  local function sleep(s) wait(nil, nil, gettime() + s) end

  -- Buffered reading from a non-blocking socket; nil at the peer's close.
  local Conn = {}
  Conn.__index = Conn
  function Conn:fill()
    local data, err, partial = self.sock:receive(65536)
    data = data or partial
    if data and data ~= "" then
      self.buf = self.buf .. data
      return true
    end
    if err == "closed" then return false end
    wait(self.sock, "r")
    return true
  end
  function Conn:line()
    while true do
      local i = self.buf:find("\n", 1, true)
      if i then
        local l = self.buf:sub(1, i - 1):gsub("\r$", "")
        self.buf = self.buf:sub(i + 1)
        return l
      end
      if #self.buf > 1024 * 1024 or not self:fill() then return nil end
    end
  end
  function Conn:take(n)
    while #self.buf < n do
      if not self:fill() then
        local got = self.buf
        self.buf = ""
        return got, false
      end
    end
    local got = self.buf:sub(1, n)
    self.buf = self.buf:sub(n + 1)
    return got, true
  end
  function Conn:send(data)
    local i = 1
    while i <= #data do
      local last, err, partial = self.sock:send(data, i)
      local upto = last or partial or (i - 1)
      i = upto + 1
      if not last then
        if err ~= "timeout" then return false end
        wait(self.sock, "w")
      end
    end
    return true
  end
  function Conn:close(reset)
    if self.closed then return end
    self.closed = true
    if reset then self.sock:setoption("linger", { on = true, timeout = 0 }) end
    self.sock:close()
  end
  -- Waits until the client closes (or sends anything), at most `limit` seconds.
  function Conn:until_gone(limit)
    local deadline = gettime() + limit
    while gettime() < deadline do
      local data, err, partial = self.sock:receive(65536)
      if err == "closed" then return end
      if not (data or (partial and partial ~= "")) then wait(self.sock, "r", deadline) end
    end
  end

  local function respond(c, status, reason, headers, body)
    local out = { "HTTP/1.1 " .. status .. " " .. reason .. "\r\n" }
    for _, h in ipairs(headers) do out[#out + 1] = h[1] .. ": " .. h[2] .. "\r\n" end
    if body then out[#out + 1] = "Content-Length: " .. #body .. "\r\n" end
    out[#out + 1] = "\r\n"
    out[#out + 1] = body or ""
    return c:send(table.concat(out))
  end

  local function ok_body(c, method)
    return cjson.encode { data = { type = "probe", id = tostring(c.nreq),
      attributes = { conn = c.id, nreq = c.nreq, method = method } } }
  end
  local function ok(c, method)
    return respond(c, 200, "OK", { { "Content-Type", "application/vnd.api+json" } }, ok_body(c, method))
  end

  local function params(query)
    local t = {}
    for k, v in (query or ""):gmatch("([^&=]+)=([^&]*)") do t[k] = v end
    return t
  end

  local function log(entry)
    logf:write(cjson.encode(entry), "\n")
    logf:flush()
  end

  local function handle(c)
    while true do
      local line = c:line()
      if not line then break end
      if line ~= "" then
        local method, target = line:match("^(%u+) (%S+) HTTP/1%.%d$")
        if not method then c:close() return end
        local headers = {}
        while true do
          local h = c:line()
          if not h then c:close() return end
          if h == "" then break end
          local name, value = h:match("^([^:]+):%s*(.-)%s*$")
          if name then headers[name:lower()] = value end
        end
        c.nreq = c.nreq + 1
        served = served + 1
        local path, query = target:match("^([^?]*)%??(.*)$")
        local fault = path:match("^/f/([%w%-]+)") or "ok"
        local p = params(query)
        if fault == "alternate" then fault = served % 2 == 0 and "reset-body" or "ok" end
        if (fault == "close-reused" or fault == "reset-reused") and c.nreq == 1 then fault = "ok" end
        local len = tonumber(headers["content-length"] or "0") or 0
        local body, complete = "", len == 0
        if fault ~= "reset-headers" and fault ~= "early" and len > 0 then body, complete = c:take(len) end
        local entry = { conn = c.id, nreq = c.nreq, method = method, path = target, body = body,
                        body_read = complete, action = fault }
        log(entry)

        if fault == "ok" then
          if not ok(c, method) then break end
        elseif fault == "close-reused" or fault == "interim-close" then
          if fault == "interim-close" then c:send("HTTP/1.1 100 Continue\r\n\r\n") end
          c:close()
          return
        elseif fault == "reset-reused" or fault == "reset-body" or fault == "reset-headers" then
          c:close(true)
          return
        elseif fault == "status" then
          local code = tonumber(p.code) or 503
          local hs = { { "Content-Type", "application/vnd.api+json" }, { "X-Request-Id", "req-" .. served } }
          if p.retry_after then hs[#hs + 1] = { "Retry-After", p.retry_after } end
          local b = code >= 200 and code ~= 204 and code ~= 304 and cjson.encode {
            errors = { { status = tostring(code), title = "Fault " .. code } } } or nil
          if not respond(c, code, "Fault", hs, b or (code >= 200 and "" or nil)) then break end
        elseif fault == "stall-body" then
          c:send("HTTP/1.1 200 OK\r\nContent-Type: application/vnd.api+json\r\nContent-Length: 100\r\n\r\n"
            .. ("x"):rep(10))
          c:until_gone(30)
          c:close()
          return
        elseif fault == "trickle" then
          local n, every = tonumber(p.n) or 40, tonumber(p.every) or 0.1
          if not c:send("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " .. n .. "\r\n\r\n") then
            break
          end
          local gone = false
          for _ = 1, n do
            sleep(every)
            if not c:send("x") then gone = true break end
          end
          if gone then break end
        elseif fault == "trailers" then
          local b = ok_body(c, method)
          if not c:send("HTTP/1.1 200 OK\r\nContent-Type: application/vnd.api+json\r\nX-Request-Id: real-id\r\n"
            .. "Transfer-Encoding: chunked\r\nTrailer: Content-Type, X-Request-Id, Location\r\n\r\n"
            .. string.format("%x", #b) .. "\r\n" .. b .. "\r\n0\r\n"
            .. "Content-Type: text/html\r\nX-Request-Id: injected\r\nLocation: http://evil.invalid/\r\n\r\n") then
            break
          end
        elseif fault == "switch" then
          c:send("HTTP/1.1 101 Switching Protocols\r\nUpgrade: evil\r\nConnection: Upgrade\r\n\r\n")
          c:until_gone(30)
          c:close()
          return
        elseif fault == "interim" then
          if not c:send("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n")
            or not ok(c, method) then
            break
          end
        elseif fault == "big-header" then
          local size = tonumber(p.size) or 110000
          if not respond(c, 200, "OK", { { "Content-Type", "application/vnd.api+json" }, { "X-Big", ("b"):rep(size) } },
            ok_body(c, method)) then
            break
          end
        elseif fault == "errbody" then
          local b = _M.ERROR_BODIES[path:match("^/f/errbody/([^/]+)")] or "{}"
          if not respond(c, 500, "Internal Server Error", { { "Content-Type", "application/vnd.api+json" } }, b) then
            break
          end
        elseif fault == "early" then
          -- the head, then the body a moment later: the client must go on reading after the head
          local b = cjson.encode { errors = { { status = "401", title = "Unauthorized", detail = "early answer" } } }
          c:send("HTTP/1.1 401 Unauthorized\r\nContent-Type: application/vnd.api+json\r\nContent-Length: " .. #b
            .. "\r\n\r\n")
          sleep(0.3)
          c:send(b)
          sleep(10)
          c:close(true)
          return
        elseif fault == "two-cl" then
          if not c:send("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
            .. "Content-Length: 7\r\n\r\nhello!!") then
            break
          end
        else
          respond(c, 404, "Not Found", {}, "no such fault\n")
        end
      end
    end
    c:close()
  end

  while true do
    local recvt, sendt, timeout = { listener }, {}, nil
    local now = gettime()
    for _, w in pairs(waiting) do
      if w.mode == "r" then recvt[#recvt + 1] = w.sock elseif w.mode == "w" then sendt[#sendt + 1] = w.sock end
      if w.wake then
        local left = math.max(0, w.wake - now)
        timeout = timeout and math.min(timeout, left) or left
      end
    end
    local readable, writable = select(recvt, sendt, timeout)
    local ready = {}
    for _, s in ipairs(readable) do ready[s] = true end
    for _, s in ipairs(writable) do ready[s] = true end
    if ready[listener] then
      while true do
        local s = listener:accept()
        if not s then break end
        s:settimeout(0)
        s:setoption("tcp-nodelay", true)
        conns = conns + 1
        local c = setmetatable({ sock = s, id = conns, nreq = 0, buf = "" }, Conn)
        waiting[coroutine.create(handle)] = { start = c }
      end
    end
    now = gettime()
    local run = {}
    for co, w in pairs(waiting) do
      if w.start or (w.sock and ready[w.sock]) or (w.wake and now >= w.wake) then run[#run + 1] = co end
    end
    for _, co in ipairs(run) do
      local w = waiting[co]
      waiting[co] = nil
      local okr, nextw = coroutine.resume(co, w.start)
      if not okr then
        io.stderr:write("fault server: ", tostring(nextw), "\n")
      elseif coroutine.status(co) ~= "dead" then
        waiting[co] = nextw
      end
    end
  end
end

if arg and arg[0] and arg[0]:match("fault_server%.lua$") and arg[1] then
  serve(arg[1])
end

return _M
