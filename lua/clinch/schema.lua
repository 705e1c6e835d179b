--- Facts taken from the API contract (api/recruitment-marketing-openapi.json, "the seed"), as plain Lua
-- data so that nothing parses JSON at load time. spec/schema_spec.lua checks every list here against the
-- seed itself, so a change of contract shows up as a failing test rather than as silent drift.
local _M = {}

--- Attribute names of the seed's `Candidate` schema (components.schemas.Candidate.properties.attributes).
_M.candidate_attributes = {
  "uid", "created_at", "updated_at", "links", "name", "first_name", "last_name", "kind", "email",
  "phone_number", "tags", "skills", "interaction_score", "industry", "subscription_status",
  "internal_candidate", "has_linkedin", "linkedin_connected", "last_seen_at", "last_location",
  "last_employer_name", "last_employment_title", "in_eu", "manually_added", "visit_count", "custom_data",
  "job_departments_viewed", "job_categories_viewed", "job_cities", "first_seen_at", "educated_at", "studied",
  "first_traffic_source_name", "last_traffic_source_name", "applications_started_date", "ats_statuses",
  "latest_ats_status", "utm_parameters",
}

--- Relationship names of the seed's `Candidate` schema (properties.relationships).
_M.candidate_relationships = {
  "social_profile", "page_sessions", "resumes", "web_sessions", "form_submissions", "form_submission_fields",
  "job_alert_subscriptions", "events", "project_template_stages", "static_lists", "locations",
  "recent_location", "jobs", "job_applications", "notes", "project_entry", "call_to_actions",
  "jobs_application_dropped_off", "jobs_applied", "jobs_favourited", "jobs_viewed", "pages_performed_cta",
  "pages_viewed", "recruitment_events", "web_campaigns",
}

--- Candidate attributes whose value is a `DateTime` object ({utc, epoch, ago, local, local_epoch}).
_M.candidate_datetimes = {
  "created_at", "updated_at", "last_seen_at", "first_seen_at", "applications_started_date",
}

--- The `include` enum of parameters.candidateInclude (sent comma-separated: explode is false).
_M.candidate_include = {
  "events.call_to_action", "events.form_submission.fields", "social_profile", "page_sessions",
  "timeline_entries", "timeline_entries.lifecycle", "form_submissions", "web_sessions.events.user_agent",
  "web_sessions.events.call_to_action", "web_sessions.events.form_submission.fields",
  "web_sessions.events.city", "messages.from", "list_memberships", "locations", "static_lists",
  "project_template_stages", "cities", "recent_location", "resumes", "newest_event", "jobs",
  "job_applications", "notes",
}

--- The `include` enum of parameters.jobInclude (the seed names Job operations but describes no path).
_M.job_include = { "categories" }

--- Include enums by collection name, for the generic collection machinery. A collection not listed
-- here gets no include check: the seed does not say what it accepts.
_M.includes = {
  candidates = _M.candidate_include,
  jobs = _M.job_include,
}

--- Candidate filters (parameters.candidateFilter, deepObject style). The schema spells out only
-- updated_at.gte; its description adds updated_at.lt and email.eq. `time = true` marks values sent in
-- the API time form YYYY-MM-DDTHH:MM:SS.
_M.candidate_filter = {
  updated_at = { operators = { "gte", "lt" }, time = true },
  email = { operators = { "eq" } },
}

--- Query parameter names for paging (parameters.page and parameters.perPage).
_M.page_param = "page"
_M.per_page_param = "per_page"

--- Request bodies: the JSON:API `type` and the attributes each operation's schema lists.
-- `type` is the attribute's JSON type; `items` the item type of an array; `required` the names the
-- operation needs. `nonblank` / `nonblank_items` are our own additions, not the seed's: a blank tag or
-- file name is never meant, and the API refuses it anyway.
_M.requests = {
  -- createCandidate: POST /candidates
  create = {
    type = "candidate",
    attributes = {
      first_name = { type = "string" },
      last_name = { type = "string" },
      email = { type = "string", format = "email" },
      phone_number = { type = "string" },
      tag_values = { type = "array", items = "string", nonblank_items = true },
    },
    required = { "email" },
  },
  -- updateCandidate: PATCH /candidates/{candidateId}
  update = {
    type = "candidate",
    attributes = {
      first_name = { type = "string" },
      last_name = { type = "string" },
    },
    required = {},
  },
  -- createCandidateTag: POST /candidates/{candidateId}/tags. The seed marks `email` required, an evident
  -- copy error (its only attribute is `name`): the tag's name is what the operation needs.
  tag = {
    type = "tag",
    attributes = {
      name = { type = "string", nonblank = true },
    },
    required = { "name" },
  },
  -- createCandidateFile: POST /candidates/{candidateId}/candidate_files; content is base64 (format byte).
  file = {
    type = "candidate_files",
    attributes = {
      filename = { type = "string", nonblank = true },
      content = { type = "string", format = "byte" },
    },
    required = { "filename", "content" },
  },
}

return _M
