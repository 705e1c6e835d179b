--- Output of records in the CLI's formats: `json` (one document: an array for lists, an object for one
-- record), `jsonl` (one JSON object per line), `csv` (RFC 4180, with a header) and `table` (aligned, for
-- a terminal). A record is a resource (written in JSON as the API sent it, via clinch.jsonapi.raw) or
-- a plain table of fields. Lists stream: JSON, JSONL and CSV are written record by record, so `--all`
-- over a large account holds one page at a time; only the table format, which needs every width,
-- collects its rows.
--
-- Output is always valid UTF-8: text that is not (lua-cjson passes the server's bytes through) has each
-- ill-formed sequence replaced by U+FFFD, and the writer counts the replacements (writer.replaced),
-- which the CLI reports. The record is never dropped and the run goes on.
local type, pairs, ipairs, tostring, getmetatable, setmetatable, pcall, require, next =
  type, pairs, ipairs, tostring, getmetatable, setmetatable, pcall, require, next
local error = error
local io = io
local concat, sort, format, floor, math_type = table.concat, table.sort, string.format, math.floor, math.type
local csv = require "clinch.cli.csv"
local textable = require "clinch.cli.textable"
local valid = require("clinch.text").valid

local _M = {}

_M.FORMATS = { "table", "json", "jsonl", "csv" }

-- JSON encoding through the library's encoder (integers kept exact, empty lists as []).
local function encode(v)
  local jsonapi = require "clinch.jsonapi"
  local s, err = jsonapi.encode(v)
  if not s then error(err, 0) end
  return s
end

local function is_resource(v)
  return type(v) == "table" and type(v.id) == "string" and type(v.type) == "string"
end

-- lua-cjson 2.1.0 reads an empty JSON array as an empty table, which would be written back as {}; the
-- array attributes the contract gives the resource's type (clinch.registry) are written as [].
local function fix_empty_arrays(raw)
  local names, attrs = require("clinch.registry").arrays(raw.type), raw.attributes
  if not names or type(attrs) ~= "table" then return raw end
  local jsonapi = require "clinch.jsonapi"
  local fixed
  for _, name in ipairs(names) do
    local v = attrs[name]
    if type(v) == "table" and next(v) == nil and getmetatable(v) == nil then
      if not fixed then
        fixed = {}
        for k, x in pairs(attrs) do fixed[k] = x end
      end
      fixed[name] = jsonapi.array {}
    end
  end
  if not fixed then return raw end
  local copy = {}
  for k, x in pairs(raw) do copy[k] = x end
  copy.attributes = fixed
  return copy
end

-- A copy of a decoded value without links back into the document (resources become identifiers).
local function plain(v, depth, active)
  if type(v) ~= "table" then return v end
  if is_resource(v) then return { id = v.id, type = v.type } end
  if active[v] or depth > 64 then return nil end
  active[v] = true
  local out = {}
  for k, x in next, v do out[k] = plain(x, depth + 1, active) end
  active[v] = nil
  return out
end

local function is_linkage(v)
  if type(v) ~= "table" then return false end
  if is_resource(v) then return true end
  return v[1] ~= nil and is_resource(v[1])
end

--- A JSON:API resource object rebuilt from a decoded resource's fields, for a resource the original
-- text is not at hand for (jsonapi.raw gives nil): attributes, and relationships as identifiers.
function _M.rebuild(resource)
  local attributes, relationships = {}, {}
  for k, v in next, resource do
    if k ~= "id" and k ~= "type" and type(k) == "string" then
      if is_linkage(v) then
        relationships[k] = { data = plain(v, 1, {}) }
      else
        attributes[k] = plain(v, 1, {})
      end
    end
  end
  local out = { id = resource.id, type = resource.type, attributes = attributes }
  if next(relationships) then out.relationships = relationships end
  return fix_empty_arrays(out)
end

-- The resources of the document that a record links to (those --include asked for), through its
-- relationships and theirs, each once, in a stable order: as the API sent them.
local function included_of(record, raw_of)
  local out, seen, queue, i = {}, { [record] = true }, { record }, 1
  while queue[i] do
    local r = queue[i]
    i = i + 1
    local raw = raw_of(r)
    local rels = type(raw) == "table" and raw.relationships
    if type(rels) == "table" then
      local names = {}
      for name, rel in pairs(rels) do
        if type(name) == "string" and type(rel) == "table" and type(rel.data) == "table" then
          names[#names + 1] = name
        end
      end
      sort(names)
      for _, name in ipairs(names) do
        local linked = r[name]
        if is_resource(linked) then linked = { linked } end
        if type(linked) == "table" then
          for _, v in ipairs(linked) do
            if is_resource(v) and not seen[v] then
              seen[v] = true
              local vraw = raw_of(v)
              if type(vraw) == "table" then -- a stub (linkage to a resource not included) has none
                out[#out + 1] = fix_empty_arrays(vraw)
                queue[#queue + 1] = v
              end
            end
          end
        end
      end
    end
  end
  return out
end

--- The JSON value of a record: the resource as the API sent it, or the plain table itself. A resource
-- fetched with included resources (--include) carries those it links to in an `included` member.
function _M.json_value(record)
  if is_resource(record) then
    local jsonapi = require "clinch.jsonapi"
    local raw = jsonapi.raw(record)
    local value = type(raw) == "table" and fix_empty_arrays(raw) or _M.rebuild(record)
    local included = included_of(record, jsonapi.raw)
    if #included == 0 then return value end
    local copy = {}
    for k, x in pairs(value) do copy[k] = x end
    copy.included = included
    return copy
  end
  return record
end

-- A copy of a JSON value whose strings and keys are valid UTF-8 -> copy, replacements made. Numbers JSON
-- cannot hold (lua-cjson reads NaN and Infinity) become null. Metatables (jsonapi.array's marker) are
-- kept; JSON null is a lightuserdata and passes as it is.
local function valid_copy(v, depth)
  local tv = type(v)
  if tv == "string" then return valid(v) end
  if tv == "number" and (v ~= v or v == 1 / 0 or v == -1 / 0) then return require("clinch.jsonapi").null, 0 end
  if tv ~= "table" or depth > 256 then return v, 0 end
  local out, n = {}, 0
  for k, x in next, v do
    local kn = 0
    if type(k) == "string" then k, kn = valid(k) end
    local cx, xn = valid_copy(x, depth + 1)
    if out[k] == nil then out[k] = cx end -- two keys that differ only in bad bytes: the first wins
    n = n + kn + xn
  end
  local mt = getmetatable(v)
  if mt ~= nil then setmetatable(out, mt) end
  return out, n
end

--- The JSON text of a record (see json_value) and the number of ill-formed UTF-8 sequences that were
-- replaced to make it. Raises an error object for a value JSON cannot hold for another reason (a
-- table that contains itself).
function _M.json_text(record)
  local value = _M.json_value(record)
  local jsonapi = require "clinch.jsonapi"
  local s, err = jsonapi.encode(value)
  if s then return s, 0 end
  -- Text that is not valid UTF-8 is mended, numbers without a JSON form become null; anything else
  -- stays an error.
  local copy, n = valid_copy(value, 0)
  local fixed = jsonapi.encode(copy)
  if not fixed then error(err, 0) end
  return fixed, n
end

local function number_text(n)
  if math_type(n) == "integer" or (n == floor(n) and n > -2 ^ 53 and n < 2 ^ 53) then
    return format("%d", n)
  end
  return format("%.14g", n)
end

--- The text of a value in a CSV or table cell.
function _M.cell(v)
  local tv = type(v)
  if tv == "string" then return v end
  if tv == "number" then return number_text(v) end
  if tv == "boolean" then return tostring(v) end
  if tv ~= "table" then return "" end -- nil, JSON null
  if is_resource(v) then return v.id end
  if type(v.utc) == "string" then return v.utc end -- a DateTime attribute
  local mt = getmetatable(v)
  if mt and mt.__tostring then return tostring(v) end
  if v[1] ~= nil or next(v) == nil then
    local parts = {}
    for i, item in ipairs(v) do parts[i] = _M.cell(item) end
    return concat(parts, "; ")
  end
  local ok, s = pcall(encode, v)
  return ok and s or "{…}"
end

--- Field names of a record for a generic listing: id and type first, then its other fields sorted.
function _M.fields_of(record)
  local names, seen = {}, {}
  for _, k in ipairs { "id", "type" } do
    if record[k] ~= nil then names[#names + 1], seen[k] = k, true end
  end
  local rest = {}
  local src = record
  if is_resource(record) then
    local raw = _M.json_value(record)
    src = type(raw) == "table" and type(raw.attributes) == "table" and raw.attributes or record
  end
  for k in pairs(src) do
    -- a raw key with bad bytes is named as the decoded resource has it (see clinch.resource)
    if type(k) == "string" then k = valid(k) end
    if not seen[k] then
      seen[k] = true
      rest[#rest + 1] = k
    end
  end
  sort(rest)
  for _, k in ipairs(rest) do names[#names + 1] = k end
  return names
end

local Writer = {}
Writer.__index = Writer

--- A writer for a list of records: new{ format=, stream=, columns = { names } | nil (from the
-- first record), single = true (json writes an object; table lists fields vertically) }.
function _M.new(opts)
  return setmetatable({
    format = opts.format or "json", stream = opts.stream or io.stdout, columns = opts.columns,
    single = opts.single, count = 0, rows = {}, max_width = opts.max_width, replaced = 0,
  }, Writer)
end

--- The cells of a record for `columns` (valid UTF-8), and the number of ill-formed sequences they held
-- (those clinch.resource already mended in the record's fields count too).
function _M.cells(record, columns)
  local row, n = {}, 0
  local fixed = is_resource(record) and require("clinch.resource").replaced(record)
  for i, c in ipairs(columns) do
    local cell, cn = valid(_M.cell(record[c]))
    row[i] = cell
    n = n + cn + (fixed and fixed[c] or 0)
  end
  return row, n
end

function Writer:_row(record)
  local row, n = _M.cells(record, self.columns)
  self.replaced = self.replaced + n
  return row
end

function Writer:_json(record)
  local s, n = _M.json_text(record)
  self.replaced = self.replaced + n
  return s
end

--- Writes one record (the table format only collects it).
function Writer:write(record)
  local f, s = self.format, self.stream
  if not self.columns and (f == "csv" or f == "table") then self.columns = _M.fields_of(record) end
  self.count = self.count + 1
  if f == "jsonl" then
    s:write(self:_json(record), "\n")
  elseif f == "json" then
    if self.single then
      s:write(self:_json(record), "\n")
    else
      s:write(self.count == 1 and "[\n" or ",\n", self:_json(record))
    end
  elseif f == "csv" then
    if self.count == 1 then s:write(csv.header(self.columns)) end
    s:write(csv.record(self:_row(record), #self.columns))
  else
    self.rows[#self.rows + 1] = self.single and record or self:_row(record)
  end
end

--- Ends the output (closes the JSON array, prints the table).
function Writer:finish()
  local f, s = self.format, self.stream
  if f == "json" and not self.single then
    s:write(self.count == 0 and "[]\n" or "\n]\n")
  elseif f == "csv" and self.count == 0 and self.columns then
    s:write(csv.header(self.columns))
  elseif f == "table" then
    if self.single then
      for _, record in ipairs(self.rows) do
        local list = {}
        local cells = self:_row(record)
        for i, name in ipairs(self.columns) do list[#list + 1] = { name, cells[i] } end
        s:write(textable.vertical(list, self.max_width))
      end
    elseif self.columns then
      s:write(textable.render(self.columns, self.rows, self.max_width))
    else
      s:write("(none)\n")
    end
  end
  s:flush()
end

return _M
