--- Client configuration for the CLI, the REPL and the examples: clinch.config's one rule (the
-- environment over a profile of the configuration file), with the flags (--key, --secret-file,
-- --region, --base-url, --profile) over both. The secret never comes from the command line, where `ps`
-- would show it.
local pairs, ipairs, require, io, os = pairs, ipairs, require, io, os
local config = require "clinch.config"

local _M = {}

_M.ENV = config.ENV

_M.SECRET_ON_COMMAND_LINE = "a secret is never accepted on the command line (it would show in ps): "
  .. "set CLINCH_API_SECRET or use --secret-file FILE"

local FLAGS = { key = "--key", secret_file = "--secret-file", region = "--region", base_url = "--base-url" }

--- The first line of a secret file, without surrounding white space -> secret (and a warning when
-- others may read the file), or nil, message.
function _M.read_secret_file(path)
  local secret, w = config.read_secret(path)
  if not secret then return nil, w.message end
  return secret, w
end

--- Client options from flags (a table with key, secret_file, region, base_url, profile, timeout,
-- retries), an environment lookup function and a function for warnings (default: stderr) -> options
-- for clinch.new, or nil, message (a usage error).
function _M.options(flags, getenv, warn)
  getenv = getenv or os.getenv
  warn = warn or function(m) io.stderr:write("clinch: warning: ", m, "\n") end
  local s, warnings = config.resolve {
    explicit = { key = flags.key, secret_file = flags.secret_file, region = flags.region, base_url = flags.base_url },
    explicit_label = function(setting) return FLAGS[setting] end,
    -- The flags' and the environment's values go through clinch.new's checks in config.client, whose
    -- messages the CLI words for its user (clinch.cli.messages); a profile's are checked here, by line.
    environment_checked = true,
    profile = flags.profile, getenv = getenv,
    hints = { key = "use --key KEY", secret = "use --secret-file FILE" },
  }
  if not s then return nil, warnings.message end
  for _, w in ipairs(warnings) do warn(w) end
  return { key = s.key, secret = s.secret, region = s.region, base_url = s.base_url, profile = s.profile,
           timeout = flags.timeout, retries = flags.retries }
end

--- A client from options (see `options`) plus extra clinch.new options -> client or nil, message. The
-- options are checked first by the checks clinch.new makes (clinch.validate.client_options), so what
-- the user gave wrong (a key with a space, a base URL with a query) is a message, not a raise.
function _M.client(opts, extra)
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  for k, v in pairs(extra or {}) do o[k] = v end
  o.profile = nil -- already applied: key, secret and endpoint are all there
  local ok, why = require("clinch.validate").client_options(o)
  if not ok then return nil, why end
  return require("clinch.client").new(o)
end

return _M
