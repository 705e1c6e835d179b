--- Output of records in the CLI's formats: `json` (one document: an array for lists, an object for one
-- record), `jsonl` (one JSON object per line), `csv` (RFC 4180, with a header) and `table` (aligned, for
-- a terminal). A record is a resource (written in JSON as a JSON:API resource object rebuilt from the
-- decoded resource: its attributes under the API's names, empty lists as [], relationships as
-- identifiers; the body is not parsed again, but to tell an empty relationship of a type the contract
-- does not describe from an empty attribute) or a plain table of fields. Lists stream: JSON, JSONL
-- and CSV are written record by record, so `--all` over a large account holds one page at a time;
-- only the table format, which needs every width, collects its rows.
--
-- Output is always valid UTF-8: text that is not (lua-cjson passes the server's bytes through) has each
-- ill-formed sequence replaced by U+FFFD, and the writer counts the replacements (writer.replaced),
-- which the CLI reports. The record is never dropped and the run goes on.
local type, pairs, ipairs, tostring, getmetatable, setmetatable, pcall, require, next =
  type, pairs, ipairs, tostring, getmetatable, setmetatable, pcall, require, next
local error = error
local io = io
local concat, sort = table.concat, table.sort
local csv = require "clinch.cli.csv"
local textable = require "clinch.cli.textable"
local valid = require("clinch.text").valid
local text_number = require("clinch.text").number

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

-- What the contract says of a resource type (clinch.registry): its array attributes, its relationship
-- names (a decoded relationship is a field like an attribute, and an empty to-many one is an empty
-- table: these say which fields are relationships), and its attribute names (the columns of a generic
-- listing, also those a record leaves out: decoding drops JSON null). nil for a type it does not describe.
local registry = require "clinch.registry"
local arrays_of, attributes_of, relationship_set = registry.arrays, registry.attributes, registry.relationships

-- `v` as an array for JSON when `name` is an array attribute of the type: lua-cjson 2.1.0 reads an
-- empty JSON array as an empty table, which would be written back as {}. For a type the contract does
-- not describe, every empty table is taken for an empty list: the API's attributes hold lists far
-- more often than objects, and the README promises empty lists as [].
local function array_fix(ty, name, v)
  if type(v) ~= "table" or next(v) ~= nil or getmetatable(v) ~= nil then return v end
  local names = arrays_of(ty)
  if not names then return require("clinch.jsonapi").array {} end
  for _, n in ipairs(names) do
    if n == name then return require("clinch.jsonapi").array {} end
  end
  return v
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

-- Whether field `k` of `resource` (of type `ty`) holding `v` is a relationship: by the contract's
-- names where the type has them; otherwise by the resource object as the server sent it (an empty
-- to-many relationship decodes to an empty table, which no shape tells from an empty attribute), and
-- by the value's shape for a resource that did not come from a document.
local function is_relationship(resource, ty, k, v)
  local set = relationship_set(ty)
  if set then return set[k] == true end
  if type(v) == "table" and next(v) == nil and getmetatable(v) == nil then
    -- (the one case that parses the body again, once per document: clinch.jsonapi.raw)
    local raw = require("clinch.jsonapi").raw(resource)
    if type(raw) == "table" then return type(raw.relationships) == "table" and raw.relationships[k] ~= nil end
  end
  return is_linkage(v)
end

-- A stub: linkage to a resource the response did not include ({ id =, type = } and nothing else).
local function stub(v)
  for k in next, v do
    if k ~= "id" and k ~= "type" then return false end
  end
  return true
end

--- A JSON:API resource object rebuilt from a decoded resource's fields: attributes under the API's
-- names (empty lists as []), relationships as identifiers. JSON null, which decoding leaves out, is
-- not written; resource-level links and meta are not fields, and are not written either.
function _M.rebuild(resource)
  local attributes, relationships = {}, {}
  local ty = resource.type
  for k, v in next, resource do
    if k ~= "id" and k ~= "type" and type(k) == "string" then
      if is_relationship(resource, ty, k, v) then
        local data = plain(v, 1, {})
        if type(data) == "table" and next(data) == nil then data = require("clinch.jsonapi").array {} end
        relationships[k] = { data = data }
      else
        attributes[k] = array_fix(ty, k, plain(v, 1, {}))
      end
    end
  end
  local out = { id = resource.id, type = ty, attributes = attributes }
  if next(relationships) then out.relationships = relationships end
  return out
end

-- The resources of the document that a record links to (those --include asked for), through its
-- relationships and theirs, each once, in a stable order (relationship names sorted). Stubs are left
-- out: the response did not include them.
-- Also returns the decoded resources written.
local function included_of(record)
  local out, seen, queue, i = {}, { [record] = true }, { record }, 1
  while queue[i] do
    local r = queue[i]
    i = i + 1
    local names = {}
    for k, v in next, r do
      if type(k) == "string" and k ~= "id" and k ~= "type" and is_linkage(v) then names[#names + 1] = k end
    end
    sort(names)
    for _, name in ipairs(names) do
      local linked = r[name]
      if is_resource(linked) then linked = { linked } end
      for _, v in ipairs(linked) do
        if is_resource(v) and not seen[v] then
          seen[v] = true
          if not stub(v) then
            out[#out + 1] = _M.rebuild(v)
            queue[#queue + 1] = v
          end
        end
      end
    end
  end
  table.remove(queue, 1)
  return out, queue
end

-- How many ill-formed UTF-8 sequences clinch.resource replaced in a decoded resource's fields.
local function replaced_in(resource)
  local fixed, n = require("clinch.resource").replaced(resource), 0
  for _, c in pairs(fixed or {}) do n = n + c end
  return n
end

--- The JSON value of a record: the rebuilt resource, or the plain table itself. A resource fetched
-- with included resources (--include) carries those it links to in an `included` member. Also
-- returns how many ill-formed UTF-8 sequences decoding already replaced in what it holds.
function _M.json_value(record)
  if is_resource(record) then
    local value, n = _M.rebuild(record), replaced_in(record)
    local included, from = included_of(record)
    if #included > 0 then value.included = included end
    for _, r in ipairs(from) do n = n + replaced_in(r) end
    return value, n
  end
  return record, 0
end

--- The JSON value of one page as the API sent it, for `list --envelope`: { data = [resource objects],
-- meta =, links = } and, when the page has included resources (--include), `included` (each once, as
-- the document listed them) instead of a member of each record. Also returns how many ill-formed UTF-8
-- sequences decoding already replaced in what it holds.
function _M.envelope_value(page)
  local jsonapi = require "clinch.jsonapi"
  local data, n = jsonapi.array {}, 0
  for i, r in ipairs(page) do
    if is_resource(r) then
      data[i], n = _M.rebuild(r), n + replaced_in(r)
    else
      data[i] = r
    end
  end
  local doc = { data = data, meta = plain(page.meta, 1, {}), links = plain(page.links, 1, {}) }
  if type(page.included) == "table" and #page.included > 0 then
    local included = {}
    for i, r in ipairs(page.included) do
      included[i], n = is_resource(r) and _M.rebuild(r) or plain(r, 1, {}), n + (is_resource(r) and replaced_in(r) or 0)
    end
    doc.included = included
  end
  return doc, n
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

--- The JSON text of a record (see json_value; or of `value`, a JSON value already made, which held
-- `done` replaced sequences) and the number of ill-formed UTF-8 sequences that were replaced to make
-- it. Raises an error object for a value JSON cannot hold for another reason (a table that contains
-- itself).
function _M.json_text(record, value, done)
  if value == nil then value, done = _M.json_value(record) end
  local jsonapi = require "clinch.jsonapi"
  local s, err = jsonapi.encode(value)
  if s then return s, done end
  -- Text that is not valid UTF-8 is mended, numbers without a JSON form become null; anything else
  -- stays an error.
  local copy, n = valid_copy(value, 0)
  local fixed = jsonapi.encode(copy)
  if not fixed then error(err, 0) end
  return fixed, n + done
end

--- The text of a value in a CSV or table cell.
function _M.cell(v)
  local tv = type(v)
  if tv == "string" then return v end
  if tv == "number" then return text_number(v) or "" end -- NaN and infinities have no text
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

--- The value of column `name` of a record: a field, or a dotted path through relationships into the
-- related resources' fields ("notes.content", "jobs.title"; see clinch.cli.columns). Through a to-many
-- relationship it is the list of the values of its resources (lists flattened; a resource the
-- response did not include has no fields but id and type).
function _M.lookup(record, name)
  if type(record) ~= "table" then return nil end
  local head, rest = name:match("^([^.]+)%.(.+)$")
  if not head or record[name] ~= nil then return record[name] end
  local linked = record[head]
  if type(linked) ~= "table" then return nil end
  if is_resource(linked) then return _M.lookup(linked, rest) end
  local out = {}
  for _, item in ipairs(linked) do
    local v = _M.lookup(item, rest)
    if type(v) == "table" and v[1] ~= nil and not is_resource(v) then
      for _, x in ipairs(v) do out[#out + 1] = x end
    elseif v ~= nil then
      out[#out + 1] = v
    end
  end
  return out
end

--- The JSON value of a record for --fields: an object of the named columns (see lookup), each value
-- as JSON writes a field (resources as identifiers, empty lists as []).
function _M.project(record, columns)
  local out = {}
  for _, c in ipairs(columns) do
    local v = plain(_M.lookup(record, c), 1, {})
    if type(v) == "table" and next(v) == nil and getmetatable(v) == nil then v = require("clinch.jsonapi").array {} end
    out[c] = v
  end
  return out
end

--- Field names of a record for a generic listing: id and type first, then its other fields sorted.
function _M.fields_of(record)
  local names, seen = {}, {}
  for _, k in ipairs { "id", "type" } do
    if record[k] ~= nil then names[#names + 1], seen[k] = k, true end
  end
  local rest = {}
  local function add(k)
    if type(k) == "string" and not seen[k] then
      seen[k] = true
      rest[#rest + 1] = k
    end
  end
  if is_resource(record) then
    for _, k in ipairs(attributes_of(record.type) or {}) do add(k) end
    for k, v in next, record do
      if not is_relationship(record, record.type, k, v) then add(k) end
    end
  else
    for k in pairs(record) do add(k) end
  end
  sort(rest)
  for _, k in ipairs(rest) do names[#names + 1] = k end
  return names
end

local Writer = {}
Writer.__index = Writer

--- A writer for a list of records: new{ format=, stream=, columns = { names } | nil (from the
-- first record), single = true (json writes an object; table lists fields vertically), project =
-- true (json and jsonl write each record as an object of the columns only: --fields) }.
function _M.new(opts)
  return setmetatable({
    format = opts.format or "json", stream = opts.stream or io.stdout, columns = opts.columns,
    single = opts.single, project = opts.project and opts.columns ~= nil, count = 0, rows = {},
    max_width = opts.max_width, replaced = 0,
  }, Writer)
end

--- The cells of a record for `columns` (valid UTF-8), and the number of ill-formed sequences they held
-- (those clinch.resource already mended in the record's fields count too).
function _M.cells(record, columns)
  local row, n = {}, 0
  local fixed = is_resource(record) and require("clinch.resource").replaced(record)
  for i, c in ipairs(columns) do
    local cell, cn = valid(_M.cell(_M.lookup(record, c)))
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
  local s, n
  if self.project then
    s, n = _M.json_text(nil, _M.project(record, self.columns), 0)
  else
    s, n = _M.json_text(record)
  end
  self.replaced = self.replaced + n
  return s
end

--- Writes one page as its JSON document (see envelope_value); the json format only.
function Writer:write_envelope(page)
  local value, done = _M.envelope_value(page)
  local s, n = _M.json_text(nil, value, done)
  self.replaced = self.replaced + n
  self.stream:write(s, "\n")
  self.stream:flush()
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

--- Ends an output that a failure cut short: what was written stays, but a JSON array is left open,
-- so that no reader can take part of a list for all of it (the exit code says so too, but a pipe
-- into jq does not pass it on); JSON Lines and CSV hold whole records only, and a table shows its rows.
function Writer:abort()
  if self.format == "json" and not self.single then
    if self.count > 0 then self.stream:write("\n") end
    self.stream:flush()
    return
  end
  self:finish()
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
