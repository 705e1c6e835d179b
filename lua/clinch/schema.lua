--- The contract as lua-clinch reads it: the seed's facts (clinch.contract, generated from
-- api/recruitment-marketing-openapi.json by scripts/gen-contract.lua) plus the project's own decisions,
-- which live in OVERLAY below and nowhere else. Nothing here repeats what the contract says: the
-- overlay only adds to it or corrects it, and spec/schema_spec.lua checks that each entry still
-- applies to the contract (an entry the contract has made unnecessary fails there).
--
--   schema.request("createCandidate")        -- { type =, attributes = { name = spec }, required = { ... } }
--   schema.filter("candidateFilter", "Candidate") -- { field = { operators =, time =, value = } }
local pairs, ipairs, tostring = pairs, ipairs, tostring
local sort = table.sort
local contract = require "clinch.contract"
local raise = require("clinch.check").raise

local _M = {}

--- THE PROJECT'S DECISIONS, on top of the contract ---------------------------------------------------
_M.OVERLAY = {
  -- Request attributes: `nonblank` (a string of more than white space), `nonblank_items` (the same for
  -- each item of an array). A blank tag or file name is never meant, and the API refuses it anyway.
  -- `required` replaces the contract's list.
  requests = {
    createCandidate = { attributes = { tag_values = { nonblank_items = true } } },
    -- The seed marks `email` required on a schema whose only attribute is `name`: an evident copy error.
    -- The tag's name is what the operation needs.
    createCandidateTag = { attributes = { name = { nonblank = true } }, required = { "name" } },
    createCandidateFile = { attributes = { filename = { nonblank = true } } },
  },
  -- Filter operators the parameter's description gives in prose (its schema spells out only
  -- updated_at.gte): filter[updated_at][lt] and filter[email][eq].
  filters = {
    candidateFilter = { updated_at = { "lt" }, email = { "eq" } },
  },
}
local OVERLAY = _M.OVERLAY

-- Merged views, made once each.
local requests, filters = {}, {}

local function copy(t)
  local out = {}
  for k, v in pairs(t) do out[k] = v end
  return out
end

--- The request body rules of an operation (by operationId): { type =, attributes = { name = { type =,
-- items =, format =, nonblank =, nonblank_items = } }, required = { names } }: the contract's request
-- schema with the overlay applied. Raises for an operation the contract gives no request body.
function _M.request(operation_id)
  local merged = requests[operation_id]
  if merged then return merged end
  local op = contract.operations[operation_id]
  local req = op and op.request
  if not req then raise("clinch.schema: the contract has no request body for " .. tostring(operation_id)) end
  local extra = OVERLAY.requests[operation_id] or {}
  merged = { type = req.type, attributes = {}, required = extra.required or req.required }
  for name, spec in pairs(req.attributes) do
    local s = copy(spec)
    for k, v in pairs(extra.attributes and extra.attributes[name] or {}) do s[k] = v end
    merged.attributes[name] = s
  end
  requests[operation_id] = merged
  return merged
end

local function add_operator(list, op)
  for _, o in ipairs(list) do if o == op then return end end
  list[#list + 1] = op
end

--- The filters of a deepObject filter parameter (by its components name), for resources of the
-- contract schema `schema_name`: { field = { operators = { sorted names }, time = true when the
-- values are times (a date-time operator, or a DateTime attribute), value = the attribute's JSON type
-- ("string") otherwise } }: the contract's filter schema with the overlay's operators added.
function _M.filter(param_name, schema_name)
  local key = param_name .. "/" .. tostring(schema_name)
  if filters[key] then return filters[key] end
  local param = contract.parameters[param_name]
  if not param or param.style ~= "deepObject" then
    raise("clinch.schema: the contract has no deepObject filter parameter " .. tostring(param_name))
  end
  local attrs = schema_name and contract.schemas[schema_name].attributes or {}
  local out = {}
  local function field(name)
    local f = out[name]
    if not f then
      local attr = attrs[name]
      f = { operators = {}, time = attr and attr.schema == "DateTime" or nil }
      if not f.time and attr and attr.type ~= "object" and attr.type ~= "array" then f.value = attr.type end
      out[name] = f
    end
    return f
  end
  for name, spec in pairs(param.properties or {}) do
    local f = field(name)
    for op, ospec in pairs(spec.properties or {}) do
      add_operator(f.operators, op)
      if ospec.format == "date-time" then f.time, f.value = true, nil end
    end
  end
  for name, ops in pairs(OVERLAY.filters[param_name] or {}) do
    local f = field(name)
    for _, op in ipairs(ops) do add_operator(f.operators, op) end
  end
  for _, f in pairs(out) do sort(f.operators) end
  filters[key] = out
  return out
end

return _M
