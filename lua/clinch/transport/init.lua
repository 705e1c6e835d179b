--- The transport interface: how the client hands a signed request to an HTTP implementation.
--
-- A transport is either a function or an object:
--   function(request) -> response | nil, err
--   object with :send(request) -> response | nil, err, and optionally
--     :send_many(requests, concurrency) -> list of { response } / { nil, err } pairs, in input order,
--     :start(request) -> pending with :wait() -> response | nil, err (the same on every call) and
--       :done() -> whether it has its answer   (the request is on the wire while Lua works),
--     :close().
-- request  = { method, url, headers = { Name = value }, body = string|nil, timeout, connect_timeout }
-- response = { status = number, headers = { lowercased-name = value }, body = string }
-- err      = { kind = "network"|"timeout"|"tls"|"too_large"|"protocol"|"unsupported"|"interrupted",
--              message = string, sent = false only when the request certainly never reached the server,
--              reused = true when a kept-alive connection died before any response came (the
--              transport never sends the request again by itself), status = the offending status of a
--              "protocol" error (a 101, or one outside 200-599) }
--             (a plain string is taken as a network error that may have been sent).
-- Built-in implementations: clinch.transport.curl (libcurl, the default) and
-- clinch.transport.cosocket (nginx cosockets, chosen automatically inside nginx).
local type, ipairs, setmetatable, getmetatable, tostring, rawget =
  type, ipairs, setmetatable, getmetatable, tostring, rawget
local raise = require("clinch.check").raise
local math, require = math, require

local _M = {}

-- The kinds a transport may report (dry_run: the CLI's --dry-run transport, which sends nothing);
-- anything else from a plugged-in transport counts as network.
local KINDS = { network = true, timeout = true, tls = true, too_large = true, protocol = true,
                unsupported = true, interrupted = true, dry_run = true }

local function normalize_error(err)
  if type(err) == "table" then
    return { kind = KINDS[err.kind] and err.kind or "network", message = err.message or "", sent = err.sent ~= false,
             reused = err.reused == true or nil, status = err.status, curl_code = err.curl_code }
  end
  return { kind = "network", message = err ~= nil and tostring(err) or "transport failed", sent = true }
end

-- A plugged-in transport's answer, checked: a response table, or nil and a normalized error.
local function checked(res, err)
  if type(res) ~= "table" then return nil, normalize_error(err) end
  return res
end

--- The one shape of a pending request, whatever the transport: p:wait() -> response | nil, err (the
-- same on every call). The built-in transports' pendings have it already (the C core's, and the
-- cosocket transport's); these two give it to a plugged-in transport's.
local Done = {}  -- a request already answered (a transport without start sent it at once)
Done.__index = Done
function Done:wait() return self[1], self[2] end
function Done.done() return true end

local Checked = {} -- a plugged-in transport's own pending, its answers checked
Checked.__index = Checked
function Checked:wait()
  if not self.result then self.result = { checked(self.p:wait()) } end
  return self.result[1], self.result[2]
end
function Checked:done() return self.result ~= nil or not self.p.done or self.p:done() end

local Wrapped = {}
Wrapped.__index = Wrapped

--- Sends one request -> response | nil, err (a wrapped transport is a transport object itself).
function Wrapped:send(req)
  if self.builtin then return self.impl:send(req) end
  local r = self:send_many({ req }, 1)[1]
  return r[1], r[2]
end

--- Sends requests, at most `concurrency` at once -> { response } / { nil, err } pairs in order.
function Wrapped:send_many(reqs, concurrency)
  local impl = self.impl
  if self.builtin then return impl:send_many(reqs, concurrency) end
  if impl and type(impl.send_many) == "function" then
    local results = impl:send_many(reqs, concurrency)
    for i, r in ipairs(results) do results[i] = { checked(r[1], r[2]) } end
    return results
  end
  local results = {}
  for i, req in ipairs(reqs) do results[i] = { checked(self.send_fn(req)) } end
  return results
end

--- Puts a request on the wire and returns its pending (see above).
function Wrapped:start(req)
  local impl = self.impl
  if self.builtin then return impl:start(req) end
  if impl and type(impl.start) == "function" then return setmetatable({ p = impl:start(req) }, Checked) end
  -- A transport without start: send now, so the caller still gets a pending to wait on.
  return setmetatable({ checked(self.send_fn(req)) }, Done)
end

--- Waits at most `seconds` for the requests started on this transport to make progress (what
-- client:parallel's scheduler blocks on). A transport without poll is waited on in short sleeps.
function Wrapped:poll(seconds)
  local impl = self.impl
  if impl and type(impl.poll) == "function" then return impl:poll(seconds) end
  require("clinch.core").sleep(math.min(seconds or 0.01, 0.01))
  return false
end

function Wrapped:close()
  if self.impl and type(self.impl.close) == "function" then self.impl:close() end
end

--- Wraps a user function or object into the full interface; `builtin` marks one of lua-clinch's
-- own transports, whose answers need no checking.
function _M.wrap(t, builtin)
  if getmetatable(t) == Wrapped then return t end
  if type(t) == "function" then
    return setmetatable({ send_fn = t }, Wrapped)
  end
  if type(t) == "table" or type(t) == "userdata" then
    if type(t.send) ~= "function" then raise("transport object needs a send method") end
    return setmetatable({ impl = t, builtin = builtin, send_fn = function(req) return t:send(req) end }, Wrapped)
  end
  raise("transport must be a function or an object with send")
end

--- The default transport for a client: cosockets inside nginx, libcurl elsewhere.
function _M.default(opts)
  local ngx = rawget(_G, "ngx")
  if type(ngx) == "table" and type(ngx.get_phase) == "function" then
    return _M.wrap(require("clinch.transport.cosocket").new(opts), true)
  end
  return _M.wrap(require("clinch.transport.curl").new(opts), true)
end

return _M
