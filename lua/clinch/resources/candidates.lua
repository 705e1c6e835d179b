--- The candidates resource (`client.candidates`, `clinch candidates ...`) and its Candidate objects:
-- the contract's Candidate schema and operations, registered in clinch.registry.
--
--    local page = assert(client.candidates:list { per_page = 100, include = { "notes", "jobs" } })
--    for cand in client.candidates:each { filter = { updated_at = { gte = "2021-01-01T00:00:00" } } } do
--      print(cand)                      -- candidate 35b24a... Jane Smith <jane.smith@example.com>
--    end
--    local cand = assert(client.candidates:create { email = "jane.smith@example.com", first_name = "Jane" })
--    assert(cand:update { last_name = "Smith" })
--    assert(cand:add_tag("Seed Data"))
--
-- A Candidate is the decoded JSON:API resource itself: `id`, `type`, the attributes and relationships
-- are its fields (relationships point at the included resources), and the methods come from its
-- metatable. No method takes the name of an attribute or relationship of the contract's Candidate
-- schema (spec/candidates_spec.lua checks), so `cand.tags` is the tags attribute, never a method.
-- Paths, the include names, the filters and the request bodies are the contract's (clinch.contract,
-- with the project's overlay in clinch.schema).
-- @module clinch.resources.candidates
local type, pairs, ipairs, tostring, require, getmetatable = type, pairs, ipairs, tostring, require, getmetatable
local concat, io = table.concat, io
local check = require "clinch.check"
local contract = require "clinch.contract"
local jsonapi = require "clinch.jsonapi"
local resource = require "clinch.resource"
local schema = require "clinch.schema"
local validate = require "clinch.validate"

local fail = validate.fail
local arg = check.arg -- programming mistakes raise at the user's line
local ops = contract.operations

-- One line, whatever the data holds: control characters (a newline in a name) become spaces.
local clean = resource.clean

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

local def = resource.define {
  name = "candidates", schema = "Candidate", label = "candidate", var = "cand",
  path = ops.listCandidates.path, item_path = ops.getCandidate.path,
  includes = contract.parameters.candidateInclude.enum,
  filters = schema.filter("candidateFilter", "Candidate"),
  -- The CLI's default csv and table columns (a presentation choice; each names a Candidate attribute).
  columns = { "id", "email", "first_name", "last_name", "phone_number", "tags", "updated_at" },
  tostring = candidate_tostring,
}

--- Methods of client.candidates (it also has the Collection methods list, each and get).
local Candidates = def.Collection
--- Methods of Candidate objects (they also have reload).
local Candidate = def.Object

-- Option names each call accepts; every call takes the per-request options timeout and retries.
local WRITE_OPTS = { allow_unknown = true, timeout = true, retries = true }
local CALL_OPTS = { timeout = true, retries = true }

-- Checks a call's options and returns them with the client:request options for its request.
local function call_opts(opts, allowed, fname)
  opts = resource.check_opts(opts, allowed, fname)
  return opts, resource.request_opts(opts, fname)
end

-- client:request options: the body plus the per-request options.
local function with_body(body, ropts)
  return { body = body, timeout = ropts and ropts.timeout, retries = ropts and ropts.retries }
end

local function check_attrs(attrs, fname)
  arg(type(attrs) == "table", fname .. ": attributes must be a table, got " .. type(attrs))
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

-- The path of an operation of the contract for candidate `id` (and tag `tag_id`).
local function path_of(operation, id, tag_id)
  return resource.expand(ops[operation].path, id, tag_id)
end

--- Creates a candidate: create({ email=, first_name=, last_name=, phone_number=, tag_values= },
-- { allow_unknown=, timeout=, retries= }) -> Candidate or nil, err. The email must be plausible.
-- `cand.created` says what the API did: true when it created the candidate (201), false when it
-- answered 200, matching an existing candidate by the email (and updating it with the attributes
-- sent). It is no field of the Candidate (see resource.outcome): the contract's Candidate has no
-- attribute or relationship of that name (spec/candidates_spec.lua checks), and get, list or each
-- give Candidates without it.
-- @tparam table attrs the attributes: `email` (required), `first_name`, `last_name`, `phone_number`,
--   `tag_values` (a list of tag names)
-- @tparam[opt] table opts `allow_unknown` (send attributes the contract does not list), `timeout`, `retries`
-- @treturn Candidate the candidate, `created` true or false
-- @return[2] nil
-- @treturn[2] Error err kind validation (refused before sending, or HTTP 422), or the request's error
-- @raise for attrs that is not a table, or an unknown option
-- @within Candidates
function Candidates:create(attrs, opts)
  check_attrs(attrs, "create")
  local ropts
  opts, ropts = call_opts(opts, WRITE_OPTS, "create")
  local body, err = body_for(schema.request("createCandidate"), attrs, "create candidate", opts)
  if not body then return nil, err end
  local res, rerr = self.client:request(ops.createCandidate.method, ops.createCandidate.path, with_body(body, ropts))
  if not res then return nil, rerr end
  local cand, cerr = resource.one(res)
  if not cand then return nil, cerr end
  if type(getmetatable(cand)) ~= "table" then return cand end -- a resource of another type than ours
  return resource.outcome(cand, "created", res.status == 201)
end

-- THE UPDATE RULE: update accepts every attribute create accepts (createCandidate's, with its value
-- rules: a plausible email, a list of tag names), and those of the contract's updateCandidate schema;
-- none is required. The contract's update schema names only first_name and last_name (with examples
-- "New first name"), but createCandidate itself updates the candidate an email already belongs to with
-- every attribute it takes: the API accepts them as changes. One rule for the library and the CLI
-- (whose `candidates update` options are create's), so `allow_unknown` is for what neither names.
local update_request
local function update_rules()
  if update_request then return update_request end
  local upd, cre = schema.request("updateCandidate"), schema.request("createCandidate")
  local attributes = {}
  for k, v in pairs(cre.attributes) do attributes[k] = v end
  for k, v in pairs(upd.attributes) do attributes[k] = v end
  update_request = { type = upd.type, attributes = attributes, required = upd.required or {} }
  return update_request
end

--- Updates a candidate: update(id, { first_name=, last_name=, email=, phone_number=, tag_values= },
-- { allow_unknown=, timeout=, retries= }) -> Candidate or nil, err. It takes every attribute create
-- takes, checked by create's rules.
-- @tparam string id the candidate's id
-- @tparam table attrs the attributes to change, any of create's: email, first_name, last_name, phone_number, tag_values
-- @tparam[opt] table opts `allow_unknown` (send attributes create does not take), `timeout`, `retries`
-- @treturn Candidate the candidate as it now is
-- @return[2] nil
-- @treturn[2] Error err kind validation (an attribute update does not take), not_found, or the request's
-- @raise for an id that is not a non-empty string, attrs that is not a table, or an unknown option
-- @within Candidates
function Candidates:update(id, attrs, opts)
  resource.check_id(id, "update")
  check_attrs(attrs, "update")
  local ropts
  opts, ropts = call_opts(opts, WRITE_OPTS, "update")
  local body, err = body_for(update_rules(), attrs, "update candidate", opts)
  if not body then return nil, err end
  local res, rerr = self.client:request(ops.updateCandidate.method, path_of("updateCandidate", id),
    with_body(body, ropts))
  if not res then return nil, rerr end
  local doc = res.document
  -- A body-less success is still a success: fetch the candidate as it now is.
  if type(doc) ~= "table" or type(doc.data) ~= "table" then return self:get(id, ropts) end
  return resource.one(res)
end

--- The candidate's tags: list_tags(id, { timeout=, retries= }) -> list of tag resources
-- ({ id=, type=, name=, ... }) or nil, err.
-- @tparam string id the candidate's id
-- @tparam[opt] table opts `timeout`, `retries`
-- @treturn table the list of tags
-- @return[2] nil
-- @treturn[2] Error err kind not_found, decode (a reply without a list), or the request's error
-- @raise for an id that is not a non-empty string, or an unknown option
-- @within Candidates
function Candidates:list_tags(id, opts)
  resource.check_id(id, "list_tags")
  local _, ropts = call_opts(opts, CALL_OPTS, "list_tags")
  local res, err = self.client:request(ops.getCandidateTag.method, path_of("getCandidateTag", id), ropts)
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
-- @tparam string id the candidate's id
-- @tparam string name the tag's name
-- @tparam[opt] table opts `timeout`, `retries`
-- @treturn table|boolean the tag resource, or true
-- @return[2] nil
-- @treturn[2] Error err kind validation (an empty name), not_found, or the request's error
-- @raise for an id or a name that is not a string, or an unknown option
-- @within Candidates
function Candidates:add_tag(id, name, opts)
  resource.check_id(id, "add_tag")
  arg(type(name) == "string", "add_tag: tag name must be a string, got " .. type(name))
  local _, ropts = call_opts(opts, CALL_OPTS, "add_tag")
  if trimmed_empty(name) then return fail("add_tag: tag name must not be empty", "name") end
  local body, err = body_for(schema.request("createCandidateTag"), { name = name }, "add tag")
  if not body then return nil, err end
  local res, rerr = self.client:request(ops.createCandidateTag.method, path_of("createCandidateTag", id),
    with_body(body, ropts))
  if not res then return nil, rerr end
  local doc = res.document
  if type(doc) == "table" and type(doc.data) == "table" then return doc.data end
  return true
end

local function tag_id_of(tag, fname)
  if type(tag) == "table" then tag = tag.id end
  arg(type(tag) == "string" and tag ~= "", fname .. ": tag must be a tag object or a non-empty tag id string")
  return tag
end

--- Removes a tag from a candidate: remove_tag(id, tag, { timeout=, retries= }) where tag is a tag id
-- or a tag object -> true or nil, err.
-- @tparam string id the candidate's id
-- @tparam string|table tag the tag's id, or a tag resource
-- @tparam[opt] table opts `timeout`, `retries`
-- @treturn boolean true
-- @return[2] nil
-- @treturn[2] Error err kind not_found, or the request's error
-- @raise for an id or tag that is neither a non-empty id nor a tag object, or an unknown option
-- @within Candidates
function Candidates:remove_tag(id, tag, opts)
  resource.check_id(id, "remove_tag")
  local tag_id = tag_id_of(tag, "remove_tag")
  local _, ropts = call_opts(opts, CALL_OPTS, "remove_tag")
  local res, err = self.client:request(ops.deleteCandidateTag.method, path_of("deleteCandidateTag", id, tag_id),
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
-- @tparam string id the candidate's id
-- @tparam table file `{ filename =, content = }` (the raw bytes) or `{ path =, filename = }`
-- @tparam[opt] table opts `timeout`, `retries`
-- @treturn table|boolean the candidate_files resource, or true
-- @return[2] nil
-- @treturn[2] Error err kind validation (no content, an empty or unreadable file, a bad filename),
--   not_found, or the request's error
-- @raise for file that is not a table or has an unknown field, or an unknown option
-- @within Candidates
function Candidates:upload_resume(id, file, opts)
  resource.check_id(id, "upload_resume")
  arg(type(file) == "table", "upload_resume: expected a table { filename=, content= } or { path= }")
  for k in pairs(file) do
    arg(k == "filename" or k == "content" or k == "path",
      "upload_resume: unknown field '" .. tostring(k) .. "' (valid: content, filename, path)")
  end
  local _, ropts = call_opts(opts, CALL_OPTS, "upload_resume")
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
  local body, err = body_for(schema.request("createCandidateFile"), { filename = filename, content = encoded },
    "upload resume")
  if not body then return nil, err end
  local res, rerr = self.client:request(ops.createCandidateFile.method, path_of("createCandidateFile", id),
    with_body(body, ropts))
  if not res then return nil, rerr end
  local doc = res.document
  if type(doc) == "table" and type(doc.data) == "table" then return doc.data end
  return true
end

-- Candidate objects ---------------------------------------------------------------------------------

local function collection_of(cand, fname)
  return resource.collection_of(cand, fname, def)
end

--- cand:update(attrs, { allow_unknown=, timeout=, retries= }) -> cand (its fields refreshed from the
-- reply) or nil, err.
-- @tparam table attrs the attributes to change
-- @tparam[opt] table opts `allow_unknown` (send attributes the contract does not list), `timeout`, `retries`
-- @treturn Candidate the candidate itself
-- @return[2] nil
-- @treturn[2] Error err as candidates:update returns it
-- @raise as candidates:update, and for what is not a Candidate object
-- @within Candidate
function Candidate:update(attrs, opts)
  local coll = collection_of(self, "update")
  local fresh, err = coll:update(self.id, attrs, opts)
  if not fresh then return nil, err end
  return resource.refresh(self, fresh)
end

--- cand:list_tags({ timeout=, retries= }) -> list of tag resources or nil, err.
-- @tparam[opt] table opts `timeout`, `retries`
-- @treturn table the list of tags
-- @return[2] nil
-- @treturn[2] Error err as candidates:list_tags returns it
-- @raise as candidates:list_tags, and for what is not a Candidate object
-- @within Candidate
function Candidate:list_tags(opts)
  return collection_of(self, "list_tags"):list_tags(self.id, opts)
end

--- cand:add_tag(name, { timeout=, retries= }) -> tag resource or nil, err.
-- @tparam string name the tag's name
-- @tparam[opt] table opts `timeout`, `retries`
-- @treturn table|boolean the tag resource, or true
-- @return[2] nil
-- @treturn[2] Error err as candidates:add_tag returns it
-- @raise as candidates:add_tag, and for what is not a Candidate object
-- @within Candidate
function Candidate:add_tag(name, opts)
  return collection_of(self, "add_tag"):add_tag(self.id, name, opts)
end

--- cand:remove_tag(tag, { timeout=, retries= }) (a tag object or its id) -> true or nil, err.
-- @tparam string|table tag the tag's id, or a tag resource
-- @tparam[opt] table opts `timeout`, `retries`
-- @treturn boolean true
-- @return[2] nil
-- @treturn[2] Error err as candidates:remove_tag returns it
-- @raise as candidates:remove_tag, and for what is not a Candidate object
-- @within Candidate
function Candidate:remove_tag(tag, opts)
  return collection_of(self, "remove_tag"):remove_tag(self.id, tag, opts)
end

--- cand:upload_resume({ filename=, content= } or { path= }, { timeout=, retries= }) -> candidate_files
-- resource or nil, err.
-- @tparam table file `{ filename =, content = }` or `{ path =, filename = }`
-- @tparam[opt] table opts `timeout`, `retries`
-- @treturn table|boolean the candidate_files resource, or true
-- @return[2] nil
-- @treturn[2] Error err as candidates:upload_resume returns it
-- @raise as candidates:upload_resume, and for what is not a Candidate object
-- @within Candidate
function Candidate:upload_resume(file, opts)
  return collection_of(self, "upload_resume"):upload_resume(self.id, file, opts)
end

return def
