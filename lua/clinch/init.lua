--- lua-clinch: the Lua client for the PageUp Recruitment Marketing (Clinch) API.
--    local clinch = require "clinch"
--    local client = assert(clinch.new())   -- CLINCH_API_KEY, CLINCH_API_SECRET, CLINCH_REGION / CLINCH_BASE_URL
--    local client = clinch.new { key = ..., secret = ..., region = "us" }
--    for cand in client.candidates:each { per_page = 100 } do print(cand) end
--
-- Its fields: `new` (creates a client: below), `config` (clinch.config: where settings come from),
-- `errors` (@{clinch.errors}), `uri` (@{clinch.uri}), `REGIONS` (region name -> the API's base URL),
-- `core` (the C core: signing, transports, decoding; README "Signing") and `_VERSION`. The methods of a
-- client, its collections and their objects are in @{clinch.client}, @{clinch.resource} and
-- @{clinch.resources.candidates}.
-- @module clinch
local core = require "clinch.core"
local client = require "clinch.client"
local config = require "clinch.config"
local check = require("clinch.check").arg

local type, pairs, ipairs, io = type, pairs, ipairs, io

local _M = {
  _VERSION = require("clinch.defaults").VERSION,
  errors = require "clinch.errors",
  uri = require "clinch.uri",
  config = config,
  REGIONS = client.REGIONS,
  core = core,
}

-- A warning about the configuration: to the caller's logger, or stderr (as the client's own warnings).
local function warn(opts, message)
  if opts.logger then
    opts.logger { event = "warning", message = message }
  else
    io.stderr:write("clinch: warning: ", message, "\n")
  end
end

--- Creates a client. With both `key` and `secret` (and no `profile`) the options are all there is
-- (README "Configuration"). Otherwise the missing settings come from the environment and the
-- configuration file's profile (clinch.config: arguments, then environment, then profile; README
-- "Configuration and profiles"), and a configuration that cannot be used is returned as an error.
-- @tparam[opt] ClientOptions opts the options (README "Configuration"): `key` and `secret`, `region`
--   ("us", "eu", "au") or `base_url`, `profile`, `timeout`, `retries`, `max_concurrency`, `logger`, ...
-- @treturn Client the client, its registered collections as fields (client.candidates, client.jobs, ...)
-- @treturn[2] nil
-- @treturn[2] Error err of kind config: no key or secret anywhere, an unknown profile or region, a bad
--   value in the environment, a bad line of the configuration file (`err.file`, `err.line`)
-- @raise a message at the caller's line for a mistake in the options themselves: an option of the
--   wrong type, an unknown region or signing variant given as an option, a base URL with user info
function _M.new(opts)
  check(opts == nil or type(opts) == "table", "clinch.new expects a table of options")
  opts = opts or {}
  if opts.key ~= nil and opts.secret ~= nil and opts.profile == nil then return client.new(opts) end
  check(opts.profile == nil or type(opts.profile) == "string", "clinch.new: option 'profile' must be a string")
  for _, name in ipairs { "key", "secret", "region", "base_url" } do
    check(opts[name] == nil or type(opts[name]) == "string", "clinch.new: option '" .. name .. "' must be a string")
  end
  check(opts.logger == nil or type(opts.logger) == "function", "clinch.new: option 'logger' must be a function")
  local settings, warnings = config.resolve { explicit = opts, profile = opts.profile,
    hints = { key = "pass key to clinch.new", secret = "pass secret to clinch.new" } }
  if not settings then return nil, warnings end
  for _, w in ipairs(warnings) do warn(opts, w) end
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  o.profile = nil
  o.key, o.secret, o.region, o.base_url = settings.key, settings.secret, settings.region, settings.base_url
  return client.new(o)
end

return _M
