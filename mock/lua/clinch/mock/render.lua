--- JSON:API serialization of the mock's store: resource objects (plural types), relationship linkage for
-- requested includes and relationship links otherwise, and the deduplicated `included` list. The mock
-- keeps its own copy of the contract's names (relationships, include enums, types) on purpose: it
-- judges the client, so it must not read the client's; spec/mock_contract_spec.lua checks the copy.
local json = require "clinch.mock.json"
local time = require "clinch.mock.time"
local store = require "clinch.mock.store"

local ipairs, next = ipairs, next
local format, byte = string.format, string.byte
local null, array, datetime = json.null, json.array, time.datetime

local _M = {}

-- The relationships a candidate resource names, in the seed's Candidate schema order.
_M.RELATIONSHIPS = { "social_profile", "page_sessions", "resumes", "web_sessions", "form_submissions",
  "form_submission_fields", "job_alert_subscriptions", "events", "project_template_stages", "static_lists",
  "locations", "recent_location", "jobs", "job_applications", "notes", "project_entry", "call_to_actions",
  "jobs_application_dropped_off", "jobs_applied", "jobs_favourited", "jobs_viewed", "pages_performed_cta",
  "pages_viewed", "recruitment_events", "web_campaigns" }

-- Every include name the seed's candidateInclude enum allows.
_M.INCLUDES = { "events.call_to_action", "events.form_submission.fields", "social_profile", "page_sessions",
  "timeline_entries", "timeline_entries.lifecycle", "form_submissions", "web_sessions.events.user_agent",
  "web_sessions.events.call_to_action", "web_sessions.events.form_submission.fields",
  "web_sessions.events.city", "messages.from", "list_memberships", "locations", "static_lists",
  "project_template_stages", "cities", "recent_location", "resumes", "newest_event", "jobs",
  "job_applications", "notes" }
local VALID_INCLUDE = {}
for _, name in ipairs(_M.INCLUDES) do VALID_INCLUDE[name] = true end

-- Every include name of the seed's jobInclude enum.
_M.JOB_INCLUDES = { "categories" }
local VALID_JOB_INCLUDE = {}
for _, name in ipairs(_M.JOB_INCLUDES) do VALID_JOB_INCLUDE[name] = true end

-- The types of jobs and of static lists, as the seed's Candidate relationship examples name them.
_M.JOB_TYPE, _M.LIST_TYPE = "jobs", "company_lists"

-- Relationship names in a fixed order (so `included` comes out the same every time): the schema's, then
-- the include roots it does not name.
local ORDER = {}
for _, name in ipairs(_M.RELATIONSHIPS) do ORDER[#ORDER + 1] = name end
for _, name in ipairs({ "timeline_entries", "messages", "list_memberships", "cities", "newest_event" }) do
  ORDER[#ORDER + 1] = name
end

local TO_ONE = { social_profile = true, recent_location = true, newest_event = true, project_entry = true }

local function opt(v)
  if v == nil then return null end
  return v
end

local function hex_escape(ch)
  return format("%%%02X", byte(ch))
end

local function url_escape(s)
  return (s:gsub("[^%w%-._~]", hex_escape))
end

local function dt(t, now)
  if t == nil then return null end
  return datetime(t, now)
end

-- Renderers for included resources, by type.

local function category_resource(cat)
  return { type = "categories", id = cat.id, attributes = { name = cat.name } }
end

--- The jobs resource: its categories as linkage (and in `included`) when ctx.includes asks for them.
function _M.job(job, ctx)
  local self_url = ctx.base .. "/jobs/" .. job.id
  local categories
  if ctx.includes and ctx.includes.categories then
    local linkage = {}
    for i, cat in ipairs(job.categories) do
      linkage[i] = { type = "categories", id = cat.id }
      if not ctx.seen[cat] then
        ctx.seen[cat] = true
        ctx.included[#ctx.included + 1] = category_resource(cat)
      end
    end
    categories = { data = array(linkage) }
  else
    categories = { links = { related = self_url .. "/categories" } }
  end
  return { type = _M.JOB_TYPE, id = job.id, attributes = {
    title = job.title, reference = job.reference, department = job.department, category = job.category,
    city = job.city, country = job.country, employment_type = job.employment_type, status = job.status,
    remote = job.remote, url = job.url, created_at = datetime(job.created, ctx.now),
    updated_at = datetime(job.updated, ctx.now),
  }, relationships = { categories = categories }, links = { self = self_url } }
end
local job_resource = _M.job

--- The company_lists resource of a static list.
function _M.list(l, ctx)
  return { type = _M.LIST_TYPE, id = l.id, attributes = {
    name = l.name, list_type = "static", created_at = datetime(l.created, ctx.now),
    updated_at = datetime(l.updated, ctx.now),
  }, links = { self = ctx.base .. "/lists/" .. l.id } }
end

local function candidate_link(c)
  return { data = { type = "candidates", id = c.id } }
end

-- Each supported include: the resource type, the related records, and how to render one.
local SUPPORTED = {
  social_profile = { type = "social_profiles", one = true,
    get = function(c) return c.social end,
    render = function(p, ctx, c)
      return { type = "social_profiles", id = p.id, attributes = {
        headline = p.headline, location = p.location, photo_url = p.photo, linkedin_url = opt(p.linkedin),
        twitter_url = opt(p.twitter), github_url = opt(p.github),
      }, relationships = { candidate = candidate_link(c) }, links = { self = ctx.base .. "/social_profiles/" .. p.id } }
    end },
  notes = { type = "candidate_notes",
    get = function(c) return c.notes end,
    render = function(n, ctx, c)
      return { type = "candidate_notes", id = n.id, attributes = {
        content = n.content, author_name = n.author, created_at = datetime(n.created, ctx.now),
        updated_at = datetime(n.updated, ctx.now),
      }, relationships = { candidate = candidate_link(c) } }
    end },
  jobs = { type = _M.JOB_TYPE, get = function(c) return c.jobs end, render = job_resource },
  resumes = { type = "candidate_files",
    get = function(c) return c.resumes end,
    render = function(f, ctx, c) return _M.file(f, ctx, c) end },
  static_lists = { type = _M.LIST_TYPE,
    get = function(c) return c.lists end,
    render = function(l, ctx) return _M.list(l, ctx) end },
  job_applications = { type = "job_applications",
    get = function(c) return c.applications end,
    render = function(a, ctx, c)
      return { type = "job_applications", id = a.id, attributes = {
        status = a.status, source = a.source, applied_at = datetime(a.applied, ctx.now),
        updated_at = datetime(a.updated, ctx.now),
      }, relationships = { job = { data = { type = _M.JOB_TYPE, id = a.job.id } }, candidate = candidate_link(c) } }
    end },
}

--- Parses an include parameter ("notes,jobs") of candidates, or of jobs (`of` = "jobs"), or of a
-- resource that has none (`of` = false). Returns a set of relationship names whose linkage is to be
-- written (the first segment of each path), or nil and the offending name.
function _M.parse_includes(value, of)
  local set = {}
  if value == nil or value == "" then return set end
  local valid = VALID_INCLUDE
  if of == "jobs" then valid = VALID_JOB_INCLUDE elseif of == false then valid = {} end
  for name in (value .. ","):gmatch("([^,]*),") do
    name = name:match("^%s*(.-)%s*$")
    if name ~= "" then
      if not valid[name] then return nil, name end
      set[name:match("^[^.]+")] = true
    end
  end
  return set
end

--- The candidate_files resource for an uploaded or seeded file.
function _M.file(f, ctx, c)
  return { type = "candidate_files", id = f.id, attributes = {
    filename = f.filename, size = f.size, content_type = opt(f.content_type),
    created_at = datetime(f.created, ctx.now), url = "https://files.example.com/candidate_files/" .. f.id,
  }, relationships = { candidate = candidate_link(c) } }
end

--- The tags resource.
function _M.tag(t)
  return { type = "tags", id = t.id, attributes = { name = t.name } }
end

local function attributes(c, ctx)
  local now = ctx.now
  local app = "https://app.example.com/candidates/" .. c.id
  local latest
  for _, s in ipairs(c.ats_statuses) do
    if not latest or s.at >= latest.at then latest = s end
  end
  local ats = {}
  for i, s in ipairs(c.ats_statuses) do
    ats[i] = { status = s.status, job_id = s.job_id, job_title = s.job_title, created_at = datetime(s.at, now) }
    if s == latest then latest = ats[i] end
  end
  local name = store.full_name(c)
  local tag_names = {}
  for i, t in ipairs(c.tags) do tag_names[i] = t.name end
  local utm = c.utm or {}
  return {
    uid = c.uid, created_at = datetime(c.created, now), updated_at = datetime(c.updated, now),
    links = {
      edit = { url = app .. "/edit" }, self = { url = app }, modal = { url = app .. "/modal" },
      archive = { url = app .. "/archive" },
      linkedin_search = { url = "https://www.linkedin.com/search/results/people/?keywords=" .. url_escape(name) },
      mail_to = { url = "mailto:" .. c.email }, tel = { url = c.phone_number and "tel:" .. c.phone_number or null },
      linkedin = { url = c.linkedin_slug and "https://www.linkedin.com/in/" .. c.linkedin_slug or null },
    },
    name = name, first_name = opt(c.first_name), last_name = opt(c.last_name), kind = c.kind, email = c.email,
    phone_number = opt(c.phone_number), tags = array(tag_names), skills = array(c.skills),
    interaction_score = c.interaction_score, industry = opt(c.industry),
    subscription_status = c.subscription_status, internal_candidate = c.internal_candidate,
    has_linkedin = c.has_linkedin, linkedin_connected = c.linkedin_connected,
    last_seen_at = dt(c.last_seen, now), last_location = opt(c.last_location),
    last_employer_name = opt(c.last_employer_name), last_employment_title = opt(c.last_employment_title),
    in_eu = c.in_eu, manually_added = c.manually_added, visit_count = c.visit_count, custom_data = c.custom_data,
    job_departments_viewed = array(c.job_departments_viewed),
    job_categories_viewed = array(c.job_categories_viewed),
    job_cities = array(c.job_cities), first_seen_at = dt(c.first_seen, now), educated_at = array(c.educated_at),
    studied = array(c.studied), first_traffic_source_name = opt(c.first_traffic_source_name),
    last_traffic_source_name = opt(c.last_traffic_source_name),
    applications_started_date = dt(c.apps_started, now), ats_statuses = array(ats), latest_ats_status = opt(latest),
    utm_parameters = { source = opt(utm.source), medium = opt(utm.medium), campaign = opt(utm.campaign),
      term = opt(utm.term), content = opt(utm.content) },
  }
end

--- The candidate resource object. ctx: { base = "http://host:port/v1", now = epoch, includes = set,
-- included = list, seen = set of records } (included and seen collect related resources when includes are asked for).
function _M.candidate(c, ctx)
  local self_url = ctx.base .. "/candidates/" .. c.id
  local includes = ctx.includes or {}
  -- Link objects depend only on the base URL and the id: build them once per candidate and reuse them.
  local cache = c.rel_links
  if not cache or cache.base ~= ctx.base then
    cache = { base = ctx.base }
    for _, name in ipairs(_M.RELATIONSHIPS) do cache[name] = { links = { related = self_url .. "/" .. name } } end
    c.rel_links = cache
  end
  local rels = {}
  for _, name in ipairs(_M.RELATIONSHIPS) do
    if not includes[name] then rels[name] = cache[name] end
  end
  for _, name in ipairs(ORDER) do
    local spec = includes[name] and SUPPORTED[name]
    if spec then
      local related = spec.get(c)
      if spec.one then
        rels[name] = { data = related and { type = spec.type, id = related.id } or null }
        related = related and { related } or {}
      else
        local linkage = {}
        for i, r in ipairs(related) do linkage[i] = { type = spec.type, id = r.id } end
        rels[name] = { data = array(linkage) }
      end
      for _, r in ipairs(related) do
        if not ctx.seen[r] then
          ctx.seen[r] = true
          ctx.included[#ctx.included + 1] = spec.render(r, ctx, c)
        end
      end
    elseif includes[name] then
      rels[name] = { data = TO_ONE[name] and null or array(nil) }
    end
  end
  return { type = "candidates", id = c.id, attributes = attributes(c, ctx), relationships = rels,
    links = { self = self_url } }
end

--- A context for rendering candidates.
function _M.context(base, includes, now)
  return { base = base, includes = includes, now = now, included = {}, seen = {} }
end

--- Adds `included` to a document when includes were asked for.
function _M.finish(doc, ctx)
  if next(ctx.includes) ~= nil then doc.included = array(ctx.included) end
  return doc
end

return _M
