--- Structured errors: every runtime failure of lua-clinch is returned as `nil, err` where `err` is one
-- of these objects. Fields: `kind` (network, timeout, tls, protocol, http, too_large, redirect, auth,
-- not_found, validation, decode, unsupported, interrupted, config), `message` (one line: see clinch.text),
-- `sent` (false when the request certainly never left, true when it may have reached the server), and
-- where known `status`, `method`, `url`, `attempts`, `request_id`, `errors` (the JSON:API error list),
-- `curl_code`. They never hold secrets.
-- @module clinch.errors
local one_line = require("clinch.text").one_line
local setmetatable, getmetatable, type, error, concat, pairs, rawget, tostring =
  setmetatable, getmetatable, type, error, table.concat, pairs, rawget, tostring

local _M = {}

-- Every kind of error, as constants (errors.KIND.network): a misspelt kind raises instead of
-- comparing false forever. `DESCRIPTION` says what each means. (Not a doc comment: ldoc 1.4.6 fails
-- on a table with comments inside; KIND below is the documented one.)
_M.DESCRIPTION = {
  -- answers of the API
  validation = "refused before sending, or HTTP 400/422",
  auth = "HTTP 401/403",
  not_found = "HTTP 404",
  http = "any other HTTP error status (5xx, 429 after the retries), or a pagination the client cannot follow",
  redirect = "a 3xx: signed requests are never replayed elsewhere",
  decode = "a response body that is not the JSON:API document expected",
  -- the transports
  network = "the connection failed or broke",
  timeout = "the request took longer than its timeout",
  tls = "the TLS handshake or certificate check failed",
  too_large = "a response over max_response_bytes, or a header block over 64 KiB",
  protocol = "the server broke HTTP (101, a status outside 200-599, conflicting Content-Length)",
  unsupported = "the environment cannot send (an nginx phase without cosockets, no lua-cjson)",
  interrupted = "Ctrl-C",
  -- client:parallel
  lua = "an error raised by the function client:parallel ran for an item (message and traceback)",
  -- configuration (clinch.config)
  config = "no credentials, or an environment variable, configuration file or profile that cannot be used",
  -- the command line
  usage = "a mistake in the command line or a file it names",
  io = "output or state that cannot be written",
  state = "a sync state file that cannot be trusted (corrupted, or recorded for other options)",
  busy = "another sync run holds the state file's lock",
  partial = "rows of a bulk command (candidates create --from, tags add --ids-from, resume upload --dir) "
    .. "that failed at the API; each row's result says why",
  repl = "an error in code typed at the REPL",
  dry_run = "--dry-run printed the request instead of sending it",
}

local function unknown_kind(_, k)
  error("clinch.errors: unknown error kind '" .. tostring(k) .. "'", 2)
end
--- Every kind of error as a constant (`errors.KIND.network == "network"`): a misspelt kind raises
-- instead of comparing false forever. `errors.DESCRIPTION[kind]` says what each kind means.
-- @table KIND
_M.KIND = {}
for k in pairs(_M.DESCRIPTION) do _M.KIND[k] = k end
setmetatable(_M.KIND, { __index = unknown_kind, __newindex = unknown_kind })

local Error = {}
Error.__index = Error
Error.__name = "clinch.error"

-- One line whatever the fields hold: a server's message may carry newlines, terminal escapes or bidi
-- controls, and a caller may have set fields after new.
local clean = one_line

function Error.__tostring(e)
  local parts = { "clinch." .. clean(e.kind) .. " error" }
  if e.status then parts[#parts + 1] = "(HTTP " .. clean(e.status) .. ")" end
  if e.method and e.url then parts[#parts + 1] = clean(e.method) .. " " .. clean(e.url) end
  local text = concat(parts, " ")
  if e.message and e.message ~= "" then text = text .. ": " .. clean(e.message) end
  if type(e.attempts) == "number" and e.attempts > 1 then text = text .. " [after " .. e.attempts .. " attempts]" end
  if e.request_id then text = text .. " [request id " .. clean(e.request_id) .. "]" end
  return text
end

--- Creates an error object from a table of fields (`kind` is required). The message is made one line
-- here, so that err.message is as safe to print as tostring(err).
-- @tparam table fields the fields: `kind` (one of KIND), `message`, `status`, `sent`, ...
-- @treturn Error the fields table, now an error object
-- @raise for fields that is not a table, or a missing or unknown kind
function _M.new(fields)
  if type(fields) ~= "table" or type(fields.kind) ~= "string" then
    error("errors.new expects a table with a string kind", 2)
  end
  if not rawget(_M.KIND, fields.kind) then error("errors.new: unknown error kind '" .. fields.kind .. "'", 2) end
  if fields.message ~= nil then fields.message = one_line(fields.message) end
  return setmetatable(fields, Error)
end

--- True when `v` is an error object made by this module.
-- @param v any value
-- @treturn boolean
-- @raise nothing
function _M.is(v)
  return type(v) == "table" and getmetatable(v) == Error
end

_M.Error = Error
return _M
