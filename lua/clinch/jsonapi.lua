--- JSON:API documents: decoding responses (parsed by lua-cjson, linked by the C core, see csrc/decode.c,
-- or on LuaJIT by its Lua twin clinch.link) and encoding request bodies.
--
--    local doc, err = jsonapi.decode(text)   -- doc.data, doc.included, doc.meta, doc.links, doc.errors
--    jsonapi.raw(resource)                   -- the resource object exactly as lua-cjson parsed it
--    jsonapi.is_datetime(v)
--    local body, err = jsonapi.encode(value) -- jsonapi.array{} encodes as [], jsonapi.null as null
--
-- Decoded resources are plain tables: `id`, `type`, each attribute as a field, each relationship as a
-- field holding the related resource table (to-one, or nil) or an array of them (to-many). The same
-- type+id is the same table throughout a document. Given more than once, it holds the union of its
-- copies' attributes and relationships, member by member: primary data wins over `included`, and within
-- either the later copy wins, as a repeated member name does in lua-cjson; a member's null wins too, and
-- a relationship wins over an attribute of the same name in any copy. jsonapi.raw gives the winning copy.
-- Linkage to a resource the document does not hold is a `{ id =, type = }` stub. The top level must be
-- an object. Ids are strings: a numeric id is accepted as its decimal string only when it
-- is integral and below `2^53` (beyond, cjson may have parsed two ids to one number), else decode fails.
-- JSON null is absent (nulls inside arrays are dropped and the array compacted); integral numbers are
-- integers on Lua 5.3+; DateTime objects ({utc, epoch, ...}) have a metatable: tostring gives utc, and
-- ==, <, <= compare epochs. Resource-level `links` and `meta` are not
-- fields (Candidate has an attribute called `links`): read them through jsonapi.raw(resource).
-- @module clinch.jsonapi
local core = require "clinch.core"
local raise = require("clinch.check").raise -- programming mistakes, at the user's line
local errors = require "clinch.errors"
local valid_utf8 = require("clinch.validate").utf8

local type, next, tostring, getmetatable, setmetatable, select =
  type, next, tostring, getmetatable, setmetatable, select
local byte, find, format, gsub = string.byte, string.find, string.format, string.gsub
local concat, sort = table.concat, table.sort
local floor = math.floor

local MAX_DEPTH = 128

local cjson_ok, cjson = pcall(require, "cjson.safe")
-- A private instance: the application's cjson settings never change what we parse.
local raw_decode
if cjson_ok and type(cjson) == "table" and cjson.new then
  local instance = cjson.new()
  instance.decode_max_depth(MAX_DEPTH)
  raw_decode = instance.decode
end

local _M = {}

--- JSON null as lua-cjson represents it (a lightuserdata), for raw objects and for encode.
_M.null = cjson_ok and cjson.null or nil

--- The metatable of decoded DateTime objects.
_M.DateTime = core.DateTime

-- The linker: on LuaJIT the compiled Lua of clinch.link beats the C core, whose walk over every value
-- through the Lua C API costs more there than the parse's own share (bench/decode.lua); on PUC Lua the
-- C core is the faster. Both give the same documents and errors (spec/decode_paths_spec.lua).
local decode_linked = core.decode
--- Which linker jsonapi.decode uses: "lua" (clinch.link, on LuaJIT) or "c" (the C core).
_M.linker = "c"
if type(rawget(_G, "jit")) == "table" then
  decode_linked = require("clinch.link").decode
  _M.linker = "lua"
end

-- resource table -> its document's text, as the linkers store it (csrc/decode.c); once jsonapi.raw
-- has looked at the resource, the document's source table { text =, index = } instead.
local raw_map = setmetatable({}, { __mode = "k" })
-- text -> the source table of a document with that text, while a resource points at it: the resources
-- jsonapi.raw looks at share one parse of their document. (A source table made at decode time would
-- cost every decode a table, for the few documents jsonapi.raw is ever asked about.)
local sources = setmetatable({}, { __mode = "v" })

--- Decodes and links a JSON:API document. Returns the document, or nil and an error of kind "decode"
-- whose message says where the document is wrong (kind "unsupported" when lua-cjson is missing).
-- @tparam string text the response body
-- @treturn table the document: `data`, `included`, `meta`, `links`, `errors`
-- @return[2] nil
-- @treturn[2] Error err kind decode (or unsupported)
-- @raise for text that is not a string
function _M.decode(text)
  if type(text) ~= "string" then raise("jsonapi.decode expects a string, got " .. type(text)) end
  local doc, msg, kind = decode_linked(text, raw_map)
  if doc then return doc end
  return nil, errors.new { kind = kind, message = msg }
end

-- Keys of the raw index, as core.decode makes them: an integral number below 2^53 is its decimal
-- string; core.decode refuses any other numeric id, so such an id needs no key.
local function id_key(id)
  if type(id) == "number" then
    if id == floor(id) and id > -2 ^ 53 and id < 2 ^ 53 then return format("%.0f", id) end
    return nil
  end
  return id
end

-- type -> id -> raw object for a document: of the copies of a type+id, the one registered last, as
-- in core.decode, where its members win (`included` is registered before `data`).
local function index_raw(tree)
  local index = {}
  local function add(r)
    if type(r) ~= "table" then return end
    local ty, id = r.type, id_key(r.id)
    if type(ty) ~= "string" or type(id) ~= "string" then return end
    local byid = index[ty]
    if not byid then
      byid = {}
      index[ty] = byid
    end
    byid[id] = r
  end
  if type(tree.included) == "table" then
    for i = 1, #tree.included do add(tree.included[i]) end
  end
  local data = tree.data
  if type(data) == "table" then
    if data[1] == nil and next(data) ~= nil then
      add(data)
    else
      for i = 1, #data do add(data[i]) end
    end
  end
  return index
end

--- The original resource object of a decoded resource as lua-cjson parsed it (attributes with their
-- original names and values, nulls as jsonapi.null, resource-level links and meta), or nil for a stub
-- or a table that did not come from jsonapi.decode. The document is parsed again on first use (and
-- that parse serves every resource of the document, and of any document of the same text: treat raw
-- objects as read-only); the object is found by the resource's type and id, so those two fields must
-- not have been changed.
-- @tparam table resource a resource table of a decoded document
-- @treturn table|nil the resource object as sent, or nil
-- @raise for resource that is not a table
function _M.raw(resource)
  if type(resource) ~= "table" then raise("jsonapi.raw expects a resource table, got " .. type(resource)) end
  local src = raw_map[resource]
  if not src or not raw_decode then return nil end
  if type(src) == "string" then -- first look at this resource: its document's shared source table
    local text = src
    src = sources[text]
    if not src then
      src = { text = text }
      sources[text] = src
    end
    raw_map[resource] = src
  end
  local index = src.index
  if not index then
    local tree = raw_decode(src.text)
    if type(tree) ~= "table" then return nil end
    index = index_raw(tree)
    src.index = index
  end
  local byid = index[resource.type]
  return byid and byid[resource.id]
end

--- After `target` was refreshed in place from another decoded resource `source` (cand:reload), makes
-- jsonapi.raw(target) give the newer document's object.
-- @tparam table target the refreshed resource
-- @tparam table source the resource its fields came from
-- @return nothing
-- @raise nothing
function _M.adopt(target, source)
  raw_map[target] = raw_map[source]
end

--- True when v is a decoded DateTime object.
-- @param v any value
-- @treturn boolean
-- @raise nothing
function _M.is_datetime(v)
  return type(v) == "table" and getmetatable(v) == core.DateTime
end

-- Encoding ---------------------------------------------------------------------------------------------

local array_mt = { __name = "clinch.jsonapi.array" }
_M.array_mt = array_mt

--- Marks a table as a JSON array, so that an empty one encodes as [] (lua-cjson would write {}).
-- Returns the table (a new one when called without argument).
-- @tparam[opt] table t the list (default a new empty one)
-- @treturn table t, marked
-- @raise for t that is not a table, or a table with another metatable
function _M.array(t)
  if t == nil then t = {} end
  if type(t) ~= "table" then raise("jsonapi.array expects a table, got " .. type(t)) end
  local mt = getmetatable(t)
  if mt ~= nil and mt ~= array_mt then raise("jsonapi.array: the table already has a metatable") end
  return setmetatable(t, array_mt)
end

local ESCAPES = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n",
  ["\r"] = "\\r", ["\t"] = "\\t" }
local function escape_char(c)
  return ESCAPES[c] or format("\\u%04x", byte(c))
end


-- Exact decimal text for a number (clinch.text.number): lua-cjson 2.1.0 rounds to 14 digits.
local number_text = require("clinch.text").number

-- Paths name fields the way Lua code reaches them: data.attributes.tags[2]; "" is the value itself.
local function fail(path, what)
  local where = path == "" and "value" or path
  return errors.new { kind = "validation", field = where, message = "encode: " .. where .. ": " .. what,
                      sent = false }
end

local function key_path(path, k)
  if find(k, "^[%a_][%w_]*$") then return path == "" and k or path .. "." .. k end
  -- other keys in brackets, with every unusual byte as \ddd so that a message stays printable text
  return path .. '["' .. gsub(k, "[^%w_ %-%.:/]", function(c) return format("\\%d", byte(c)) end) .. '"]'
end

local encode_value

-- Appends the JSON of table t to buf. Returns nil or an error.
local function encode_table(t, buf, path, depth, active)
  if depth > MAX_DEPTH then return fail(path, "nesting deeper than " .. MAX_DEPTH .. " levels") end
  if active[t] then return fail(path, "table contains itself") end
  active[t] = true
  local count, max, strings = 0, 0, 0
  for k in next, t do
    count = count + 1
    local tk = type(k)
    if tk == "string" then
      strings = strings + 1
    elseif tk == "number" and k >= 1 and k == floor(k) then
      if k > max then max = k end
    else
      active[t] = nil
      return fail(path, "key " .. tostring(k) .. " is neither a string nor an array index")
    end
  end
  local err
  if strings == 0 and (count > 0 or getmetatable(t) == array_mt) then
    if max ~= count then
      active[t] = nil
      return fail(path, "sparse array (" .. count .. " elements, highest index " .. max .. ")")
    end
    buf[#buf + 1] = "["
    for i = 1, max do
      if i > 1 then buf[#buf + 1] = "," end
      err = encode_value(t[i], buf, path .. "[" .. i .. "]", depth + 1, active)
      if err then break end
    end
    buf[#buf + 1] = "]"
  elseif strings ~= count then
    active[t] = nil
    return fail(path, "table mixes array elements and string keys")
  else
    local keys = {}
    for k in next, t do keys[#keys + 1] = k end
    sort(keys)
    buf[#buf + 1] = "{"
    for i = 1, #keys do
      local k = keys[i]
      local kpath = key_path(path, k)
      if not valid_utf8(k) then err = fail(kpath, "key is not valid UTF-8") break end
      if i > 1 then buf[#buf + 1] = "," end
      buf[#buf + 1] = '"' .. gsub(k, '[%c"\\]', escape_char) .. '":'
      err = encode_value(t[k], buf, kpath, depth + 1, active)
      if err then break end
    end
    buf[#buf + 1] = "}"
  end
  active[t] = nil
  return err
end

function encode_value(v, buf, path, depth, active)
  local tv = type(v)
  if tv == "string" then
    if not valid_utf8(v) then return fail(path, "string is not valid UTF-8") end
    buf[#buf + 1] = '"' .. gsub(v, '[%c"\\]', escape_char) .. '"'
  elseif tv == "number" then
    local s = number_text(v)
    if not s then return fail(path, "number " .. tostring(v) .. " has no JSON form") end
    buf[#buf + 1] = s
  elseif tv == "boolean" then
    buf[#buf + 1] = v and "true" or "false"
  elseif tv == "table" then
    return encode_table(v, buf, path, depth, active)
  elseif v == nil or (_M.null ~= nil and v == _M.null) then
    buf[#buf + 1] = "null"
  else
    return fail(path, "a " .. tv .. " has no JSON form")
  end
end

--- Encodes a Lua value as JSON for a request body. Returns the text, or nil and an error of kind
-- "validation" naming the offending field (err.field, e.g. "data.attributes.tags[2]") for sparse
-- arrays, invalid UTF-8, non-finite numbers, cycles and values JSON cannot hold. Object keys are
-- sorted, so the same value always gives the same bytes. Integers are written exactly.
-- @param value a table, string, number, boolean, nil or jsonapi.null
-- @param ... nothing: a second argument raises
-- @treturn string the JSON text
-- @return[2] nil
-- @treturn[2] Error err kind validation, `field` naming the value at fault
-- @raise for more than one argument
function _M.encode(value, ...)
  if select("#", ...) > 0 then raise("jsonapi.encode takes one value") end
  local buf = {}
  local err = encode_value(value, buf, "", 1, {})
  if err then return nil, err end
  return concat(buf)
end

return _M
