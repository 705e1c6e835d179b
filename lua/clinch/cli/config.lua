--- Client configuration for the CLI, the REPL and the examples: the environment (CLINCH_API_KEY,
-- CLINCH_API_SECRET, CLINCH_REGION, CLINCH_BASE_URL) overridden by flags (--key, --secret-file,
-- --region, --base-url). The secret never comes from the command line, where `ps` would show it.
local type, tostring, pairs, require, io, os = type, tostring, pairs, require, io, os

local _M = {}

_M.ENV = { key = "CLINCH_API_KEY", secret = "CLINCH_API_SECRET", region = "CLINCH_REGION",
           base_url = "CLINCH_BASE_URL" }

_M.SECRET_ON_COMMAND_LINE = "a secret is never accepted on the command line (it would show in ps): "
  .. "set CLINCH_API_SECRET or use --secret-file FILE"

local function nonempty(v)
  if type(v) == "string" and v ~= "" then return v end
  return nil
end

--- The first line of a secret file, without surrounding white space -> secret or nil, message.
function _M.read_secret_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, "cannot read the secret file: " .. tostring(err) end
  local line = f:read("l")
  f:close()
  line = line and line:match("^%s*(.-)%s*$")
  if not line or line == "" then return nil, "the secret file " .. path .. " is empty" end
  return line
end

--- Client options from flags (a table with key, secret_file, region, base_url, timeout, retries) and
-- an environment lookup function -> options for clinch.new, or nil, message (a usage error).
function _M.options(flags, getenv)
  getenv = getenv or os.getenv
  local o = {
    key = nonempty(flags.key) or nonempty(getenv(_M.ENV.key)),
    region = nonempty(flags.region) or nonempty(getenv(_M.ENV.region)),
    base_url = nonempty(flags.base_url) or nonempty(getenv(_M.ENV.base_url)),
    timeout = flags.timeout, retries = flags.retries,
  }
  if flags.region and not flags.base_url then o.base_url = nil end -- a region flag beats the env's URL
  if o.base_url then o.region = nil end
  if flags.secret_file then
    local secret, err = _M.read_secret_file(flags.secret_file)
    if not secret then return nil, err end
    o.secret = secret
  else
    o.secret = nonempty(getenv(_M.ENV.secret))
  end
  if not o.key then return nil, "no API key: set CLINCH_API_KEY or use --key KEY" end
  if not o.secret then return nil, "no API secret: set CLINCH_API_SECRET or use --secret-file FILE" end
  return o
end

--- A client from options (see `options`) plus extra clinch.new options -> client or nil, message. The
-- options are checked first by the checks clinch.new makes (clinch.validate.client_options), so what
-- the user gave wrong (a key with a space, a base URL with a query) is a message, not a raise.
function _M.client(opts, extra)
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  for k, v in pairs(extra or {}) do o[k] = v end
  local ok, why = require("clinch.validate").client_options(o)
  if not ok then return nil, why end
  return require("clinch").new(o)
end

return _M
