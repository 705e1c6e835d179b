--- The transport interface: how the client hands a signed request to an HTTP implementation.
--
-- A transport is either a function or an object:
--   function(request) -> response | nil, err
--   object with :send(request) -> response | nil, err, and optionally
--     :send_many(requests, concurrency) -> list of { response } / { nil, err } pairs, in input order,
--     :start(request) -> pending with :wait() -> response | nil, err   (request on the wire while Lua works),
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
local type, ipairs, setmetatable, tostring, rawget = type, ipairs, setmetatable, tostring, rawget
local raise = require("clinch.check").raise

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

local function call_send(t, req)
  local res, err = t.send_fn(req)
  if type(res) ~= "table" then return nil, normalize_error(err) end
  return res
end

local Wrapped = {}
Wrapped.__index = Wrapped

function Wrapped:send(req) return call_send(self, req) end

function Wrapped:send_many(reqs, concurrency)
  if self.impl and type(self.impl.send_many) == "function" then
    local results = self.impl:send_many(reqs, concurrency)
    for i, r in ipairs(results) do
      if r[1] == nil then results[i] = { nil, normalize_error(r[2]) } end
    end
    return results
  end
  local results = {}
  for i, req in ipairs(reqs) do results[i] = { call_send(self, req) } end
  return results
end

local Eager = {}
Eager.__index = Eager
function Eager:wait() return self[1], self[2] end

function Wrapped:start(req)
  if self.impl and type(self.impl.start) == "function" then
    local p = self.impl:start(req)
    return {
      wait = function()
        local res, err = p:wait()
        if type(res) ~= "table" then return nil, normalize_error(err) end
        return res
      end,
    }
  end
  -- A transport without start: send now, so the caller still gets a pending to wait on.
  return setmetatable({ call_send(self, req) }, Eager)
end

function Wrapped:close()
  if self.impl and type(self.impl.close) == "function" then self.impl:close() end
end

--- Wraps a user function or object (or a built-in transport) into the full interface.
function _M.wrap(t)
  if type(t) == "function" then
    return setmetatable({ send_fn = t }, Wrapped)
  end
  if type(t) == "table" or type(t) == "userdata" then
    if type(t.send) ~= "function" then raise("transport object needs a send method") end
    return setmetatable({ impl = t, send_fn = function(req) return t:send(req) end }, Wrapped)
  end
  raise("transport must be a function or an object with send")
end

--- The default transport for a client: cosockets inside nginx, libcurl elsewhere.
function _M.default(opts)
  local ngx = rawget(_G, "ngx")
  if type(ngx) == "table" and type(ngx.get_phase) == "function" then
    return _M.wrap(require("clinch.transport.cosocket").new(opts))
  end
  return _M.wrap(require("clinch.transport.curl").new(opts))
end

return _M
