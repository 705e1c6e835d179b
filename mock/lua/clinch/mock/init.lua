--- clinch.mock: a stand-in for the Recruitment Marketing API for tests, in the manner of stripe-mock.
--
--   local mock = require("clinch.mock").new{ port = 0, key = "test-key", secret = "test-secret" }
--   assert(mock:start())            -- mock.base_url is "http://127.0.0.1:PORT/v1"
--   mock:run()                      -- or call mock:step(seconds) from your own loop
--
-- It serves the seed contract's eight operations, and the jobs and lists its tags name (GET /jobs,
-- /jobs/ID, /lists, /lists/ID), over HTTP/1.1 from a deterministic in-memory store,
-- checks every request's APIAuth signature with clinch.core, and offers an unsigned control API under
-- /__mock/ for faults, the request log, connection statistics and the store's own record of every
-- candidate's updated_at, against which a test proves what a client exported (see clinch.mock.control).
-- It can play the adversary of a client that pages through a window of updated_at: a "churn" fault
-- updates K candidates after every answer (seeded random ones, or the first the request matched), and
-- "pagination" faults answer as a broken server would (link cycles, ignored page numbers, no totals,
-- no links, an unstable order); see clinch.mock.faults.
local server = require "clinch.mock.server"
local store = require "clinch.mock.store"
local faults = require "clinch.mock.faults"
local api = require "clinch.mock.api"
local control = require "clinch.mock.control"
local random = require "clinch.mock.random"
local http = require "clinch.mock.http"

local setmetatable, ipairs, pairs, require, error, type = setmetatable, ipairs, pairs, require, error, type
local sub, format = string.sub, string.format
local remove, insert = table.remove, table.insert
local gettime = require("socket").gettime

local _M = { _VERSION = require("clinch.defaults").VERSION } -- the mock ships with the library it mocks
local Mock = {}
Mock.__index = Mock

local JOURNAL_LIMIT = 1000
local REDACTED = { authorization = true, ["proxy-authorization"] = true }

--- Creates a mock. opts: host ("127.0.0.1"), port (0 = any free port), key ("test-key"),
-- secret ("test-secret"), seed (1), candidates (200), latency (ms added to every /v1 response, 0),
-- anchor (epoch the seeded times lead up to), log (function(message)), core (defaults to clinch.core).
function _M.new(opts)
  opts = opts or {}
  local port = opts.port or 0
  -- LuaSocket would bind 99999 as 34463 (it keeps the low 16 bits): refuse what is no port.
  if type(port) ~= "number" or port % 1 ~= 0 or port < 0 or port > 65535 then
    error("clinch.mock.new: port must be a whole number from 0 (any free port) to 65535", 2)
  end
  local core = opts.core or require "clinch.core"
  if not core.verify or not core.base64_decode then
    error("clinch.core lacks verify or base64_decode: build the C core (make)", 2)
  end
  local self = setmetatable({
    host = opts.host or "127.0.0.1", key = opts.key or "test-key", latency = opts.latency or 0,
    log = opts.log or function() end, journal = {}, counts = { connections = 0, requests = 0 },
    in_flight = 0, ids = random.new((opts.seed or 1) * 7919 + 17),
  }, Mock)
  self.store = store.new({ seed = opts.seed or 1, candidates = opts.candidates or 200, anchor = opts.anchor })
  self.faults = faults.new()
  self.api = api.new({ store = self.store, core = core, key = self.key, secret = opts.secret or "test-secret" })
  self.server = server.new({
    host = self.host, port = opts.port or 0, log = self.log,
    handler = function(req, conn) return self:handle(req, conn) end,
    request_id = function() return self.ids:hex_id() end,
    on_error = function()
      local res = api.fail(500, "the mock failed to handle this request")
      res.headers[#res.headers + 1] = { "X-Request-Id", self.ids:hex_id() }
      return res
    end,
  })
  return self
end

--- Starts listening. Returns true, or nil and an error message. Sets self.port and self.base_url.
function Mock:start()
  local ok, err = self.server:listen()
  if not ok then return nil, err end
  self.port = self.server.port
  local host = self.host:find(":", 1, true) and "[" .. self.host .. "]" or self.host
  self.origin = format("http://%s:%d", host, self.port)
  self.base_url = self.origin .. api.PREFIX
  return true
end

--- Serves until stop() (errors such as Lua's "interrupted!" propagate).
function Mock:run() self.server:run() end
--- One turn of the event loop.
function Mock:step(max_wait) self.server:step(max_wait) end
--- Makes run() return.
function Mock:stop() self.server:stop() end
--- Closes the listening socket and every connection.
function Mock:close() self.server:close() end

--- {connections = API connections accepted, open = those still open, requests = API requests}. Traffic
-- to the control API is not counted, so a test's own control calls never change the numbers.
function Mock:stats()
  local open = 0
  for _, conn in ipairs(self.server:connections()) do
    if conn.counted then open = open + 1 end
  end
  return { connections = self.counts.connections, open = open, requests = self.counts.requests }
end

--- Re-seeds the store and clears faults, the request log and the statistics.
function Mock:reset()
  self.store:reseed()
  self.faults:clear()
  self.journal = {}
  self.counts = { connections = 0, requests = 0 }
  for _, conn in ipairs(self.server:connections()) do conn.counted = nil end
end

--- Updates `count` candidates now (updated_at = the clock), picked by `rng` from `pool` (default every
-- candidate), or sets their updated_at to `at`. Returns the list of those updated.
function Mock:touch(count, rng, pool, at)
  local picked = rng:sample(pool or self.store.candidates, count)
  for _, c in ipairs(picked) do
    if at then c.updated = at else self.store:touch(c) end
  end
  return picked
end

-- A churn fault's work, after the answer to `req` was made (see clinch.mock.faults).
function Mock:churn(fault, req)
  local pool
  if fault.among ~= "all" then pool = self.api:matching(req) end
  local picked
  if fault.among == "first" then
    picked = {}
    for i = 1, fault.touch do
      local c = pool and pool[i]
      if not c then break end
      self.store:touch(c)
      picked[i] = c
    end
  else
    picked = self:touch(fault.touch, self.faults:rng(fault), pool)
  end
  fault.touched = fault.touched + #picked
end

local function request_id(self, req)
  local given = req.headers["x-request-id"]
  if given and #given <= 200 and given:match("^[%w%-_.:]+$") then return given end
  return self.ids:hex_id()
end

local function base_url(self, req)
  local host = req.headers["host"]
  if not host or not host:match("^[%w%.%-:%[%]]+$") then return self.base_url end
  return "http://" .. host .. api.PREFIX
end

local HTML = '<!DOCTYPE html>\n<html>\n<head><title>%d %s</title></head>\n<body>\n<center><h1>%d %s</h1></center>\n'
  .. '<hr><center>nginx</center>\n</body>\n</html>\n'

local function fault_response(fault)
  local status = fault.status
  if fault.kind == "redirect" then
    return { status = status, headers = { { "Location", fault.location }, { "Content-Type", "text/plain" } },
      body = "" }
  end
  local res
  if fault.html then
    local reason = http.reason(status)
    res = { status = status, headers = { { "Content-Type", "text/html" } },
      body = format(HTML, status, reason, status, reason) }
  else
    res = api.fail(status, "fault injected by clinch-mock")
  end
  if fault.retry_after then res.headers[#res.headers + 1] = { "Retry-After", fault.retry_after } end
  return res
end

local function record(self, req, conn, res, fault, in_flight)
  local headers = {}
  for name, value in pairs(req.headers) do
    headers[name] = REDACTED[name] and "[redacted]" or value
  end
  -- Kept in the order the requests arrived: a large body may finish after a later small request.
  local journal, seq = self.journal, req.seq or 0
  local i = #journal + 1
  while i > 1 and (journal[i - 1].seq or 0) > seq do i = i - 1 end
  insert(journal, i, { method = req.method, uri = req.target, headers = headers, body = req.body,
    status = res.status, connection = conn.id, fault = fault and fault.kind or nil, seq = seq,
    at = gettime(), in_flight = in_flight })
  if #journal > JOURNAL_LIMIT then remove(journal, 1) end
end

--- Answers one parsed request (called by the server).
function Mock:handle(req, conn)
  local rid = request_id(self, req)
  local res
  if sub(req.path, 1, 8) == "/__mock/" then
    res = control.handle(self, req)
  else
    if not conn.counted then
      conn.counted = true
      self.counts.connections = self.counts.connections + 1
    end
    self.counts.requests = self.counts.requests + 1
    local path = req.path
    if path == api.PREFIX or sub(path, 1, #api.PREFIX + 1) == api.PREFIX .. "/" then
      local arrived_in_flight = self.in_flight
      local latency, fault, churn, pagination, overload = self.faults:take(req.method, path, self.in_flight,
        req.query)
      if overload then
        res = api.fail(429, "too many requests in flight (clinch-mock overload fault)")
        res.headers[#res.headers + 1] = { "Retry-After", overload.retry_after }
        record(self, req, conn, res, overload, arrived_in_flight)
        self.log(format("%s %s -> 429 (overload)", req.method, req.target))
        res.headers[#res.headers + 1] = { "X-Request-Id", rid }
        return res
      end
      if fault and (fault.kind == "status" or fault.kind == "redirect") then
        res = fault_response(fault)
      else
        res = self.api:handle(req, base_url(self, req), pagination and pagination.mode)
        if fault then
          res.mode, res.trickle_ms, res.trickle_bytes = fault.kind, fault.ms, fault.bytes
        end
      end
      if churn then self:churn(churn, req) end
      local ms = self.latency + (latency and latency.ms or 0)
      if ms > 0 then res.delay = ms / 1000 end
      -- in flight until its answer goes out (the server calls on_deliver then)
      self.in_flight = self.in_flight + 1
      res.on_deliver = function() self.in_flight = self.in_flight - 1 end
      record(self, req, conn, res, fault or latency, arrived_in_flight)
    else
      res = api.fail(404, "no route for " .. path)
      record(self, req, conn, res)
    end
    self.log(format("%s %s -> %d", req.method, req.target, res.status))
  end
  res.headers[#res.headers + 1] = { "X-Request-Id", rid }
  return res
end

return _M
