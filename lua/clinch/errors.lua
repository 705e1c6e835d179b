--- Structured errors: every runtime failure of lua-clinch is returned as `nil, err` where `err` is one
-- of these objects. Fields: `kind` (network, timeout, tls, protocol, http, too_large, redirect, auth,
-- not_found, validation, decode, unsupported, interrupted), `message` (one line: see clinch.text),
-- `sent` (false when the request certainly never left, true when it may have reached the server), and
-- where known `status`, `method`, `url`, `attempts`, `request_id`, `errors` (the JSON:API error list),
-- `curl_code`. They never hold secrets.
local one_line = require("clinch.text").one_line
local setmetatable, getmetatable, type, error, concat = setmetatable, getmetatable, type, error, table.concat

local _M = {}

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
function _M.new(fields)
  if type(fields) ~= "table" or type(fields.kind) ~= "string" then
    error("errors.new expects a table with a string kind", 2)
  end
  if fields.message ~= nil then fields.message = one_line(fields.message) end
  return setmetatable(fields, Error)
end

--- True when `v` is an error object made by this module.
function _M.is(v)
  return type(v) == "table" and getmetatable(v) == Error
end

_M.Error = Error
return _M
