--- The careers-form handler for nginx (see nginx.conf next to this file): a candidate applies through
-- a form; nginx creates the candidate in the Recruitment Marketing API, tags it and uploads the resume.
-- Every API call goes through cosockets, so the worker keeps serving other requests meanwhile.
--
-- Configuration comes from the environment (declared with `env` in nginx.conf):
--   CLINCH_API_KEY, CLINCH_API_SECRET  the API credentials (required)
--   CLINCH_REGION                      the API region: us (default), eu or au, as the CLI reads it
--   CLINCH_BASE_URL                    a full API base URL instead of a region
--   CLINCH_CAREERS_TAG                 the tag every application gets (default "careers-site")
local clinch = require "clinch"
local cjson = require("cjson.safe").new()

local ngx = ngx
local os, io, type, pairs, ipairs, tostring, tonumber = os, io, type, pairs, ipairs, tostring, tonumber
local format = string.format

local _M = {}

_M.MAX_TAGS = 5

-- One client per worker, made in init_worker_by_lua: it holds configuration only (connections live
-- in nginx's cosocket pool), so all requests of the worker share it.
local client, source_tag

--- Creates the worker's client. Call from init_worker_by_lua (no API call happens here).
function _M.init()
  local key, secret = os.getenv("CLINCH_API_KEY"), os.getenv("CLINCH_API_SECRET")
  if not key or key == "" or not secret or secret == "" then
    ngx.log(ngx.ERR, "careers: CLINCH_API_KEY and CLINCH_API_SECRET must be set (and listed with `env`)")
    return
  end
  local base_url, region = os.getenv("CLINCH_BASE_URL"), os.getenv("CLINCH_REGION")
  client = clinch.new {
    key = key, secret = secret,
    base_url = base_url ~= "" and base_url or nil,
    region = region ~= "" and region or nil,
    -- The visitor waits for the answer: fail in seconds, not a minute.
    timeout = 15, connect_timeout = 5, retries = 2, max_retry_wait = 5,
    logger = function(event)
      if event.event == "request" then
        ngx.log(ngx.INFO, "clinch: ", event.method, " ", event.uri, " -> ", tostring(event.status or event.error),
          " in ", format("%.3f", event.duration or 0), " s (attempt ", event.attempt, ")")
      elseif event.event == "retry" then
        ngx.log(ngx.WARN, "clinch: retrying ", #(event.reasons or {}), " request(s) in ",
          format("%.3f", event.wait or 0), " s (attempt ", tostring(event.attempt), ")")
      elseif event.event == "backoff" then
        ngx.log(ngx.WARN, "clinch: the API answered ", tostring(event.status), ": ", tostring(event.limit_before),
          " -> ", tostring(event.limit), " requests in flight, pausing ", format("%.3f", event.wait or 0), " s")
      else
        ngx.log(ngx.WARN, "clinch: ", tostring(event.message))
      end
    end,
  }
  source_tag = os.getenv("CLINCH_CAREERS_TAG") or "careers-site"
end

-- Replies with a JSON document (or its text) and ends the request.
local function reply(status, doc)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.header["Cache-Control"] = "no-store"
  ngx.say(type(doc) == "string" and doc or cjson.encode(doc))
  return ngx.exit(ngx.HTTP_OK)
end

-- The form's error list: { errors = { { field =, message = } } }.
local function form_errors(status, list)
  return reply(status, { errors = list })
end

-- Field errors from a clinch validation error: our own checks name `field`, the server's JSON:API
-- errors name a `source.pointer` such as /data/attributes/email.
local function field_errors(err)
  local list = {}
  if type(err.errors) == "table" then
    for _, e in ipairs(err.errors) do
      local pointer = type(e.source) == "table" and e.source.pointer
      list[#list + 1] = {
        field = type(pointer) == "string" and pointer:match("([^/]+)$") or nil,
        message = type(e.detail) == "string" and e.detail or (type(e.title) == "string" and e.title) or "invalid",
      }
    end
  end
  if #list == 0 then list[1] = { field = err.field, message = err.message } end
  return list
end

-- The failure reply for an API error: the form's fields when the input was at fault, otherwise a
-- generic message (the details go to the error log, never to the visitor). A 404 is the visitor's
-- only when they asked for one candidate (`lookup`); anywhere else it is the site's configuration
-- (a wrong base URL), which monitoring watching 5xx must see.
local function api_failure(err, what, lookup)
  if err.kind == "validation" then return form_errors(422, field_errors(err)) end
  ngx.log(ngx.ERR, "careers: ", what, " failed: ", tostring(err))
  if err.kind == "not_found" and lookup then return form_errors(404, { { message = "not found" } }) end
  return form_errors(502, { { message = "the application could not be saved; please try again later" } })
end

-- The quoted or bare value of a parameter in a header value (boundary=..., name="...").
local function param(value, name)
  return value:match(";%s*" .. name .. '="([^"]*)"') or value:match(";%s*" .. name .. "=([^;%s]+)")
end

--- Parses a multipart/form-data body -> fields { name = value }, files { name = { filename, content,
-- type } } or nil, message.
function _M.parse_multipart(body, boundary)
  local fields, files = {}, {}
  local delim = "--" .. boundary
  local pos = body:find(delim, 1, true)
  if not pos then return nil, "the form body has no multipart boundary" end
  pos = pos + #delim
  while true do
    local after = body:sub(pos, pos + 1)
    if after == "--" then return fields, files end
    if after ~= "\r\n" then return nil, "malformed multipart body" end
    local head_end = body:find("\r\n\r\n", pos + 2, true)
    if not head_end then return nil, "malformed multipart part" end
    local head = body:sub(pos + 2, head_end - 1)
    local next_delim = body:find("\r\n" .. delim, head_end + 4, true)
    if not next_delim then return nil, "unterminated multipart part" end
    local data = body:sub(head_end + 4, next_delim - 1)
    local disposition = head:match("[Cc][Oo][Nn][Tt][Ee][Nn][Tt]%-[Dd][Ii][Ss][Pp][Oo][Ss][Ii][Tt][Ii][Oo][Nn]:"
      .. "([^\r\n]*)")
    local name = disposition and param(disposition, "name")
    if name then
      local filename = param(disposition, "filename")
      if filename then
        if filename ~= "" or data ~= "" then
          files[name] = { filename = filename, content = data,
                          type = head:match("[Cc]ontent%-[Tt]ype:%s*([^\r\n]*)") }
        end
      else
        fields[name] = data
      end
    end
    pos = next_delim + 2 + #delim
  end
end

-- The submitted form: fields and files, from multipart/form-data or a urlencoded body.
local function read_form()
  ngx.req.read_body()
  local ctype = ngx.var.content_type or ""
  local lctype = ctype:lower()
  if lctype:find("^application/x%-www%-form%-urlencoded") then
    local args = ngx.req.get_post_args(50)
    local fields = {}
    for k, v in pairs(args) do
      fields[k] = type(v) == "table" and v[1] or v
    end
    return fields, {}
  end
  if not lctype:find("^multipart/form%-data") then
    return nil, "the form must be sent as multipart/form-data"
  end
  local boundary = param(ctype, "boundary")
  if not boundary then return nil, "the multipart form has no boundary" end
  local body = ngx.req.get_body_data()
  if not body then
    -- nginx wrote a large body to a file (client_body_buffer_size in nginx.conf avoids this).
    local path = ngx.req.get_body_file()
    if not path then return nil, "the form is empty" end
    local f = io.open(path, "rb")
    if not f then return nil, "the form could not be read" end
    body = f:read("*a")
    f:close()
  end
  return _M.parse_multipart(body, boundary)
end

local function trim(s)
  return type(s) == "string" and s:match("^%s*(.-)%s*$") or nil
end

local function nonempty(s)
  s = trim(s)
  if s == "" then return nil end
  return s
end

-- The tags to give an application: the site's tag plus the form's comma-separated `tags`.
local function tags_of(fields)
  local tags, seen = {}, {}
  local function add(t)
    t = trim(t)
    if t and t ~= "" and not seen[t] and #tags < _M.MAX_TAGS then
      seen[t] = true
      tags[#tags + 1] = t
    end
  end
  add(source_tag)
  for t in (fields.tags or ""):gmatch("[^,]+") do add(t) end
  return tags
end

--- POST /careers/apply: create the candidate, tag it and upload the resume.
function _M.apply()
  if ngx.req.get_method() ~= "POST" then
    ngx.header["Allow"] = "POST"
    return form_errors(405, { { message = "use POST" } })
  end
  if not client then return form_errors(503, { { message = "applications are not being accepted right now" } }) end
  local fields, files = read_form()
  if not fields then return form_errors(400, { { message = files } }) end

  -- Checks that need no API call come first, so a rejected form creates nothing.
  local problems = {}
  if not nonempty(fields.email) then problems[#problems + 1] = { field = "email", message = "email is required" } end
  local resume = files.resume
  if resume and resume.content == "" then
    problems[#problems + 1] = { field = "resume", message = "the resume file is empty" }
  end
  if #problems > 0 then return form_errors(422, problems) end

  local cand, err = client.candidates:create {
    email = trim(fields.email), first_name = nonempty(fields.first_name),
    last_name = nonempty(fields.last_name), phone_number = nonempty(fields.phone_number),
  }
  if not cand then return api_failure(err, "create candidate") end

  -- Tags and the resume go out together: one light thread each.
  local jobs = {}
  for _, tag in ipairs(tags_of(fields)) do
    jobs[#jobs + 1] = { what = "tag " .. tag, thread = ngx.thread.spawn(function()
      return client.candidates:add_tag(cand.id, tag)
    end) }
  end
  if resume then
    jobs[#jobs + 1] = { what = "resume", thread = ngx.thread.spawn(function()
      return client.candidates:upload_resume(cand.id, {
        filename = nonempty(resume.filename) or "resume", content = resume.content,
      })
    end) }
  end
  local done, warnings = {}, {}
  for _, job in ipairs(jobs) do
    local ok, res, jerr = ngx.thread.wait(job.thread)
    if ok and res then
      done[#done + 1] = job.what
    else
      -- The candidate exists: report what is missing rather than failing the whole application.
      ngx.log(ngx.ERR, "careers: ", job.what, " for candidate ", cand.id, " failed: ", tostring(ok and jerr or res))
      warnings[#warnings + 1] = job.what .. " was not saved"
    end
  end
  local out = { id = cand.id, email = cand.email, done = done }
  if #warnings > 0 then out.warnings = warnings end
  return reply(201, out)
end

local function summary(cand)
  return { id = cand.id, email = cand.email, first_name = cand.first_name, last_name = cand.last_name }
end

--- GET /careers/candidates?per_page=N: one page of candidates.
function _M.list()
  if not client then return form_errors(503, { { message = "not configured" } }) end
  local per_page = tonumber(ngx.var.arg_per_page) or 20
  if per_page < 1 or per_page > 100 or per_page % 1 ~= 0 then
    return form_errors(400, { { field = "per_page", message = "per_page must be 1..100" } })
  end
  local page, err = client.candidates:list { per_page = per_page }
  if not page then return api_failure(err, "list candidates") end
  local items = {}
  for i, cand in ipairs(page) do items[i] = summary(cand) end
  -- cjson writes an empty table as {}; the form's script expects a list.
  if #items == 0 then return reply(200, '{"data":[]}') end
  return reply(200, { data = items })
end

--- GET /careers/candidates/<id>: one candidate.
function _M.show(id)
  if not client then return form_errors(503, { { message = "not configured" } }) end
  local cand, err = client.candidates:get(id)
  if not cand then return api_failure(err, "get candidate", true) end
  return reply(200, { data = summary(cand) })
end

return _M
