--- Structured errors: every runtime failure of lua-clinch is returned as `nil, err` where `err` is one
-- of these objects. Fields: `kind` (network, timeout, tls, http, too_large, redirect, auth, not_found,
-- validation, decode, unsupported, interrupted), `message`, and where known `status`, `method`, `url`, `attempts`,
-- `request_id`, `errors` (the JSON:API error list), `curl_code`. They never hold secrets.
local setmetatable, getmetatable, type, tostring, concat, gsub =
  setmetatable, getmetatable, type, tostring, table.concat, string.gsub

local _M = {}

local Error = {}
Error.__index = Error
Error.__name = "clinch.error"

-- One line whatever the fields hold: a server's message may carry newlines or terminal escapes.
local function clean(v)
  return (gsub(tostring(v), "%c", " "))
end

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

--- Creates an error object from a table of fields (`kind` is required).
function _M.new(fields)
  if type(fields) ~= "table" or type(fields.kind) ~= "string" then
    error("errors.new expects a table with a string kind", 2)
  end
  return setmetatable(fields, Error)
end

--- True when `v` is an error object made by this module.
function _M.is(v)
  return type(v) == "table" and getmetatable(v) == Error
end

_M.Error = Error
return _M
