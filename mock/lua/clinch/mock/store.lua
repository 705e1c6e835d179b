--- The mock's in-memory data: candidates with their notes, jobs, social profiles, tags, resumes, static
-- lists and job applications, seeded deterministically from a number. Jobs (with their categories),
-- static lists and tags are shared between candidates, and are the records GET /jobs and GET /lists
-- serve; notes, profiles, resumes and applications belong to one candidate.
-- Times are offsets from an anchor (by default the start of the current UTC day), so only the anchor
-- changes from one day to the next.
local random = require "clinch.mock.random"

local floor, setmetatable, ipairs, concat, remove = math.floor, setmetatable, ipairs, table.concat, table.remove
local os_time = os.time
local lower, format = string.lower, string.format

local _M = {}
local Store = {}
Store.__index = Store

local DAY = 86400

local FIRST = { "Jane", "John", "Olivia", "Liam", "Emma", "Noah", "Ava", "Mateo", "Sophia", "Lucas", "Mia",
  "Ethan", "Amelia", "James", "Harper", "Aarav", "Priya", "Wei", "Mei", "Kenji", "Yuki", "Fatima", "Omar",
  "Chloe", "Samuel", "Grace", "Daniel", "Isla", "Leo", "Zara", "Aoife", "Siobhan", "Tariq", "Nadia",
  "Ingrid", "Lars", "José|jose", "Zoë|zoe", "Łukasz|lukasz", "Søren|soren", "Chiara", "Diego", "Ana", "Kofi" }
local LAST = { "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Martinez",
  "Lopez", "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson",
  "White", "Harris", "Clark", "Lewis", "Walker", "Young", "King", "Wright", "Scott", "Nguyen", "Patel",
  "Kim", "Chen", "Singh", "Murphy", "O'Brien|obrien", "Müller|muller", "Kowalski", "Rossi", "Tanaka",
  "Okafor", "Haddad", "Lindqvist", "Fernández|fernandez", "MacLeod|macleod" }
local DOMAINS = { "example.org", "example.net" }
local KINDS = { "lead", "lead", "applicant", "applicant", "employee", "alumni" }
local INDUSTRIES = { "Information Technology", "Financial Services", "Healthcare", "Retail", "Education",
  "Manufacturing", "Hospitality", "Government", "Telecommunications", "Energy" }
local SKILLS = { "business analysis", "management", "project delivery", "requirements specifications",
  "lua", "c", "sql", "python", "customer service", "negotiation", "budgeting", "recruiting", "nursing",
  "data analysis", "public speaking", "scheduling", "accounting", "ux design", "copywriting", "sales" }
local EMPLOYERS = { "Acme Corp", "Globex", "Initech", "Umbrella Health", "Stark Industries", "Wayne Enterprises",
  "Hooli", "Vandelay Industries", "Soylent", "Cyberdyne Systems", "Tyrell Corporation", "Wonka Industries" }
local TITLES = { "Business Analyst", "Software Engineer", "Registered Nurse", "Store Manager", "Accountant",
  "Project Manager", "Sales Associate", "Data Scientist", "Recruiter", "Teacher", "UX Designer",
  "Customer Support Lead", "Operations Manager", "Marketing Coordinator" }
local CITIES = { { "Austin", "US" }, { "Boston", "US" }, { "Chicago", "US" }, { "Denver", "US" },
  { "Seattle", "US" }, { "London", "GB" }, { "Manchester", "GB" }, { "Dublin", "IE" }, { "Berlin", "DE" },
  { "Paris", "FR" }, { "Madrid", "ES" }, { "Sydney", "AU" }, { "Melbourne", "AU" }, { "Toronto", "CA" },
  { "Auckland", "NZ" } }
local EU = { DE = true, FR = true, ES = true, IE = true }
local DEPARTMENTS = { "Systems Integration", "Engineering", "Finance", "Nursing", "Retail Operations",
  "People & Culture", "Marketing", "Customer Success", "Sales" }
local CATEGORIES = { "Information Technology", "Engineering", "Healthcare", "Finance", "Retail",
  "Human Resources", "Marketing", "Sales" }
local SCHOOLS = { "Harvard University", "University of Texas at Austin", "Trinity College Dublin",
  "University of Melbourne", "University of Toronto", "Technische Universität München", "University of Leeds",
  "Universidad Complutense de Madrid" }
local STUDIES = { "Business", "Marketing", "Computer Science", "Nursing", "Accounting", "Psychology",
  "Mechanical Engineering", "History", "Design" }
local SOURCES = { "LinkedIn", "Indeed", "Google", "Facebook", "Career Site", "Referral", "Glassdoor",
  "Email Campaign", "Direct" }
local UTM_SOURCES = { "linked_in", "indeed", "google", "facebook", "newsletter" }
local UTM_MEDIUMS = { "cpc", "social", "email", "organic" }
local UTM_CAMPAIGNS = { "spring_hiring", "grad_program_2024", "nurses_week", "tech_talent", "brand" }
local ATS = { "Review", "Phone Screen", "Interview", "Assessment", "Offer", "Hired", "Rejected" }
local APP_STATUSES = { "submitted", "in_review", "interview", "offer", "hired", "rejected", "withdrawn" }
local TAGS = { "Seed Data", "Graduate", "Silver Medallist", "Referral", "Boomerang", "Careers Fair 2023",
  "Engineering Talent", "Newsletter", "Relocation", "Night Shift" }
local LISTS = { "Talent Community", "Graduate Program 2024", "Nursing Pipeline", "Engineering Leads",
  "Event Attendees", "Silver Medallists", "Executive Search", "Returners" }
local NOTES = { "Spoke on the phone; keen on a hybrid role.", "Strong portfolio, follow up next quarter.",
  "Met at the careers fair. Interested in the graduate program.", "Prefers email contact after 5pm.",
  "Referred by a current employee.", "Not looking right now; check back in six months.",
  "Excellent interview feedback from the panel.", "Asked about relocation support." }
local AUTHORS = { "Riley Recruiter", "Sam Sourcer", "Alex Hiring-Manager", "Jordan Talent" }

-- "Name|ascii" gives a display name and the form used in email addresses.
local function split_name(entry)
  local display, ascii = entry:match("^(.-)|(.*)$")
  if display then return display, ascii end
  return entry, lower(entry)
end

--- Creates the store. opts: seed (default 1), candidates (default 200), anchor (epoch the seeded times
-- lead up to; default the start of the current UTC day), clock (function returning the current epoch).
function _M.new(opts)
  opts = opts or {}
  local self = setmetatable({
    seed = opts.seed or 1,
    count = opts.candidates or 200,
    clock = opts.clock or function() return floor(os_time()) end,
  }, Store)
  self.anchor = opts.anchor or floor(self.clock() / DAY) * DAY
  self:reseed()
  return self
end

local function new_tag(self, name)
  local tag = { id = self.rng:hex_id(), name = name }
  self.tags_by_name[name] = tag
  self.tags_by_id[tag.id] = tag
  return tag
end

--- Drops all data and seeds it again from the same seed.
function Store:reseed()
  local rng = random.new(self.seed)
  self.rng = rng
  self.candidates, self.by_id, self.by_email = {}, {}, {}
  self.tags_by_name, self.tags_by_id, self.jobs, self.lists = {}, {}, {}, {}
  self.jobs_by_id, self.lists_by_id, self.categories = {}, {}, {}
  local anchor = self.anchor

  for _, name in ipairs(TAGS) do new_tag(self, name) end

  for i = 1, 40 do
    local city = rng:pick(CITIES)
    local created = anchor - rng:int(60, 900) * DAY + rng:int(0, DAY - 1)
    local department = rng:pick(DEPARTMENTS)
    self.jobs[i] = {
      id = rng:hex_id(), title = rng:pick(TITLES), reference = format("REQ-%04d", 1000 + i),
      department = department, category = rng:pick(CATEGORIES), city = city[1], country = city[2],
      employment_type = rng:pick({ "full_time", "part_time", "contract", "casual" }),
      status = rng:chance(0.75) and "open" or "closed", remote = rng:chance(0.3),
      created = created, updated = created + rng:int(0, 50) * DAY,
      url = format("https://careers.example.com/jobs/REQ-%04d", 1000 + i),
    }
  end

  for i, name in ipairs(LISTS) do
    local created = anchor - rng:int(30, 900) * DAY
    self.lists[i] = { id = rng:hex_id(), name = name, created = created, updated = created + rng:int(0, 20) * DAY }
  end
  self:seed_categories()
  for _, job in ipairs(self.jobs) do self.jobs_by_id[job.id] = job end
  for _, list in ipairs(self.lists) do self.lists_by_id[list.id] = list end

  for i = 1, self.count do self:add_seeded(i) end
end

local function pick_some(rng, list, lo, hi)
  return rng:sample(list, rng:int(lo, hi))
end

--- The job categories, and each job's: its `category` first, then at times a second one. They come
-- from an rng of their own, so that the candidates seeded after them stay what they were.
function Store:seed_categories()
  local rng = random.new(self.seed * 7919 + 101)
  local by_name = {}
  for i, name in ipairs(CATEGORIES) do
    local cat = { id = rng:hex_id(), name = name }
    self.categories[i], by_name[name] = cat, cat
  end
  for _, job in ipairs(self.jobs) do
    job.categories = { by_name[job.category] }
    if rng:chance(0.4) then
      local other = rng:pick(self.categories)
      if other ~= job.categories[1] then job.categories[2] = other end
    end
  end
end

--- Seeds candidate number i. The first candidates are guaranteed rich and share the first job, so
-- tests can rely on every relationship having data on page 1.
-- A seeded candidate's own fields (the first draws of add_seeded: the order of draws is the data).
local function seed_person(self, i)
  local rng, anchor = self.rng, self.anchor
  local first, first_ascii = split_name(rng:pick(FIRST))
  local last, last_ascii = split_name(rng:pick(LAST))
  local email = format("%s.%s@%s", first_ascii, last_ascii, rng:pick(DOMAINS))
  if self.by_email[email] then email = format("%s.%s%d@%s", first_ascii, last_ascii, i, rng:pick(DOMAINS)) end
  local rich = i <= 3

  local updated = anchor - rng:int(0, 730 * DAY)
  local created = updated - rng:int(0, 365 * DAY)
  local last_seen = created + floor((updated - created) * rng:int(0, 100) / 100)
  local city = rng:pick(CITIES)
  local c = {
    id = rng:hex_id(), uid = rng:hex_id():sub(1, 16), first_name = first, last_name = last, email = email,
    phone_number = (rich or rng:chance(0.85)) and format("+1-%03d-555-%04d", rng:int(201, 989), rng:int(0, 9999))
      or nil,
    kind = rng:pick(KINDS), created = created, updated = updated, first_seen = created, last_seen = last_seen,
    skills = pick_some(rng, SKILLS, 0, 5), industry = rng:pick(INDUSTRIES),
    subscription_status = rng:chance(0.8) and "subscribed" or "unsubscribed",
    internal_candidate = rng:chance(0.1), interaction_score = rng:int(0, 100) / 100,
    last_location = city[1], in_eu = EU[city[2]] == true, manually_added = rng:chance(0.2),
    visit_count = rng:int(0, 60),
    last_employer_name = (rich or rng:chance(0.8)) and rng:pick(EMPLOYERS) or nil,
    last_employment_title = rng:pick(TITLES),
    educated_at = pick_some(rng, SCHOOLS, 0, 2), studied = pick_some(rng, STUDIES, 0, 2),
    first_traffic_source_name = rng:pick(SOURCES), last_traffic_source_name = rng:pick(SOURCES),
    custom_data = { preferred_contact = rng:pick({ "email", "phone", "sms" }), relocation = rng:chance(0.3) },
    tags = {}, notes = {}, jobs = {}, resumes = {}, lists = {}, applications = {}, ats_statuses = {},
  }
  c.has_linkedin = rich or rng:chance(0.6)
  c.linkedin_connected = c.has_linkedin and rng:chance(0.5)
  if c.internal_candidate then c.custom_data.employee_number = format("E%05d", rng:int(1, 99999)) end
  if rng:chance(0.6) then
    c.utm = { source = rng:pick(UTM_SOURCES), medium = rng:pick(UTM_MEDIUMS), campaign = rng:pick(UTM_CAMPAIGNS) }
    if rng:chance(0.3) then c.utm.term = "jobs near me" end
  end
  return c, rich, first_ascii, last_ascii, city
end

-- Jobs (shared: the first three candidates all have job 1), what they viewed, and applications with
-- ATS statuses for some of those jobs.
local function seed_jobs(self, c, rich)
  local rng, created, updated = self.rng, c.created, c.updated
  c.jobs = pick_some(rng, self.jobs, rich and 2 or 0, 4)
  if rich then
    local has_first = false
    for _, job in ipairs(c.jobs) do has_first = has_first or job == self.jobs[1] end
    if not has_first then c.jobs[#c.jobs + 1] = self.jobs[1] end
  end
  local function distinct(field)
    local out, seen = {}, {}
    for _, job in ipairs(c.jobs) do
      if not seen[job[field]] then seen[job[field]], out[#out + 1] = true, job[field] end
    end
    return out
  end
  c.job_departments_viewed, c.job_categories_viewed, c.job_cities = distinct("department"), distinct("category"),
    distinct("city")
  for _, job in ipairs(c.jobs) do
    if rich or rng:chance(0.5) then
      local at = created + floor((updated - created) * rng:int(0, 100) / 100)
      c.applications[#c.applications + 1] = {
        id = rng:hex_id(), job = job, status = rng:pick(APP_STATUSES), source = rng:pick(SOURCES),
        applied = at, updated = at + floor((updated - at) * rng:int(0, 100) / 100),
      }
      c.ats_statuses[#c.ats_statuses + 1] = { status = rng:pick(ATS), job_id = job.id, job_title = job.title,
        at = at }
      if not c.apps_started or at < c.apps_started then c.apps_started = at end
    end
  end
end

-- Notes, the social profile and resumes.
local function seed_profile(self, c, rich, first_ascii, last_ascii, city)
  local rng, created, updated = self.rng, c.created, c.updated
  for n = 1, rich and 2 or rng:int(0, 3) do
    local at = created + floor((updated - created) * rng:int(0, 100) / 100)
    c.notes[n] = { id = rng:hex_id(), content = rng:pick(NOTES), author = rng:pick(AUTHORS), created = at,
      updated = at }
  end
  if rich or rng:chance(0.7) then
    local slug = first_ascii:gsub("[^%w]", "") .. "-" .. last_ascii:gsub("[^%w]", "") .. "-" .. rng:int(100, 999)
    c.social = { id = rng:hex_id(), headline = c.last_employment_title .. " at " .. (c.last_employer_name or "—"),
      linkedin = c.has_linkedin and "https://www.linkedin.com/in/" .. slug or nil,
      twitter = rng:chance(0.4) and "https://twitter.com/" .. slug:gsub("%-", "_") or nil,
      github = rng:chance(0.2) and "https://github.com/" .. slug or nil,
      photo = "https://images.example.com/avatars/" .. slug .. ".png", location = city[1] }
    c.linkedin_slug = slug
  end
  for n = 1, rich and 1 or (rng:chance(0.4) and 1 or 0) do
    local name = lower(first_ascii .. "-" .. last_ascii):gsub("[^%w%-]", "")
    local ext = rng:pick({ { "pdf", "application/pdf" },
      { "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document" } })
    c.resumes[n] = { id = rng:hex_id(), filename = name .. "-resume." .. ext[1], content_type = ext[2],
      size = rng:int(20000, 400000), created = created + rng:int(0, 10) * 3600 }
  end
end

--- Adds seeded candidate number i (its draws from the store's generator, in a fixed order).
function Store:add_seeded(i)
  local c, rich, first_ascii, last_ascii, city = seed_person(self, i)
  seed_jobs(self, c, rich)
  seed_profile(self, c, rich, first_ascii, last_ascii, city)
  local rng = self.rng
  c.lists = pick_some(rng, self.lists, rich and 1 or 0, 2)
  for _, name in ipairs(pick_some(rng, TAGS, rich and 1 or 0, 3)) do c.tags[#c.tags + 1] = self.tags_by_name[name] end
  self:insert(c)
  return c
end

function Store:insert(c)
  self.candidates[#self.candidates + 1] = c
  self.by_id[c.id] = c
  self.by_email[lower(c.email)] = c
end

--- The candidate with this id, or nil.
function Store:get(id)
  return self.by_id[id]
end

--- The job with this id, or nil.
function Store:job(id)
  return self.jobs_by_id[id]
end

--- The static list with this id, or nil.
function Store:list_record(id)
  return self.lists_by_id[id]
end

--- The candidate with this email (case-insensitive), or nil.
function Store:find_email(email)
  return self.by_email[lower(email)]
end

--- Candidates in creation order matching a filter: { email = s, gte = epoch, lt = epoch }.
function Store:list(filter)
  local out = {}
  local email = filter.email and lower(filter.email)
  local gte, lt = filter.gte, filter.lt
  for _, c in ipairs(self.candidates) do
    if (not email or lower(c.email) == email) and (not gte or c.updated >= gte) and (not lt or c.updated < lt) then
      out[#out + 1] = c
    end
  end
  return out
end

--- Adds a tag by name; returns the tag and whether it was newly added to this candidate.
function Store:add_tag(c, name)
  for _, tag in ipairs(c.tags) do
    if tag.name == name then return tag, false end
  end
  local tag = self.tags_by_name[name] or new_tag(self, name)
  c.tags[#c.tags + 1] = tag
  self:touch(c)
  return tag, true
end

--- Removes a tag by id; returns the tag, or nil when the candidate has no such tag.
function Store:remove_tag(c, tag_id)
  for i, tag in ipairs(c.tags) do
    if tag.id == tag_id then
      remove(c.tags, i)
      self:touch(c)
      return tag
    end
  end
  return nil
end

function Store:touch(c)
  c.updated = self.clock()
end

local function set_fields(c, attrs)
  for _, k in ipairs({ "first_name", "last_name", "phone_number" }) do
    if attrs[k] ~= nil then c[k] = attrs[k] end
  end
  if attrs.email ~= nil and attrs.email ~= c.email then c.email = attrs.email end
  if attrs.custom_data ~= nil then c.custom_data = attrs.custom_data end
end

--- Creates a candidate from validated attributes (email required; tag_values a list of names).
function Store:create(attrs)
  local now = self.clock()
  local c = {
    id = self.rng:hex_id(), uid = self.rng:hex_id():sub(1, 16), email = attrs.email,
    kind = "lead", created = now, updated = now, first_seen = now, last_seen = now, visit_count = 0,
    skills = {}, educated_at = {}, studied = {}, job_departments_viewed = {}, job_categories_viewed = {},
    job_cities = {}, ats_statuses = {}, custom_data = {}, subscription_status = "subscribed",
    internal_candidate = false, has_linkedin = false, linkedin_connected = false, in_eu = false,
    manually_added = true, interaction_score = 0, first_traffic_source_name = "API",
    last_traffic_source_name = "API",
    tags = {}, notes = {}, jobs = {}, resumes = {}, lists = {}, applications = {},
  }
  set_fields(c, attrs)
  for _, name in ipairs(attrs.tag_values or {}) do
    local tag = self.tags_by_name[name] or new_tag(self, name)
    local dup = false
    for _, t in ipairs(c.tags) do dup = dup or t == tag end
    if not dup then c.tags[#c.tags + 1] = tag end
  end
  self:insert(c)
  return c
end

--- Updates a candidate from validated attributes; a new email is re-indexed.
function Store:update(c, attrs)
  if attrs.email ~= nil and lower(attrs.email) ~= lower(c.email) then
    self.by_email[lower(c.email)] = nil
    self.by_email[lower(attrs.email)] = c
  end
  set_fields(c, attrs)
  if attrs.tag_values ~= nil then
    c.tags = {}
    for _, name in ipairs(attrs.tag_values) do self:add_tag(c, name) end
  end
  self:touch(c)
  return c
end

--- Stores an uploaded resume; returns the file record.
function Store:add_file(c, filename, size, content_type)
  local file = { id = self.rng:hex_id(), filename = filename, size = size, content_type = content_type,
    created = self.clock() }
  c.resumes[#c.resumes + 1] = file
  self:touch(c)
  return file
end

--- A candidate's display name.
function _M.full_name(c)
  local parts = {}
  if c.first_name and c.first_name ~= "" then parts[#parts + 1] = c.first_name end
  if c.last_name and c.last_name ~= "" then parts[#parts + 1] = c.last_name end
  return concat(parts, " ")
end

return _M
