--- Structured errors: every runtime failure of lua-clinch is returned as `nil, err` where `err` is one
-- of these objects. Fields: `kind` (network, timeout, tls, http, too_large, redirect, auth, not_found,
-- validation, decode, unsupported), `message`, and where known `status`, `method`, `url`, `attempts`,
-- `request_id`, `errors` (the JSON:API error list), `curl_code`. They never hold secrets.
local setmetatable, getmetatable, type, tostring, concat = setmetatable, getmetatable, type, tostring, table.concat

local _M = {}

local Error = {}
Error.__index = Error
Error.__name = "clinch.error"

function Error.__tostring(e)
  local parts = { "clinch." .. tostring(e.kind) .. " error" }
  if e.status then parts[#parts + 1] = "(HTTP " .. tostring(e.status) .. ")" end
  if e.method and e.url then parts[#parts + 1] = e.method .. " " .. e.url end
  local text = concat(parts, " ")
  if e.message and e.message ~= "" then text = text .. ": " .. e.message end
  if e.attempts and e.attempts > 1 then text = text .. " [after " .. e.attempts .. " attempts]" end
  if e.request_id then text = text .. " [request id " .. tostring(e.request_id) .. "]" end
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
