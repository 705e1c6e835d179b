--- Benchmark fixture: a realistic JSON:API compound page of candidates, as the Recruitment Marketing API
-- returns it for `GET /candidates?include=notes,jobs,social_profile&per_page=100`.
--
-- Every attribute of the seed's Candidate schema is present (five DateTime objects, the `links` attribute
-- with its eight `{url}` objects, utm_parameters with some nulls, string arrays, ats_statuses objects,
-- custom_data). Each candidate has about 3 notes (each pointing back at its candidate: a cycle), 2-3 jobs
-- shared from a pool of 20 (jobs point at categories that are not included: stubs), one social profile,
-- and a few relationships that carry only `links` (no data) or a null to-one, as JSON:API servers send.
-- The output is deterministic (own generator, not math.random) so both VMs parse the same document.
--
--   local fixture = require "fixture"          -- with bench/ on package.path
--   local text = fixture.page(100)             -- JSON bytes
local cjson = require "cjson"

local floor, format, concat = math.floor, string.format, table.concat

local _M = {}

--- The request benchmarks' document: one candidate, as `GET /candidates/ID` returns it (small, so that
-- the request path, not the parser, is what they measure).
_M.DOC = '{"data":{"type":"candidates","id":"35b24aace05952641a90752f26638691","attributes":'
  .. '{"email":"jane.smith@example.com","first_name":"Jane","last_name":"Smith","visit_count":3,'
  .. '"created_at":{"utc":"2024-01-02T03:04:05Z","epoch":1704164645}}},"meta":{"total":1}}'

-- Park-Miller generator: the same sequence on every Lua.
local function rng(seed)
  local state = seed
  return function(n)
    state = (state * 16807) % 2147483647
    return state % n + 1
  end
end

local FIRST = { "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "John", "Radia", "Ken",
  "Margaret", "Dennis", "Leslie", "Niklaus", "Shafi", "Tim" }
local LAST = { "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "McCarthy", "Perlman",
  "Thompson", "Hamilton", "Ritchie", "Lamport", "Wirth", "Goldwasser", "Berners-Lee" }
local CITIES = { "Austin", "Melbourne", "Dublin", "London", "Sydney", "Denver", "Toronto", "Berlin" }
local SKILLS = { "business analysis", "management", "project delivery", "requirements specifications", "lua",
  "stakeholder engagement", "sql", "agile", "data modelling", "negotiation" }
local TAGS = { "Seed Data", "Graduate", "Returner", "Referral", "Event 2023", "Silver medallist" }
local INDUSTRIES = { "Information Technology", "Engineering", "Finance", "Healthcare", "Retail" }
local DEPARTMENTS = { "Systems Integration", "Platform", "Sales", "People", "Finance" }
local SOURCES = { "LinkedIn", "Indeed", "Google", "Direct", "Referral", "Seek" }
local STATUSES = { "Review", "Interview", "Offer", "Hired", "Rejected" }
local NOTE_WORDS = { "Called", "candidate", "about", "the", "role;", "keen", "on", "remote", "work", "and",
  "available", "from", "next", "month.", "Follow", "up", "after", "interview." }

local BASE_EPOCH = 1700000000

local function hex(r, n)
  local t = {}
  for i = 1, n do t[i] = format("%x", r(16) - 1) end
  return concat(t)
end

local function datetime(epoch)
  local d = os.date("!%Y-%m-%dT%H:%M:%S", epoch)
  return {
    utc = d .. "Z",
    epoch = epoch,
    ago = format("%d days ago", floor((BASE_EPOCH + 90 * 86400 - epoch) / 86400)),
    ["local"] = d .. "+10:00",
    local_epoch = epoch + 36000,
  }
end

local function pick(r, list, n)
  local out = {}
  for i = 1, n do out[i] = list[r(#list)] end
  return out
end

local function words(r, n)
  return concat(pick(r, NOTE_WORDS, n), " ")
end

local function links_only(base, name)
  return { links = { self = base .. "/relationships/" .. name, related = base .. "/" .. name } }
end

--- Returns the JSON text of a compound page with `n` candidates (default 100).
function _M.page(n)
  n = n or 100
  local r = rng(20240601)
  local null = cjson.null
  local host = "https://api.clinchtalent.com/v1"

  local jobs = {}
  for j = 1, 20 do
    local id = hex(r, 32)
    jobs[j] = {
      id = id, type = "jobs",
      attributes = {
        title = "Senior " .. DEPARTMENTS[r(#DEPARTMENTS)] .. " Analyst",
        reference = format("REQ-%05d", 1000 + j),
        city = CITIES[r(#CITIES)],
        department = DEPARTMENTS[r(#DEPARTMENTS)],
        status = "open",
        remote = r(2) == 1,
        salary_min = 60000 + r(40) * 1000,
        salary_max = 120000 + r(40) * 1000,
        created_at = datetime(BASE_EPOCH - r(200) * 86400),
        posted_at = datetime(BASE_EPOCH - r(100) * 86400),
        closes_at = null,
        description = words(r, 40),
      },
      relationships = {
        categories = { data = { { type = "categories", id = tostring(r(12)) } } },
        candidates = links_only(host .. "/jobs/" .. id, "candidates"),
      },
      links = { self = host .. "/jobs/" .. id },
    }
  end

  local data, notes, profiles = {}, {}, {}
  local used_jobs = {}
  for i = 1, n do
    local id = hex(r, 32)
    local first, last = FIRST[r(#FIRST)], LAST[r(#LAST)]
    local base = host .. "/candidates/" .. id
    local created = BASE_EPOCH - r(365) * 86400
    local cand_ref = { type = "candidates", id = id }

    local note_refs = {}
    for k = 1, 2 + r(2) do
      local nid = hex(r, 32)
      note_refs[k] = { type = "candidate_notes", id = nid }
      notes[#notes + 1] = {
        id = nid, type = "candidate_notes",
        attributes = {
          body = words(r, 12 + r(20)),
          author_name = FIRST[r(#FIRST)] .. " " .. LAST[r(#LAST)],
          pinned = r(5) == 1,
          created_at = datetime(created + r(100) * 3600),
          updated_at = datetime(created + r(200) * 3600),
        },
        relationships = { candidate = { data = cand_ref } },
      }
    end

    local job_refs = {}
    for k = 1, 1 + r(2) do
      local job = jobs[r(#jobs)]
      job_refs[k] = { type = "jobs", id = job.id }
      used_jobs[job] = true
    end

    local pid = hex(r, 32)
    profiles[#profiles + 1] = {
      id = pid, type = "social_profiles",
      attributes = {
        linkedin_url = "https://www.linkedin.com/in/" .. first:lower() .. "-" .. last:lower(),
        twitter_handle = r(3) == 1 and ("@" .. first:lower()) or null,
        photo_url = "https://media.example.com/photos/" .. pid .. ".jpg",
        bio = words(r, 15),
        followers = r(5000),
      },
    }

    data[i] = {
      id = id, type = "candidates",
      attributes = {
        uid = hex(r, 20),
        created_at = datetime(created),
        updated_at = datetime(created + r(90) * 86400),
        links = {
          edit = { url = base .. "/edit" }, self = { url = base }, modal = { url = base .. "/modal" },
          archive = { url = base .. "/archive" },
          linkedin_search = {
            url = "https://www.linkedin.com/search/results/all/?keywords=" .. first .. "%20" .. last,
          },
          mail_to = { url = "mailto:" .. first:lower() .. "." .. last:lower() .. "@example.com" },
          tel = { url = "tel:+6140000" .. format("%04d", i) },
          linkedin = { url = "https://www.linkedin.com/in/" .. first:lower() .. "-" .. last:lower() },
        },
        name = first .. " " .. last, first_name = first, last_name = last,
        kind = "lead",
        email = first:lower() .. "." .. last:lower() .. i .. "@example.com",
        phone_number = r(4) == 1 and null or ("+6140000" .. format("%04d", i)),
        tags = pick(r, TAGS, r(3)),
        skills = pick(r, SKILLS, 2 + r(4)),
        interaction_score = r(1000) / 1000,
        industry = INDUSTRIES[r(#INDUSTRIES)],
        subscription_status = r(5) == 1 and "unsubscribed" or "subscribed",
        internal_candidate = r(10) == 1, has_linkedin = r(2) == 1, linkedin_connected = r(3) == 1,
        last_seen_at = datetime(created + r(120) * 86400),
        last_location = CITIES[r(#CITIES)],
        last_employer_name = r(3) == 1 and null or "Acme Corp",
        last_employment_title = "Analyst",
        in_eu = r(4) == 1, manually_added = r(6) == 1,
        visit_count = r(40),
        custom_data = { source_system = "ats", legacy_id = r(100000), notes = null },
        job_departments_viewed = pick(r, DEPARTMENTS, r(3)),
        job_categories_viewed = pick(r, INDUSTRIES, r(3)),
        job_cities = pick(r, CITIES, r(2)),
        first_seen_at = datetime(created - r(30) * 86400),
        educated_at = { "Harvard University" },
        studied = pick(r, { "Business", "Marketing", "Computer Science", "Law" }, r(2)),
        first_traffic_source_name = SOURCES[r(#SOURCES)],
        last_traffic_source_name = SOURCES[r(#SOURCES)],
        applications_started_date = r(2) == 1 and datetime(created + r(60) * 86400) or null,
        ats_statuses = {
          { status = STATUSES[r(#STATUSES)], job_id = job_refs[1].id, occurred_at = datetime(created + 86400) },
        },
        latest_ats_status = { status = STATUSES[r(#STATUSES)], job_id = job_refs[1].id },
        utm_parameters = { source = "linked_in", medium = "social", campaign = "spring", term = null,
          content = null },
      },
      relationships = {
        social_profile = { data = { type = "social_profiles", id = pid },
          links = { related = base .. "/social_profile" } },
        notes = { data = note_refs, links = { related = base .. "/notes" } },
        jobs = { data = job_refs, links = { related = base .. "/jobs" } },
        recent_location = { data = null },
        page_sessions = links_only(base, "page_sessions"),
        resumes = links_only(base, "resumes"),
        events = links_only(base, "events"),
        static_lists = links_only(base, "static_lists"),
      },
      links = { self = base },
    }
  end

  local included = {}
  for _, note in ipairs(notes) do included[#included + 1] = note end
  for _, job in ipairs(jobs) do
    if used_jobs[job] then included[#included + 1] = job end
  end
  for _, p in ipairs(profiles) do included[#included + 1] = p end

  return cjson.encode({
    data = data,
    included = included,
    meta = { record_count = n * 7, page_count = 7, current_page = 1, per_page = n },
    links = {
      self = host .. "/candidates?page=1&per_page=" .. n,
      next = host .. "/candidates?page=2&per_page=" .. n,
      last = host .. "/candidates?page=7&per_page=" .. n,
    },
    jsonapi = { version = "1.0" },
  })
end

return _M
