--- The candidates API (`client.candidates`) and the Candidate objects it returns.
--
--   local page = assert(client.candidates:list { per_page = 100, include = { "notes", "jobs" } })
--   for cand in client.candidates:each { filter = { updated_at = { gte = "2021-01-01T00:00:00" } } } do
--     print(cand)                      -- candidate 35b24a... Jane Smith <jane.smith@example.com>
--   end
--   local cand = assert(client.candidates:create { email = "jane.smith@example.com", first_name = "Jane" })
--   assert(cand:update { last_name = "Smith" })
--   assert(cand:add_tag("Seed Data"))
--
-- A Candidate is the decoded JSON:API resource itself: `id`, `type`, the attributes and relationships
-- are its fields (relationships point at the included resources), and the methods come from its
-- metatable. No method takes the name of an attribute or relationship of the seed's Candidate schema
-- (spec/candidates_spec.lua checks), so `cand.tags` is the tags attribute, never a method.
local type, pairs, ipairs, tostring, error, setmetatable, getmetatable, require, pcall =
  type, pairs, ipairs, tostring, error, setmetatable, getmetatable, require, pcall
local concat, io = table.concat, io
local jsonapi = require "clinch.jsonapi"
local resource = require "clinch.resource"
local schema = require "clinch.schema"
local uri = require "clinch.uri"
local validate = require "clinch.validate"

local _M = {}

local fail = validate.fail

--- Methods of client.candidates (it also has the Collection methods list, each and get).
local Candidates = setmetatable({}, { __index = resource.Collection })
Candidates.__index = Candidates
Candidates.__name = "clinch.candidates"
Candidates.__tostring = resource.Collection.__tostring
_M.Candidates = Candidates

--- Methods of Candidate objects.
local Candidate = {}
_M.Candidate = Candidate

-- Option names each call accepts; every call takes the per-request options timeout and retries.
local WRITE_OPTS = { allow_unknown = true, timeout = true, retries = true }
local RELOAD_OPTS = { include = true, query = true, timeout = true, retries = true }
local CALL_OPTS = { timeout = true, retries = true }

-- Checks a call's options (level is the caller's, counted from the method calling this) and returns
-- them with the client:request options for its request.
local function call_opts(opts, allowed, fname, level)
  opts = resource.check_opts(opts, allowed, fname, level + 1)
  return opts, resource.request_opts(opts, fname, level + 1)
end

-- client:request options: the body plus the per-request options.
local function with_body(body, ropts)
  return { body = body, timeout = ropts and ropts.timeout, retries = ropts and ropts.retries }
end

local function check_attrs(attrs, fname)
  if type(attrs) ~= "table" then error(fname .. ": attributes must be a table, got " .. type(attrs), 3) end
end

-- Marks list values so that an empty one is sent as [] rather than {} (see clinch.jsonapi).
local function mark_arrays(attrs, request)
  local out = {}
  for k, v in pairs(attrs) do
    local spec = request.attributes[k]
    if spec and spec.type == "array" then
      local copy = {}
      for i, item in ipairs(v) do copy[i] = item end
      v = jsonapi.array(copy)
    end
    out[k] = v
  end
  return out
end

-- The request body of an operation after validating its attributes.
local function body_for(request, attrs, what, opts)
  local ok, err = validate.attributes(attrs, request, what, opts)
  if not ok then return nil, err end
  return { data = { type = request.type, attributes = mark_arrays(attrs, request) } }
end

local function candidate_path(self, id)
  return self.path .. "/" .. uri.segment(id)
end

--- Creates a candidate: create({ email=, first_name=, last_name=, phone_number=, tag_values= },
-- { allow_unknown=, timeout=, retries= }) -> Candidate or nil, err. The email must be plausible.
function Candidates:create(attrs, opts)
  check_attrs(attrs, "create")
  local ropts
  opts, ropts = call_opts(opts, WRITE_OPTS, "create", 2)
  local body, err = body_for(schema.requests.create, attrs, "create candidate", opts)
  if not body then return nil, err end
  local res, rerr = self.client:request("POST", self.path, with_body(body, ropts))
  if not res then return nil, rerr end
  return self:_one(res)
end

--- Updates a candidate: update(id, { first_name=, last_name= }, { allow_unknown=, timeout=, retries= })
-- -> Candidate or nil, err.
function Candidates:update(id, attrs, opts)
  resource.check_id(id, "update", 2)
  check_attrs(attrs, "update")
  local ropts
  opts, ropts = call_opts(opts, WRITE_OPTS, "update", 2)
  local body, err = body_for(schema.requests.update, attrs, "update candidate", opts)
  if not body then return nil, err end
  local res, rerr = self.client:request("PATCH", candidate_path(self, id), with_body(body, ropts))
  if not res then return nil, rerr end
  local doc = res.document
  -- A body-less success is still a success: fetch the candidate as it now is.
  if type(doc) ~= "table" or type(doc.data) ~= "table" then return self:get(id, ropts) end
  return self:_one(res)
end

--- The candidate's tags: list_tags(id, { timeout=, retries= }) -> list of tag resources
-- ({ id=, type=, name=, ... }) or nil, err.
function Candidates:list_tags(id, opts)
  resource.check_id(id, "list_tags", 2)
  local _, ropts = call_opts(opts, CALL_OPTS, "list_tags", 2)
  local res, err = self.client:request("GET", candidate_path(self, id) .. "/tags", ropts)
  if not res then return nil, err end
  local doc, derr = resource.document(res)
  if not doc then return nil, derr end
  local data = doc.data
  if type(data) ~= "table" then return resource.shape_error(res, "a list of tags (data)") end
  if data.id ~= nil or data.type ~= nil then data = { data } end
  return data
end

local function trimmed_empty(s)
  return s:match("^%s*$") ~= nil
end

--- Tags a candidate: add_tag(id, name, { timeout=, retries= }) -> the tag resource (or true when the
-- reply has none) or nil, err.
function Candidates:add_tag(id, name, opts)
  resource.check_id(id, "add_tag", 2)
  if type(name) ~= "string" then error("add_tag: tag name must be a string, got " .. type(name), 2) end
  local _, ropts = call_opts(opts, CALL_OPTS, "add_tag", 2)
  if trimmed_empty(name) then return fail("add_tag: tag name must not be empty", "name") end
  local body, err = body_for(schema.requests.tag, { name = name }, "add tag")
  if not body then return nil, err end
  local res, rerr = self.client:request("POST", candidate_path(self, id) .. "/tags", with_body(body, ropts))
  if not res then return nil, rerr end
  local doc = res.document
  if type(doc) == "table" and type(doc.data) == "table" then return doc.data end
  return true
end

local function tag_id_of(tag, fname)
  if type(tag) == "table" then tag = tag.id end
  if type(tag) ~= "string" or tag == "" then
    error(fname .. ": tag must be a tag object or a non-empty tag id string", 3)
  end
  return tag
end

--- Removes a tag from a candidate: remove_tag(id, tag, { timeout=, retries= }) where tag is a tag id
-- or a tag object -> true or nil, err.
function Candidates:remove_tag(id, tag, opts)
  resource.check_id(id, "remove_tag", 2)
  local tag_id = tag_id_of(tag, "remove_tag")
  local _, ropts = call_opts(opts, CALL_OPTS, "remove_tag", 2)
  local res, err = self.client:request("DELETE", candidate_path(self, id) .. "/tags/" .. uri.segment(tag_id),
    ropts)
  if not res then return nil, err end
  return true
end

local function basename(path)
  return path:match("([^/\\]+)$") or path
end

--- Uploads a resume: upload_resume(id, { filename=, content= } or { path=, filename= },
-- { timeout=, retries= }) -> the candidate_files resource (or true when the reply has none) or nil, err.
-- `content` is the raw file (it is base64-encoded here); a `path` is read in binary mode and its
-- basename is the default filename.
function Candidates:upload_resume(id, file, opts)
  resource.check_id(id, "upload_resume", 2)
  if type(file) ~= "table" then error("upload_resume: expected a table { filename=, content= } or { path= }", 2) end
  for k in pairs(file) do
    if k ~= "filename" and k ~= "content" and k ~= "path" then
      error("upload_resume: unknown field '" .. tostring(k) .. "' (valid: content, filename, path)", 2)
    end
  end
  local _, ropts = call_opts(opts, CALL_OPTS, "upload_resume", 2)
  local content, filename, path = file.content, file.filename, file.path
  if content ~= nil and path ~= nil then return fail("upload_resume: give content or path, not both", "content") end
  if content == nil and path == nil then return fail("upload_resume: content or path is required", "content") end
  if path ~= nil then
    if type(path) ~= "string" or path == "" then
      return fail("upload_resume: path must be a non-empty string", "path")
    end
    local f, oerr = io.open(path, "rb")
    if not f then return fail("upload_resume: cannot read " .. oerr, "path") end
    local data, rerr = f:read("*a")
    f:close()
    if not data then return fail("upload_resume: cannot read " .. path .. ": " .. tostring(rerr), "path") end
    content = data
    if filename == nil then filename = basename(path) end
  elseif type(content) ~= "string" then
    return fail("upload_resume: content must be a string (the file's bytes), got " .. type(content), "content")
  end
  if content == "" then return fail("upload_resume: the file is empty", "content") end
  if type(filename) ~= "string" or trimmed_empty(filename) then
    return fail("upload_resume: filename must be a non-empty string", "filename")
  end
  if filename:find("%c") then
    return fail("upload_resume: filename must not hold control characters", "filename")
  end
  local encoded = require("clinch.core").base64_encode(content)
  local body, err = body_for(schema.requests.file, { filename = filename, content = encoded }, "upload resume")
  if not body then return nil, err end
  local res, rerr = self.client:request("POST", candidate_path(self, id) .. "/candidate_files",
    with_body(body, ropts))
  if not res then return nil, rerr end
  local doc = res.document
  if type(doc) == "table" and type(doc.data) == "table" then return doc.data end
  return true
end

-- Candidate objects ---------------------------------------------------------------------------------

-- The collection a candidate came from lives in its metatable, not in a field, so that the object's
-- namespace holds only the resource's own data.
local function collection_of(cand, fname)
  local mt = getmetatable(cand)
  local coll = type(mt) == "table" and mt.collection
  if not coll then error("candidate:" .. fname .. ": not a candidate object (use cand:" .. fname .. "(...))", 3) end
  if type(cand.id) ~= "string" then error("candidate:" .. fname .. ": the candidate has no id", 3) end
  return coll
end

-- Replaces the fields of `cand` by those of `fresh` (another decoded candidate), keeping identity.
local function refresh(cand, fresh)
  if fresh == cand then return cand end
  for k in pairs(cand) do cand[k] = nil end
  for k, v in pairs(fresh) do cand[k] = v end
  jsonapi.adopt(cand, fresh)
  return cand
end

--- cand:update(attrs, { allow_unknown=, timeout=, retries= }) -> cand (its fields refreshed from the
-- reply) or nil, err.
function Candidate:update(attrs, opts)
  local coll = collection_of(self, "update")
  check_attrs(attrs, "update")
  call_opts(opts, WRITE_OPTS, "update", 2) -- here, so that a mistake points at the caller
  local fresh, err = coll:update(self.id, attrs, opts)
  if not fresh then return nil, err end
  return refresh(self, fresh)
end

--- cand:reload({ include=, timeout=, retries= }) -> cand (its fields refreshed from the server) or nil, err.
function Candidate:reload(opts)
  local coll = collection_of(self, "reload")
  opts = call_opts(opts, RELOAD_OPTS, "reload", 2)
  if type(opts.query) == "table" then
    -- get would raise a query value with no query form at this line: raise it at the caller's
    local ok, why = pcall(uri.query, opts.query)
    if not ok then error(why, 2) end
  end
  local fresh, err = coll:get(self.id, opts)
  if not fresh then return nil, err end
  return refresh(self, fresh)
end

-- The methods below end in a tail call, so the collection's argument errors (level 2) point at the
-- caller of the method.

--- cand:list_tags({ timeout=, retries= }) -> list of tag resources or nil, err.
function Candidate:list_tags(opts)
  return collection_of(self, "list_tags"):list_tags(self.id, opts)
end

--- cand:add_tag(name, { timeout=, retries= }) -> tag resource or nil, err.
function Candidate:add_tag(name, opts)
  return collection_of(self, "add_tag"):add_tag(self.id, name, opts)
end

--- cand:remove_tag(tag, { timeout=, retries= }) (a tag object or its id) -> true or nil, err.
function Candidate:remove_tag(tag, opts)
  local coll = collection_of(self, "remove_tag")
  return coll:remove_tag(self.id, tag_id_of(tag, "remove_tag"), opts)
end

--- cand:upload_resume({ filename=, content= } or { path= }, { timeout=, retries= }) -> candidate_files
-- resource or nil, err.
function Candidate:upload_resume(file, opts)
  return collection_of(self, "upload_resume"):upload_resume(self.id, file, opts)
end

-- One line, whatever the data holds: control characters (a newline in a name) become spaces.
local function clean(s)
  return (tostring(s):gsub("%c", " "))
end

local function candidate_tostring(cand)
  local parts = { "candidate", clean(cand.id or "?") }
  local name = cand.name
  if type(name) ~= "string" or name == "" then
    local names = {}
    if type(cand.first_name) == "string" and cand.first_name ~= "" then names[#names + 1] = cand.first_name end
    if type(cand.last_name) == "string" and cand.last_name ~= "" then names[#names + 1] = cand.last_name end
    name = concat(names, " ")
  end
  if name ~= "" then parts[#parts + 1] = clean(name) end
  if type(cand.email) == "string" and cand.email ~= "" then parts[#parts + 1] = "<" .. clean(cand.email) .. ">" end
  return concat(parts, " ")
end
_M.tostring = candidate_tostring

--- True when `v` is a Candidate object.
function _M.is_candidate(v)
  local mt = getmetatable(v)
  return type(mt) == "table" and mt.__index == Candidate
end

--- The candidates collection of a client (client.candidates).
function _M.new(client)
  -- One metatable per collection: it carries the collection for the methods.
  local mt = { __index = Candidate, __tostring = candidate_tostring, __name = "clinch.candidate" }
  local coll = resource.new(client, "/candidates", {
    includes = schema.candidate_include,
    filters = schema.candidate_filter,
    wrap = function(res)
      -- A resource decoded twice (in two pages) is never re-wrapped, and a foreign metatable is kept.
      if getmetatable(res) == nil then setmetatable(res, mt) end
      return res
    end,
    class = Candidates,
  })
  mt.collection = coll
  return coll
end

return _M
