--- The libcurl transport: a thin adapter from the transport interface (see clinch.transport) to the
-- C core's multi-handle transport, which keeps connections alive and runs requests in parallel.
local core = require "clinch.core"
local setmetatable, type, rawget = setmetatable, type, rawget

local _M = {}

local Curl = {}
Curl.__index = Curl

-- The C core gives a failure already in the transport interface's shape ({ kind, message, sent,
-- reused, status, curl_code }): it only has to become nil, err.
local function outcome(r)
  if r.kind then return nil, r end
  return r
end

function _M.new(opts)
  opts = opts or {}
  local handle = core.transport {
    timeout = opts.timeout, connect_timeout = opts.connect_timeout, proxy = opts.proxy,
    ca_file = opts.ca_file, ca_path = opts.ca_path, verify_tls = opts.verify_tls,
    user_agent = opts.user_agent, max_response_bytes = opts.max_response_bytes,
    max_concurrency = opts.max_concurrency, write_reuse_idle = opts.write_reuse_idle,
  }
  -- fresh_answers: send_many's responses are tables made for the call, that nothing here keeps (the
  -- client then need not copy them)
  return setmetatable({ handle = handle, fresh_answers = true }, Curl)
end

function Curl:send(req)
  -- a request as itself (t:perform(req)); anything that is not one goes in a list, where the core
  -- says what is wrong with it
  if type(req) ~= "table" or rawget(req, "url") == nil then return outcome(self.handle:perform({ req }, 1)[1]) end
  return outcome(self.handle:perform(req))
end

function Curl:send_many(reqs, concurrency)
  local results = self.handle:perform(reqs, concurrency)
  for i = 1, #results do results[i] = { outcome(results[i]) } end
  return results
end

--- The C core's pending itself: :wait() -> response | nil, err, :done().
function Curl:start(req)
  return self.handle:start(req)
end

--- Waits (at most `seconds`) until a started transfer makes progress; true after Ctrl-C.
function Curl:poll(seconds)
  return self.handle:poll(seconds)
end

function Curl:close()
  self.handle:close()
end

return _M
