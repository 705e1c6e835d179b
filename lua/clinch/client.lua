--- The client: configuration, request signing, the retry loop, and mapping of responses to results
-- or structured errors. One client owns one transport (and so its kept-alive connections).
-- @module clinch.client
local core = require "clinch.core"
local errors = require "clinch.errors"
local jsonapi = require "clinch.jsonapi"
local defaults = require "clinch.defaults"
local limiter = require "clinch.limiter"
local parallel = require "clinch.parallel"
local retry = require "clinch.retry"
local uri = require "clinch.uri"
local validate = require "clinch.validate"
local transports = require "clinch.transport"
local new_tab = require("clinch.tables").new

local type, pairs, ipairs, next, tostring, setmetatable, getmetatable, rawget, require =
  type, pairs, ipairs, next, tostring, setmetatable, getmetatable, rawget, require
local math, table, io = math, table, io
local unpack = table.unpack or rawget(_G, "unpack")

local _M = {}

-- Region hosts: the contract's server (us), and those its description names for the other regions.
_M.REGIONS = {
  us = require("clinch.contract").servers[1],
  eu = "https://api.rec-marketing.dc3.pageuppeople.com/v1",
  au = "https://api.rec-marketing.dc2.pageuppeople.com/v1",
}
_M.JSONAPI = "application/vnd.api+json"

-- Secrets live here, not on the client table, so printing or dumping a client never shows them.
local secrets = setmetatable({}, { __mode = "k" })

local Client = {}
_M.Client = Client

-- clinch.registry requires the resources, which require this module: looked up on first use.
local registry_module
local function registry()
  registry_module = registry_module or require("clinch.registry")
  return registry_module
end

-- Raises at the user's line (clinch.check finds it): programming mistakes only.
local check = require("clinch.check").arg
local raise = require("clinch.check").raise

-- Splits a checked base URL into origin ("https://host:port") and path prefix ("/v1"). User info is
-- refused by the checks: the API authenticates by signature (the Authorization header is ours), and a
-- password in the URL would show in tostring(client) and break the origin check on pagination links.
local function split_base(url)
  local origin, path = url:match("^(https?://[^/?#]+)(/?[^?#]*)$")
  return origin, (path:gsub("/+$", ""))
end

--- Creates a client from its options alone (`clinch.new` is the same with the environment and profiles
-- filling in what is missing). See README "Configuration" for every option.
-- @tparam ClientOptions opts the options (README "Configuration"): `key` and `secret` (required), `region`
--   ("us", "eu", "au") or `base_url`, `timeout`, `retries`, `max_concurrency`, `logger`, `transport`, ...
-- @treturn Client the client, its registered collections as fields (client.candidates, client.jobs, ...)
-- @raise a message at the caller's line for a mistake in the options: no key or secret, an option of the
--   wrong type, an unknown region or signing variant, a base URL with user info or a query
function _M.new(opts)
  -- The checks live in clinch.validate, where the CLI uses them too (in their nil, message form).
  local base_url, why = validate.client_options(opts)
  check(base_url, why)
  local signing = opts.signing or {}
  local origin, base_path = split_base(base_url)

  local ngx = rawget(_G, "ngx")
  local self = setmetatable({
    key = opts.key,
    base_url = origin .. base_path,
    origin = origin,
    base_path = base_path,
    signing = { digest = signing.digest, content_hash = signing.content_hash,
                with_method = signing.with_method, date_header = signing.date_header },
    retries = opts.retries or defaults.RETRIES,
    retry_unsafe = opts.retry_unsafe or false,
    max_retry_wait = opts.max_retry_wait or defaults.MAX_RETRY_WAIT,
    backoff_base = opts.backoff_base or defaults.BACKOFF_BASE,
    backoff_cap = opts.backoff_cap or defaults.BACKOFF_CAP,
    timeout = opts.timeout or defaults.TIMEOUT,
    connect_timeout = opts.connect_timeout or defaults.CONNECT_TIMEOUT,
    sleep = opts.sleep or (type(ngx) == "table" and ngx.sleep) or core.sleep,
    random = opts.random or defaults.random_source(),
    logger = opts.logger,
  }, Client)
  secrets[self] = opts.secret
  -- Inside nginx, the handlers of a worker (and with shared_limit, every worker) share the budget.
  self._shares_budget = type(ngx) == "table" and type(ngx.get_phase) == "function"
  local budget = { max = opts.max_concurrency or defaults.CONCURRENCY, max_rate = opts.max_rate,
                   name = origin .. base_path .. "|" .. opts.key }
  if opts.shared_limit ~= nil then
    local lim, lerr = limiter.shared(opts.shared_limit, budget)
    check(lim, "clinch.new: shared_limit: " .. tostring(lerr) .. " (declare it with lua_shared_dict)")
    self._limiter = lim
  else
    self._limiter = limiter.new(budget)
  end

  if opts.verify_tls == false then
    self:_log { event = "warning", message = "TLS certificate verification is disabled for " .. base_url }
  end
  local transport_opts = {
    timeout = self.timeout, connect_timeout = self.connect_timeout, proxy = opts.proxy,
    ca_file = opts.ca_file, ca_path = opts.ca_path, verify_tls = opts.verify_tls,
    user_agent = opts.user_agent, max_response_bytes = opts.max_response_bytes,
    max_concurrency = opts.max_concurrency, write_reuse_idle = opts.write_reuse_idle,
  }
  if opts.transport ~= nil then
    self.transport = transports.wrap(opts.transport)
  else
    self.transport = transports.default(transport_opts)
  end
  -- The libcurl transport's send_many answers are tables made for the call (see outcome).
  self._builtin = self.transport.builtin == true
  self._fresh_answers = self._builtin and self.transport.impl.fresh_answers == true
  -- A built-in transport's own send, without the wrapper's call in between (the wrapper's send is that
  -- call and nothing else for them).
  self._sender = self._builtin and self.transport.impl or self.transport
  registry().attach(self)
  return self
end

-- Methods come from Client; the registered collections (clinch.registry) are fields, attached by new.
Client.__index = Client

Client.__tostring = function(self)
  return "clinch.client " .. self.base_url .. " (key " .. self.key .. ")"
end

--- Sends an event to the configured logger, or warnings to stderr when there is none.
-- @local
function Client:_log(event)
  local logger = self.logger
  if logger then
    logger(event)
  elseif event.event == "warning" then
    io.stderr:write("clinch: warning: ", event.message, "\n")
  end
end

-- What prepare uses when the caller gives no options or headers: shared, never written to (the
-- prepared request is the client's own, and sign copies the headers into a table of its own).
local NO_OPTIONS, DEFAULT_HEADERS = {}, { Accept = _M.JSONAPI }

-- Method -> path -> true for the request targets validate.request_target has passed (without a
-- query table): a script asks for the same few paths over and over, and the check is the same
-- every time. At most 256 kept, so that a caller sending ever new paths does not grow it.
local checked_targets, checked_count = {}, 0
local function target_checked(method, path)
  local paths = checked_targets[method]
  return paths ~= nil and paths[path] == true
end
local function remember_target(method, path)
  if checked_count >= 256 then checked_targets, checked_count = {}, 0 end
  local paths = checked_targets[method]
  if not paths then
    paths = {}
    checked_targets[method] = paths
  end
  paths[path], checked_count = true, checked_count + 1
end

-- The request URI (base path + target) and the URL of a target. Those of targets without a query
-- (`cache`) are kept, at most 256 per client: a script asks for the same few again and again, and
-- this saves two new strings per request.
function Client:_urls_of(target, cache)
  local urls = self._urls
  if cache and urls and urls.base_path == self.base_path and urls.origin == self.origin then
    local request_uri = urls.uri[target]
    if request_uri then return request_uri, urls.url[target] end
  end
  local request_uri = self.base_path .. target
  local url = self.origin .. request_uri
  if cache then
    if not urls or urls.n >= 256 or urls.base_path ~= self.base_path or urls.origin ~= self.origin then
      urls = { base_path = self.base_path, origin = self.origin, uri = {}, url = {}, n = 0 }
      self._urls = urls
    end
    urls.uri[target], urls.url[target], urls.n = request_uri, url, urls.n + 1
  end
  return request_uri, url
end

--- Builds everything about a request that does not change between attempts.
-- @local
local function prepare(self, method, path, opts)
  if opts == nil then
    opts = NO_OPTIONS
  else
    check(type(opts) == "table", "request: options must be a table")
  end
  if opts.query ~= nil or not target_checked(method, path) then
    check(validate.request_target(method, path, opts.query ~= nil))
    if opts.query == nil then remember_target(method, path) end
  end
  local target = path
  if opts.query ~= nil then
    check(type(opts.query) == "table", "request: query must be a table")
    target = uri.build(path, opts.query) -- a value with no query form raises at the user's line
  end

  local body, content_type = opts.body, nil
  if body ~= nil then
    local kind = type(body)
    if kind == "table" then
      local encoded, err = jsonapi.encode(body)
      if not encoded then return nil, err end
      body, content_type = encoded, _M.JSONAPI
    elseif kind == "string" then
      content_type = _M.JSONAPI
    else
      raise("request: body must be a table (sent as JSON) or a string")
    end
  end

  local headers = DEFAULT_HEADERS
  if opts.headers ~= nil then
    headers = { Accept = _M.JSONAPI }
    if type(opts.headers) ~= "table" then raise("request: headers must be a table") end
    for name, value in pairs(opts.headers) do
      if type(name) ~= "string" or type(value) ~= "string" then
        raise("request: header names and values must be strings")
      end
      -- Checked here, so the mistake points at the caller (not at the signer or the transport) and no
      -- transport ever gets a header that could split the request. The value is never quoted.
      if not defaults.is_token(name) then
        raise("request: invalid header name '" .. name:gsub("[%c\128-\255]", "?") .. "'")
      end
      if not defaults.is_header_value(value) then
        raise("request: the value of header " .. name .. " holds CR, LF, NUL or another control character")
      end
      local lname = name:lower()
      if lname == "authorization" or lname == "date" or lname == "x-hmac-date" then
        raise("request: the " .. name .. " header is set by the signer")
      elseif lname == "content-type" then
        content_type = value
      elseif lname == "accept" then
        headers.Accept = value
      else
        headers[name] = value
      end
    end
  end
  if opts.timeout ~= nil and (type(opts.timeout) ~= "number" or opts.timeout <= 0) then
    raise("request: timeout must be a positive number of seconds")
  end
  if opts.retries ~= nil and type(opts.retries) ~= "number" then raise("request: retries must be a number") end

  local request_uri, url = self:_urls_of(target, opts.query == nil)
  -- Shaped as a transport request too (method, url, body, timeout; `headers` is the signed set, which
  -- sign puts in for a built-in transport): `extra` holds the caller's headers. The fields a request
  -- may lack are added only when present: a constructor naming them sizes the table for all nine
  -- (16 slots on LuaJIT) whatever they hold, and a GET has six.
  local p = {
    method = method, request_uri = request_uri, url = url, extra = headers, headers = false,
    retries = opts.retries or self.retries,
  }
  if body ~= nil then p.body = body end
  if content_type ~= nil then p.content_type = content_type end
  if opts.timeout ~= nil then p.timeout = opts.timeout end
  return p
end

--- Signs a prepared request afresh (new date) and returns the transport request: for a built-in
-- transport the prepared request itself, its `headers` replaced (those read a request before `send`
-- or `start` returns, and keep nothing of it); a table of its own for a plugged-in transport, which
-- may keep what it is given, or when `own` (signed_request's caller gets it).
-- @local
local function sign(self, p, own)
  -- core.sign with the fields as arguments: no table to fill and read back, every attempt (nil: the
  -- date is now)
  local s = self.signing
  local headers = core.sign_fields(p.method, p.request_uri, self.key, secrets[self], p.content_type, p.body, nil,
    s.digest, s.content_hash, s.with_method, s.date_header)
  local extra = p.extra
  if extra == DEFAULT_HEADERS then -- its one header, without a loop
    if headers.Accept == nil then headers.Accept = DEFAULT_HEADERS.Accept end
  else
    for name, value in pairs(extra) do
      if headers[name] == nil then headers[name] = value end
    end
  end
  if own or not self._builtin then
    return { method = p.method, url = p.url, headers = headers, body = p.body, timeout = p.timeout }
  end
  p.headers = headers
  return p
end

-- Whether a Content-Type names JSON. The few an API sends are looked at once (at most 32 kept: a
-- server sending a new one every time must not grow it).
local json_types, json_count = {}, 0
local function is_json(content_type)
  local v = json_types[content_type] -- (a nil or NaN key reads as nil)
  if v ~= nil then return v end
  if type(content_type) ~= "string" then return false end
  v = content_type:lower():find("json", 1, true) ~= nil
  if json_count >= 32 then json_types, json_count = {}, 0 end
  json_types[content_type], json_count = v, json_count + 1
  return v
end

-- A readable one-line summary of an error body that is not JSON:API (an HTML error page, text).
local function body_summary(res)
  local body = res.body or ""
  local title = body:match("<[Tt][Ii][Tt][Ll][Ee]>%s*(.-)%s*</[Tt][Ii][Tt][Ll][Ee]>")
    or body:match("<[Hh]1>%s*(.-)%s*</[Hh]1>")
  local ctype = res.headers["content-type"] or "no content type"
  if title then return title .. " (" .. ctype .. " response)" end
  local text = body:gsub("%s+", " "):sub(1, 120)
  if text == "" or text == " " then return "empty " .. ctype .. " response" end
  return text .. " (" .. ctype .. " response)"
end

local STATUS_KIND = { [400] = "validation", [401] = "auth", [403] = "auth", [404] = "not_found", [422] = "validation" }

-- The message of a JSON:API error list: the first error object's title and detail. The list comes
-- from the server as it is, so any entry may be something else than an object.
local function errors_message(list)
  for i = 1, #list do
    local first = list[i]
    if type(first) == "table" then
      local title, detail = first.title, first.detail
      title = type(title) == "string" and title ~= "" and title or nil
      detail = type(detail) == "string" and detail ~= "" and detail or nil
      if title and detail and detail ~= title then return title .. ": " .. detail end
      if detail or title then return detail or title end
    end
  end
  return nil
end

--- Turns an HTTP error response into an error object, reading a JSON:API error list when there is one.
local function http_error(p, res, attempt)
  local doc = is_json(res.headers["content-type"]) and jsonapi.decode(res.body or "")
  local list = doc and type(doc.errors) == "table" and doc.errors or nil
  return errors.new {
    kind = STATUS_KIND[res.status] or "http", status = res.status, method = p.method, url = p.url,
    request = { method = p.method, uri = p.request_uri }, attempts = attempt, sent = true,
    request_id = res.headers["x-request-id"], errors = list,
    message = list and errors_message(list) or body_summary(res),
  }
end

--- Classifies one attempt: returns the final response, or nil, err, retryable, retry_after_seconds.
-- @local
local function outcome(self, p, res, terr, attempt, fresh)
  if not res then
    local e = errors.new {
      kind = terr.kind, message = terr.message, method = p.method, url = p.url, attempts = attempt,
      request = { method = p.method, uri = p.request_uri }, curl_code = terr.curl_code, sent = terr.sent ~= false,
      status = terr.status,
    }
    -- A kept-alive connection that died before any response came is retried at once (when the
    -- method allows it at all): waiting would not help, the next attempt uses a new connection.
    return nil, e, retry.retryable(p.method, terr, self.retry_unsafe), terr.reused and 0 or nil
  end
  -- The caller's response is a table of its own: the transport's answer may be kept by its pending
  -- (a C pending caches it for its finalizer's cycle), and must not keep the decoded document alive.
  -- `fresh`: the transport made it for this call and keeps nothing of it (the libcurl transport's
  -- send_many), so it is the caller's already.
  if not fresh then
    local copy = {}
    for k, v in next, res do copy[k] = v end
    res = copy
  end
  local status = res.status
  res.headers = res.headers or {}
  -- The built-in transports refuse these themselves; a plugged-in one may not.
  if type(status) ~= "number" or status < 200 or status > 599 then
    return nil, errors.new {
      kind = "protocol", status = status, method = p.method, url = p.url, attempts = attempt, sent = true,
      request = { method = p.method, uri = p.request_uri }, request_id = res.headers and res.headers["x-request-id"],
      message = "the server answered with HTTP status " .. tostring(status) .. ", outside 200-599",
    }
  end
  if status >= 300 and status < 400 then
    local location = res.headers.location
    return nil, errors.new {
      kind = "redirect", status = status, method = p.method, url = p.url, attempts = attempt, sent = true,
      request = { method = p.method, uri = p.request_uri }, location = location,
      request_id = res.headers["x-request-id"],
      message = "redirect to " .. tostring(location) .. " not followed (signed requests are never replayed elsewhere)",
    }
  end
  if status >= 400 then
    return nil, http_error(p, res, attempt), retry.retryable(p.method, status, self.retry_unsafe),
      retry.retry_after(res.headers["retry-after"])
  end
  if res.body and res.body ~= "" and is_json(res.headers["content-type"]) then
    local doc, err = jsonapi.decode(res.body)
    if not doc then
      err.method, err.url, err.status, err.attempts, err.sent = p.method, p.url, status, attempt, true
      err.request = { method = p.method, uri = p.request_uri }
      err.request_id = res.headers["x-request-id"]
      return nil, err
    end
    res.document = registry().wrap(doc, self) -- resources become objects of their class
  end
  res.request = { method = p.method, uri = p.request_uri }
  res.attempts = attempt
  return res
end

function Client:_delay(attempt, retry_after)
  if retry_after then return math.min(retry_after, self.max_retry_wait) end
  return retry.backoff(attempt, self.backoff_base, self.backoff_cap, self.random)
end

-- Logs one attempt (method, URI, status, response headers, duration, attempt) when a logger is
-- configured.
local function log_attempt(self, p, res, err, attempt, started)
  if not self.logger then return end
  self.logger {
    event = "request", method = p.method, uri = p.request_uri, attempt = attempt,
    status = (res and res.status) or (err and err.status), error = err and err.kind,
    headers = res and res.headers or (err and err.headers), duration = started and core.monotime() - started,
  }
end

-- Waits `seconds` without holding up other requests: inside client:parallel the scheduler runs the
-- others meanwhile; elsewhere it is the client's sleep (ngx.sleep inside nginx).
function Client:_pause(seconds)
  local sched = parallel.current()
  if sched then return sched:sleep(seconds) end
  return self.sleep(seconds)
end

-- One ask of the budget (see acquire).
local function ask_budget(lim, n)
  -- the clock only when the answer depends on it (a C call: on LuaJIT it costs more than acquire)
  return lim:acquire(n, lim:needs_clock() and core.monotime() or 0)
end

-- The budget refused (`wait`: its answer): waits and asks again until it lets the n start. Apart from
-- acquire, so that acquire's usual path (one ask, granted) has no loop: on LuaJIT a loop there would
-- end the compiled code of the request that calls it.
local function wait_for_budget(self, lim, n, sched, wait)
  while true do
    if sched then
      if wait then sched:sleep(wait) else sched:wait_slot() end
    else
      self.sleep(wait or 0.005) -- inside nginx: another handler's (or thread's) request will end
    end
    local ok
    ok, wait = ask_budget(lim, n)
    if ok then return wait end
  end
end

-- Waits until the client's budget (clinch.limiter) lets n more requests start, and counts them in
-- flight. That waiting is for callers that share the budget: tasks of client:parallel (and
-- request_many), and inside nginx every handler (and worker, with shared_limit) using the client. A
-- lone script only keeps to max_rate: its own retry already waited out a Retry-After, and nothing of
-- its own is in flight to wait for.
local function acquire(self, n, sched)
  local lim = self._limiter
  if not sched and not self._shares_budget then
    -- the clock only when there is a rate to keep (the limiters read `now` for nothing else here)
    local wait = lim:rate_wait(n, lim.rate and core.monotime() or 0)
    if wait > 0 then self.sleep(wait) end
    return lim:take(n)
  end
  local ok, wait = ask_budget(lim, n)
  if ok then return wait end -- the budget's epoch
  return wait_for_budget(self, lim, n, sched, wait)
end

-- Sends signed requests (one attempt each) -> { response } / { nil, err } pairs, and whether the
-- responses are fresh (see outcome). Inside client:parallel (`sched`) they are started and the task
-- yields until they are answered.
function Client:_send(reqs, concurrency, sched)
  if not sched then return self.transport:send_many(reqs, concurrency), self._fresh_answers end
  local pendings = {}
  for k, req in ipairs(reqs) do pendings[k] = self.transport:start(req) end
  return self:_collect(pendings)
end

-- The answers of started requests, in order; inside client:parallel, waited for without blocking.
function Client:_collect(pendings)
  local sched = parallel.current()
  if sched then sched:await(pendings, self.transport) end
  local outs = {}
  for k, p in ipairs(pendings) do outs[k] = { p:wait() } end
  return outs
end

-- Tells the budget what an attempt's answer says (a 429 or 503 cuts it) and logs a back-off. `epoch`
-- is what acquire gave the attempt.
local function observe(self, res, err, after, epoch)
  local status = (res and res.status) or (err and err.status)
  local pushback = status == 429 or status == 503
  -- a success's count does not depend on the time: the clock is read for a push-back only
  local event = self._limiter:observe(pushback, after, pushback and core.monotime() or 0, status, epoch)
  if event then
    self:_log { event = "backoff", status = status, wait = event.wait, limit = event.limit,
                limit_before = event.limit_before }
  end
end

-- The index lists of an exchange of one request, and of one with nothing left to do (read only: a
-- round that retries makes a list of its own).
local ONLY_FIRST, EMPTY = { 1 }, {}

--- The one request loop: every request, alone or in a batch, goes attempt -> outcome -> log -> delay
-- through here. `preps` are prepared requests (prepare); `firsts`, when given, are the pendings of
-- their first attempts, already on the wire since `started` (client:start). Returns, in order, a
-- response or an error object for each.
-- @local
local function exchange(self, preps, concurrency, firsts, started, epoch)
  local n = #preps
  local results, todo = new_tab(n, 0), ONLY_FIRST
  if n ~= 1 then
    todo = new_tab(n, 0)
    for i = 1, n do todo[i] = i end
  end
  local attempt = 0
  local sched = parallel.current()
  while todo[1] do
    attempt = attempt + 1
    local count = #todo
    local outs, fresh, res1, err1
    if firsts then
      outs = self:_collect(firsts)
      firsts = nil
    elseif count == 1 and not sched then
      -- one blocking request (client:request): the transport's send, without the lists of a batch
      epoch = acquire(self, 1, sched)
      local req = sign(self, preps[todo[1]]) -- after any wait for the budget: the Date is the sending's
      started = self.logger and core.monotime() or started -- an attempt's start is only read for the log
      res1, err1 = self._sender:send(req)
      fresh = self._fresh_answers
    else
      epoch = acquire(self, count, sched)
      local reqs = new_tab(count, 0)
      for k = 1, count do reqs[k] = sign(self, preps[todo[k]]) end
      started = self.logger and core.monotime() or started
      outs, fresh = self:_send(reqs, concurrency, sched)
    end
    self._limiter:release(count)
    local again, wait, reasons = nil, 0, nil -- made when a retry is due: most exchanges have none
    for k = 1, count do -- (numeric loops: ipairs and its steps are C calls, per request)
      local i = todo[k]
      local p, o1, o2 = preps[i], res1, err1
      if outs then
        local o = outs[k]
        o1, o2 = o[1], o[2]
      end
      local out, err, retryable, after = outcome(self, p, o1, o2, attempt, fresh)
      log_attempt(self, p, out or o1, err, attempt, started)
      local delay = not out and retryable and self:_delay(attempt, after) or nil
      observe(self, out or o1, err, delay, epoch)
      if out then
        results[i] = out
      elseif retryable and attempt <= p.retries then
        again, reasons = again or {}, reasons or {}
        again[#again + 1] = i
        wait = math.max(wait, delay)
        reasons[#reasons + 1] = { method = p.method, uri = p.request_uri, status = err.status, error = err.kind,
                                  message = not err.status and err.message or nil, retry_after = after }
      else
        results[i] = err
      end
    end
    if again then
      if self.logger then self.logger { event = "retry", wait = wait, attempt = attempt, reasons = reasons } end
      self:_pause(wait)
    end
    todo = again or EMPTY
  end
  return results
end

-- One result of exchange as the public calls return it: response, or nil, err.
-- (r is a response or an error object, both tables: its metatable tells them apart, as errors.is does)
local Error = errors.Error
local function one(r)
  if getmetatable(r) == Error then return nil, r end
  return r
end

--- Sends one request: client:request("GET", "/candidates", { query =, body =, headers = })
-- -> response { status, headers, body, document } or nil, err.
-- @tparam string method an upper-case HTTP method ("GET")
-- @tparam string path the request target below the base URL, percent-encoded
--   ("/candidates/" .. clinch.uri.segment(id)), optionally with a query
-- @tparam[opt] table opts `query` (a table, see uri.build), `body` (a table sent as JSON, or a string),
--   `headers` (a table of strings), `timeout` (seconds) and `retries` for this request
-- @treturn table the response: `status`, `headers` (lower-case names), `body`, `document` (the decoded
--   JSON:API document, its resources objects of their class), `attempts`
-- @return[2] nil
-- @treturn[2] Error err when the request failed after its retries (any kind but the CLI's)
-- @raise for a malformed method, path, query, header or option (a programming mistake)
-- @within Client
function Client:request(method, path, opts)
  local p, err = prepare(self, method, path, opts)
  if not p then return nil, err end
  return one(exchange(self, { p })[1])
end

--- The request `request` would send first, signed, without sending it: { method, url, headers, body }
-- or nil, err (for dry runs and debugging; it holds the signature and date, never the secret).
-- @tparam string method an upper-case HTTP method ("GET")
-- @tparam string path the request target below the base URL, percent-encoded
--   ("/candidates/" .. clinch.uri.segment(id)), optionally with a query
-- @tparam[opt] table opts `query` (a table, see uri.build), `body` (a table sent as JSON, or a string),
--   `headers` (a table of strings), `timeout` (seconds) and `retries` for this request
-- @treturn table `{ method, url, headers, body }`, as the transport would get it
-- @return[2] nil
-- @treturn[2] Error err a body that cannot be encoded (kind validation)
-- @raise for a malformed method, path, query, header or option (a programming mistake)
-- @within Client
function Client:signed_request(method, path, opts)
  local p, err = prepare(self, method, path, opts)
  if not p then return nil, err end
  return sign(self, p, true)
end

local Pending = {}
Pending.__index = Pending

-- An object whose finalizer calls fn: a table's __gc on Lua 5.2+, a userdata's on LuaJIT (5.1 tables
-- have none).
local newproxy = rawget(_G, "newproxy")
local function on_collect(fn)
  if newproxy then
    local proxy = newproxy(true)
    getmetatable(proxy).__gc = fn
    return proxy
  end
  return setmetatable({}, { __gc = fn })
end

--- Waits for a started request (retrying it if needed) -> response or nil, err. Waiting again
-- returns the same result.
-- @treturn table the response, as client:request returns it
-- @return[2] nil
-- @treturn[2] Error err as client:request returns it
-- @raise nothing
-- @within Pending
function Pending:wait()
  if not self.result then
    self.counted.done = true -- exchange ends its count in the budget from here on
    self.result = { one(exchange(self.client, { self.p }, nil, { self.first }, self.started, self.epoch)[1]) }
    self.first = nil
  end
  return unpack(self.result, 1, 2)
end

--- Starts a request and returns at once with a pending result (`:wait()`), so the request
-- travels while the caller works (pagination prefetch uses this).
-- @tparam string method an upper-case HTTP method ("GET")
-- @tparam string path the request target below the base URL, percent-encoded
--   ("/candidates/" .. clinch.uri.segment(id)), optionally with a query
-- @tparam[opt] table opts `query` (a table, see uri.build), `body` (a table sent as JSON, or a string),
--   `headers` (a table of strings), `timeout` (seconds) and `retries` for this request
-- @treturn Pending the request in flight; a request that cannot be prepared gives a pending whose
--   wait() returns nil, err
-- @raise for a malformed method, path, query, header or option (a programming mistake)
-- @within Client
function Client:start(method, path, opts)
  local p, err = prepare(self, method, path, opts)
  if not p then return setmetatable({ result = { nil, err } }, Pending) end
  local epoch = acquire(self, 1, parallel.current())
  local signed = sign(self, p)
  local started = core.monotime()
  -- A pending request that is dropped without a wait (a loop left half-way) still ends its count in the
  -- client's budget, when it is collected: otherwise the budget would shrink for good.
  local counted, budget = { done = false }, self._limiter
  return setmetatable({ client = self, p = p, first = self.transport:start(signed), started = started,
                        epoch = epoch, counted = counted,
                        guard = on_collect(function() if not counted.done then budget:release(1) end end) },
    Pending)
end

--- Sends many requests in parallel (bounded by `opts.concurrency`), retrying each as `request`
-- would. `list` holds { method, path, request_opts } entries; the result list holds, in the same
-- order, a response or an error object (tell them apart with clinch.errors.is).
-- @tparam table list `{ method, path, request_opts }` entries, as client:request takes them
-- @tparam[opt] table opts `concurrency` (default the client's max_concurrency)
-- @treturn table one response or Error per entry, in order (errors are values here, never nil, err)
-- @raise for a list or an entry that is not a table, or a malformed request (as client:request)
-- @within Client
function Client:request_many(list, opts)
  check(type(list) == "table", "request_many: expected a list of { method, path, opts }")
  opts = opts or {}
  local preps, where, results = {}, {}, {}
  for i, item in ipairs(list) do
    check(type(item) == "table", "request_many: entry " .. i .. " must be a table")
    local p, err = prepare(self, item[1], item[2], item[3])
    if p then
      local k = #preps + 1
      preps[k], where[k] = p, i
    else
      results[i] = err
    end
  end
  local answers = parallel.run(self, preps, function(p) return exchange(self, { p })[1] end,
    opts.concurrency or self._limiter.max)
  for k, r in ipairs(answers) do results[where[k]] = r end
  return results
end

--- Runs fn(item, i) for every item, at most opts.concurrency (default max_concurrency) at once, the
-- requests of all of them in flight together (see clinch.parallel). Returns, in input order, what
-- each returned, or its error object when it returned nil, err or raised (kind "lua").
-- @tparam table items the list of items
-- @tparam function fn `function(item, i)`, called for each item in a task of its own
-- @tparam[opt] table opts `concurrency` (a whole number >= 1, default the client's max_concurrency)
-- @treturn table what each call returned, or its Error (kind "lua" when fn raised), in input order
-- @raise for items that are not a table, fn not a function, or a bad concurrency
-- @within Client
function Client:parallel(items, fn, opts)
  check(type(items) == "table", "parallel: items must be a list")
  check(type(fn) == "function", "parallel: fn must be a function(item, i)")
  check(opts == nil or type(opts) == "table", "parallel: options must be a table")
  local concurrency = opts and opts.concurrency or self._limiter.max
  check(type(concurrency) == "number" and concurrency >= 1 and concurrency % 1 == 0,
    "parallel: concurrency must be a whole number >= 1")
  return parallel.run(self, items, fn, concurrency)
end

--- The request budget now: { limit (requests in flight allowed), max, in_flight, paused_for (seconds
-- no request starts, after a 429 or 503), backoffs, last_event = { status, wait, limit, limit_before },
-- max_rate }.
-- @treturn table the budget's state, as above
-- @raise nothing
-- @within Client
function Client:stats()
  return self._limiter:stats(core.monotime())
end

--- The collection `name`: the registered one (client:resource(name) is client[name]), or, with
-- options or for any other path, a plain collection with the same list, each and get.
-- @tparam string name a registered collection ("candidates") or a path below the base URL ("tags")
-- @tparam[opt] table opts `includes`, `filters`, `item_path`, `class`, as resource.new takes them
-- @treturn Collection the collection
-- @raise for an empty name or a bad option
-- @within Client
function Client:resource(name, opts)
  check(type(name) == "string" and name ~= "", "resource: name must be a non-empty string")
  return require("clinch.registry").resource(self, name, opts)
end

--- Closes the transport (its kept-alive connections). Idempotent.
-- @return nothing
-- @raise nothing
-- @within Client
function Client:close()
  self.transport:close()
end

return _M
