--- The mock's /v1 API: routing, request signature checks, body validation and the eight operations of
-- the seed contract (listCandidates, createCandidate, getCandidate, updateCandidate, getCandidateTag,
-- createCandidateTag, deleteCandidateTag, createCandidateFile), answering in JSON:API; and the Job and
-- List operations the seed names without paths: GET /jobs and /jobs/ID (include=categories, the seed's
-- jobInclude), GET /lists and /lists/ID (listId), signed and paginated like /candidates, serving the
-- same job and list records the candidates' relationships point at.
local json = require "clinch.mock.json"
local http = require "clinch.mock.http"
local time = require "clinch.mock.time"
local render = require "clinch.mock.render"

local setmetatable, type, tostring, tonumber, ipairs, pairs, next = setmetatable, type, tostring, tonumber,
  ipairs, pairs, next
local floor, ceil, min = math.floor, math.ceil, math.min
local lower, sub, find, format = string.lower, string.sub, string.find, string.format
local concat, sort = table.concat, table.sort
local null, array = json.null, json.array

local _M = {}
local Api = {}
Api.__index = Api

_M.PREFIX = "/v1"
local JSONAPI = "application/vnd.api+json"
local DEFAULT_PER_PAGE, MAX_PER_PAGE = 25, 100

--- Creates the API. opts: store, core (clinch.core: verify and base64_decode), key, secret,
-- clock (returns epoch seconds), clock_skew (seconds, default 900).
function _M.new(opts)
  local key, secret = opts.key, opts.secret
  return setmetatable({ store = opts.store, core = opts.core, clock = opts.clock or time.now,
    clock_skew = opts.clock_skew or 900,
    -- The secret for an access id; any other id is unknown.
    lookup = function(access_id) if access_id == key then return secret end end }, Api)
end

local function respond(status, doc, headers)
  local h = { { "Content-Type", JSONAPI } }
  for _, extra in ipairs(headers or {}) do h[#h + 1] = extra end
  return { status = status, headers = h, body = json.encode(doc) }
end

local TITLES = { [400] = "Bad Request", [401] = "Unauthorized", [404] = "Not Found",
  [405] = "Method Not Allowed", [409] = "Conflict", [415] = "Unsupported Media Type",
  [422] = "Unprocessable Entity" }

--- A JSON:API error object. `source` is a pointer string ("/data/type") or a table.
local function err(status, detail, source)
  local e = { status = tostring(status), title = TITLES[status] or http.reason(status), detail = detail }
  if type(source) == "string" then e.source = { pointer = source } elseif source then e.source = source end
  return e
end

local function fail(status, detail, source, headers)
  return respond(status, { errors = { err(status, detail, source) } }, headers)
end
_M.fail = fail

local function fail_all(status, errors)
  return respond(status, { errors = errors })
end

-- Routes: a path pattern, the handler for each method.
local ROUTES = {
  { "^/candidates$", { GET = "list", POST = "create" } },
  { "^/candidates/([^/]+)$", { GET = "show", PATCH = "update" } },
  { "^/candidates/([^/]+)/tags$", { GET = "tags", POST = "add_tag" } },
  { "^/candidates/([^/]+)/tags/([^/]+)$", { DELETE = "delete_tag" } },
  { "^/candidates/([^/]+)/candidate_files$", { POST = "add_file" } },
  { "^/jobs$", { GET = "list_jobs" } },
  { "^/jobs/([^/]+)$", { GET = "show_job" } },
  { "^/lists$", { GET = "list_lists" } },
  { "^/lists/([^/]+)$", { GET = "show_list" } },
}

local function allowed(methods)
  local names = {}
  for m in pairs(methods) do names[#names + 1] = m end
  sort(names)
  return concat(names, ", ")
end

--- Handles a request whose path starts with /v1. `base` is the absolute base URL ("http://h:p/v1");
-- `pagination` the modes of a pagination fault ("cycle,no_totals"; see clinch.mock.faults), or nil.
function Api:handle(req, base, pagination)
  local path = sub(req.path, #_M.PREFIX + 1)
  for _, route in ipairs(ROUTES) do
    local s, _, a, b = find(path, route[1])
    if s then
      local name = route[2][req.method]
      if not name then
        return fail(405, req.method .. " is not allowed here", nil, { { "Allow", allowed(route[2]) } })
      end
      local denied = self:authenticate(req)
      if denied then return denied end
      local ctx = { req = req, base = base, params = http.parse_query(req.query), pagination = pagination }
      if a then ctx.id = http.unescape(a) end
      if b then ctx.sub_id = http.unescape(b) end
      return self[name](self, ctx)
    end
  end
  return fail(404, "no route for " .. req.path)
end

--- Checks the request's signature: nil when it is good, else a 401 response with the reason.
function Api:authenticate(req)
  local ok, reason = self.core.verify({ method = req.method, request_uri = req.request_uri,
    headers = req.headers, body = req.body }, self.lookup, { clock_skew = self.clock_skew, now = self.clock() })
  if not ok then return fail(401, tostring(reason or "signature does not match")) end
  return nil
end

-- Parameters -----------------------------------------------------------------------------------------

local function param(ctx, name)
  local value
  for _, p in ipairs(ctx.params) do
    if p.key == name then value = p.value end
  end
  return value
end

local function positive(value, name, max)
  if value == nil then return nil end
  local n = value:match("^%d%d?%d?%d?%d?%d?%d?%d?%d?$") and tonumber(value) -- at most 9 digits
  if not n or n < 1 or (max and n > max) then
    return false, fail(400, format("%s must be an integer from 1%s", name, max and " to " .. max or ""),
      { parameter = name })
  end
  return floor(n)
end

-- The filters of listCandidates (the schema's and the description's), and the paging parameters.
local FILTERS = { ["filter[updated_at][gte]"] = "gte", ["filter[updated_at][lt]"] = "lt",
  ["filter[email][eq]"] = "email" }
_M.FILTERS = FILTERS
_M.PAGE, _M.PER_PAGE = "page", "per_page"

-- `filters` is FILTERS for candidates, {} for resources without filters.
local function parse_filter(ctx, filters)
  filters = filters or FILTERS
  local filter = {}
  for _, p in ipairs(ctx.params) do
    if sub(p.key, 1, 7) == "filter[" or p.key == "filter" then
      local which = filters[p.key]
      if not which and filters ~= FILTERS then
        return nil, fail(400, p.key .. " is not a supported filter (none is)", { parameter = p.key })
      elseif not which then
        return nil, fail(400, p.key .. " is not a supported filter (use filter[updated_at][gte|lt] or "
          .. "filter[email][eq])", { parameter = p.key })
      end
      if which == "email" then
        filter.email = p.value
      else
        local t = time.parse_api_time(p.value)
        if not t then
          return nil, fail(400, p.key .. " must be a time like 2021-01-01T13:00:17 (UTC)", { parameter = p.key })
        end
        filter[which] = t
      end
    end
  end
  return filter
end

-- `of` is nil for candidates, "jobs" or false (a resource without includes): see render.parse_includes.
local function parse_includes(ctx, of, what)
  local value = param(ctx, "include")
  local set, bad = render.parse_includes(value, of)
  if not set then
    return nil, fail(400, format("%q is not an includable relationship of %s", bad, what or "candidates"),
      { parameter = "include" })
  end
  return set
end

-- The URL of this request with page=n in place of its page parameter (other parameters byte for byte).
local function page_url(ctx, n)
  local parts, replaced = {}, false
  for _, p in ipairs(ctx.params) do
    if p.key == _M.PAGE then
      if not replaced then parts[#parts + 1] = _M.PAGE .. "=" .. n end
      replaced = true
    else
      parts[#parts + 1] = p.raw
    end
  end
  if not replaced then parts[#parts + 1] = _M.PAGE .. "=" .. n end
  return ctx.base .. sub(ctx.req.path, #_M.PREFIX + 1) .. "?" .. concat(parts, "&")
end

local function self_url(ctx)
  return ctx.base .. sub(ctx.req.request_uri, #_M.PREFIX + 1)
end

-- Bodies ---------------------------------------------------------------------------------------------

local function is_object(v)
  return type(v) == "table" and v[1] == nil
end

-- A body without a Content-Type is refused as the API's JSON:API framework refuses it: a client that
-- forgets the header must fail here, not first against the real API.
local function is_json_type(content_type)
  if not content_type then return false end
  local media = lower(content_type):match("^%s*([^;%s]+)")
  return media == JSONAPI or media == "application/json"
end

-- Decodes a JSON:API request body and checks data and data.type; returns data, or nil and a response.
local function read_document(ctx, types)
  local req = ctx.req
  if not is_json_type(req.headers["content-type"]) then
    return nil, fail(415, "Content-Type must be " .. JSONAPI)
  end
  local doc = json.decode(req.body)
  if doc == nil then return nil, fail(400, "the request body is not valid JSON") end
  if not is_object(doc) then return nil, fail(422, "the document must be a JSON object", "") end
  local data = doc.data
  if data == nil or data == null then return nil, fail(422, "data is missing", "/data") end
  if not is_object(data) then return nil, fail(422, "data must be an object", "/data") end
  if data.type == nil or data.type == null then return nil, fail(422, "type is missing", "/data/type") end
  if not types[data.type] then
    local names = {}
    for name in pairs(types) do names[#names + 1] = name end
    sort(names)
    return nil, fail(422, "type must be " .. concat(names, " or "), "/data/type")
  end
  if data.attributes == nil or data.attributes == null then
    return nil, fail(422, "attributes are missing", "/data/attributes")
  end
  if not is_object(data.attributes) then
    return nil, fail(422, "attributes must be an object", "/data/attributes")
  end
  return data
end

local EMAIL = "^[^%s@]+@[^%s@]+%.[^%s@.]+$"

-- Validates candidate attributes into { field = value } (json null becomes false: "clear it").
-- Returns the attributes, or nil and a list of JSON:API errors.
local function candidate_attributes(self, attrs, current)
  local out, errors = {}, {}
  local function bad(name, detail)
    errors[#errors + 1] = err(422, detail, "/data/attributes/" .. name)
  end
  local email = attrs.email
  if email == nil then
    if not current then bad("email", "email can't be blank") end
  elseif type(email) ~= "string" or not email:match(EMAIL) then
    bad("email", "email is invalid")
  else
    local other = current and self.store:find_email(email)
    if other and other ~= current then bad("email", "email has already been taken") end
    out.email = email
  end
  for _, name in ipairs({ "first_name", "last_name", "phone_number" }) do
    local v = attrs[name]
    if v == null then
      out[name] = false
    elseif v ~= nil then
      if type(v) ~= "string" then bad(name, name .. " must be a string") else out[name] = v end
    end
  end
  local tags = attrs.tag_values
  if tags ~= nil then
    if type(tags) ~= "table" or not (tags[1] ~= nil or next(tags) == nil) then
      bad("tag_values", "tag_values must be an array of strings")
    else
      out.tag_values = {}
      for i, v in ipairs(tags) do
        if type(v) ~= "string" or v:match("^%s*$") then
          bad("tag_values/" .. (i - 1), "each tag value must be a non-empty string")
        else
          out.tag_values[#out.tag_values + 1] = v
        end
      end
    end
  end
  if attrs.custom_data ~= nil then
    if not is_object(attrs.custom_data) then bad("custom_data", "custom_data must be an object")
    else out.custom_data = attrs.custom_data end
  end
  if errors[1] then return nil, errors end
  return out
end

local function normalize(values)
  -- false marks an attribute cleared with null.
  local out = {}
  for k, v in pairs(values) do
    if v == false then out[k] = nil else out[k] = v end
  end
  return out
end

-- Handlers -------------------------------------------------------------------------------------------

local function candidate_doc(self, ctx, c, includes)
  local rctx = render.context(ctx.base, includes or {}, self.clock())
  local doc = { data = render.candidate(c, rctx), links = { self = ctx.base .. "/candidates/" .. c.id } }
  return render.finish(doc, rctx)
end

-- The page and per_page parameters -> page, per_page, or nil and the 400 answer.
local function paging(ctx)
  local page, bad = positive(param(ctx, _M.PAGE), _M.PAGE)
  if page == false then return nil, bad end
  local per_page, bad2 = positive(param(ctx, _M.PER_PAGE), _M.PER_PAGE, MAX_PER_PAGE)
  if per_page == false then return nil, bad2 end
  return page or 1, per_page or DEFAULT_PER_PAGE
end

-- The answer for one page of `all` (records rendered by `render_one(record, rctx)`), with links and
-- meta, as the pagination fault modes of ctx.pagination would have it.
function Api:page_of(ctx, all, page, per_page, render_one, rctx)
  local total = #all
  local pages = ceil(total / per_page)
  local data = {}
  local mode = {}
  for m in (ctx.pagination or ""):gmatch("[^,]+") do mode[m] = true end
  if mode.shuffle then
    -- A server without a stable order: every answer sorts the matches anew.
    self.shuffles = (self.shuffles or 0) + 1
    all = require("clinch.mock.random").new(self.shuffles):sample(all, #all)
  end
  local served = mode.ignore_page and 1 or page -- a server that ignores the page parameter
  for i = (served - 1) * per_page + 1, min(served * per_page, total) do
    data[#data + 1] = render_one(all[i], rctx)
  end
  local links = { self = self_url(ctx), first = page_url(ctx, 1), last = page_url(ctx, pages > 0 and pages or 1) }
  if page > 1 then links.prev = page_url(ctx, page - 1) end
  if page < pages then links.next = page_url(ctx, page + 1) end
  if mode.cycle and page == 2 then links.next = page_url(ctx, 1) end
  if mode.endless then links.next = page_url(ctx, page + 1) end -- past the end too: empty pages
  local doc = { data = array(data), links = links,
    meta = { total_count = total, total_pages = pages, current_page = page } }
  if mode.no_totals then doc.meta = nil end
  if mode.no_links then doc.links = nil end
  return respond(200, render.finish(doc, rctx))
end

function Api:list(ctx)
  local page, per_page = paging(ctx)
  if not page then return per_page end
  local filter, bad3 = parse_filter(ctx)
  if not filter then return bad3 end
  local includes, bad4 = parse_includes(ctx)
  if not includes then return bad4 end
  return self:page_of(ctx, self.store:list(filter), page, per_page, render.candidate,
    render.context(ctx.base, includes, self.clock()))
end

-- GET /jobs and /lists: every record, paginated; `of` and `what` as for parse_includes.
function Api:list_records(ctx, records, render_one, of, what)
  local page, per_page = paging(ctx)
  if not page then return per_page end
  local filter, bad = parse_filter(ctx, {})
  if not filter then return bad end
  local includes, bad2 = parse_includes(ctx, of, what)
  if not includes then return bad2 end
  return self:page_of(ctx, records, page, per_page, render_one, render.context(ctx.base, includes, self.clock()))
end

-- GET /jobs/ID and /lists/ID.
function Api:show_record(ctx, record, render_one, of, what, path)
  local includes, bad = parse_includes(ctx, of, what)
  if not includes then return bad end
  if not record then return fail(404, what:gsub("s$", "") .. " " .. ctx.id .. " not found") end
  local rctx = render.context(ctx.base, includes, self.clock())
  local doc = { data = render_one(record, rctx), links = { self = ctx.base .. path .. record.id } }
  return respond(200, render.finish(doc, rctx))
end

function Api:list_jobs(ctx)
  return self:list_records(ctx, self.store.jobs, render.job, "jobs", "jobs")
end

function Api:show_job(ctx)
  return self:show_record(ctx, self.store:job(ctx.id), render.job, "jobs", "jobs", "/jobs/")
end

function Api:list_lists(ctx)
  return self:list_records(ctx, self.store.lists, render.list, false, "lists")
end

function Api:show_list(ctx)
  return self:show_record(ctx, self.store:list_record(ctx.id), render.list, false, "lists", "/lists/")
end

--- The candidates a list request's filter matches (for a churn fault), or nil for a request that is
-- not a valid list request.
function Api:matching(req)
  if req.method ~= "GET" or sub(req.path, #_M.PREFIX + 1) ~= "/candidates" then return nil end
  local filter = parse_filter({ params = http.parse_query(req.query) })
  return filter and self.store:list(filter) or nil
end

function Api:show(ctx)
  local includes, bad = parse_includes(ctx)
  if not includes then return bad end
  local c = self.store:get(ctx.id)
  if not c then return fail(404, "candidate " .. ctx.id .. " not found") end
  return respond(200, candidate_doc(self, ctx, c, includes))
end

local CANDIDATE_TYPES = { candidate = true, candidates = true }

-- Applies validated attributes to a candidate: a null clears the attribute (email excepted: it was
-- validated above).
local function apply(self, c, values)
  for k, v in pairs(values) do
    if v == false then
      c[k] = nil
      values[k] = nil
    end
  end
  self.store:update(c, values)
end

-- Creating a candidate whose email is already known updates that candidate instead (200), as a CRM
-- keyed by email does; a new email creates one (201, with Location).
function Api:create(ctx)
  local data, bad = read_document(ctx, CANDIDATE_TYPES)
  if not data then return bad end
  local values, errors = candidate_attributes(self, data.attributes, nil)
  if not values then return fail_all(422, errors) end
  local existing = self.store:find_email(values.email)
  if existing then
    apply(self, existing, values)
    return respond(200, candidate_doc(self, ctx, existing))
  end
  local c = self.store:create(normalize(values))
  local doc = candidate_doc(self, ctx, c)
  return respond(201, doc, { { "Location", doc.links.self } })
end

function Api:update(ctx)
  local c = self.store:get(ctx.id)
  if not c then return fail(404, "candidate " .. ctx.id .. " not found") end
  local data, bad = read_document(ctx, CANDIDATE_TYPES)
  if not data then return bad end
  if data.id ~= nil and data.id ~= ctx.id then
    return fail(409, "data.id does not match the candidate in the URL", "/data/id")
  end
  local values, errors = candidate_attributes(self, data.attributes, c)
  if not values then return fail_all(422, errors) end
  apply(self, c, values)
  return respond(200, candidate_doc(self, ctx, c))
end

local function tag_list(ctx, c)
  local data = {}
  for i, t in ipairs(c.tags) do data[i] = render.tag(t) end
  return { data = array(data), links = { self = ctx.base .. "/candidates/" .. c.id .. "/tags" } }
end

function Api:tags(ctx)
  local c = self.store:get(ctx.id)
  if not c then return fail(404, "candidate " .. ctx.id .. " not found") end
  return respond(200, tag_list(ctx, c))
end

local TAG_TYPES = { tag = true, tags = true }

function Api:add_tag(ctx)
  local c = self.store:get(ctx.id)
  if not c then return fail(404, "candidate " .. ctx.id .. " not found") end
  local data, bad = read_document(ctx, TAG_TYPES)
  if not data then return bad end
  local name = data.attributes.name
  if type(name) ~= "string" or name:match("^%s*$") then
    return fail(422, "name can't be blank", "/data/attributes/name")
  end
  if #name > 255 then return fail(422, "name is too long (at most 255 bytes)", "/data/attributes/name") end
  local tag, added = self.store:add_tag(c, name)
  return respond(added and 201 or 200, { data = render.tag(tag) })
end

function Api:delete_tag(ctx)
  local c = self.store:get(ctx.id)
  if not c then return fail(404, "candidate " .. ctx.id .. " not found") end
  local tag = self.store:remove_tag(c, ctx.sub_id)
  if not tag then return fail(404, "tag " .. ctx.sub_id .. " not found on candidate " .. ctx.id) end
  return respond(200, { meta = { deleted = true }, data = render.tag(tag) })
end

local CONTENT_TYPES = { pdf = "application/pdf", doc = "application/msword", txt = "text/plain",
  docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document", rtf = "application/rtf",
  odt = "application/vnd.oasis.opendocument.text", html = "text/html", htm = "text/html" }

function Api:add_file(ctx)
  local c = self.store:get(ctx.id)
  if not c then return fail(404, "candidate " .. ctx.id .. " not found") end
  local data, bad = read_document(ctx, { candidate_files = true, candidate_file = true })
  if not data then return bad end
  local attrs, errors = data.attributes, {}
  local filename, content = attrs.filename, attrs.content
  if type(filename) ~= "string" or filename:match("^%s*$") then
    errors[#errors + 1] = err(422, "filename can't be blank", "/data/attributes/filename")
  end
  local bytes
  if type(content) ~= "string" or content == "" then
    errors[#errors + 1] = err(422, "content can't be blank", "/data/attributes/content")
  else
    local decoded, why = self.core.base64_decode(content)
    if not decoded then
      errors[#errors + 1] = err(422, "content is not valid base64: " .. tostring(why), "/data/attributes/content")
    else
      bytes = decoded
    end
  end
  if errors[1] then return fail_all(422, errors) end
  local ext = lower(filename:match("%.([^.]+)$") or "")
  local file = self.store:add_file(c, filename, #bytes, CONTENT_TYPES[ext] or "application/octet-stream")
  return respond(201, { data = render.file(file, render.context(ctx.base, {}, self.clock()), c) })
end

return _M
