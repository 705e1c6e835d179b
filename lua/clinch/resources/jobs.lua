--- The jobs resource (`client.jobs`, `clinch jobs list|get`) and its Job objects: the Job operations
-- the contract's tags name without describing them.
--
--    local page = assert(client.jobs:list { include = { "categories" }, per_page = 50 })
--    print(page[1], page[1].categories[1].name)     -- job 4aa454... Software Engineer   Engineering
--    local job = assert(client.jobs:get("4aa454fa42106969bc4a6ea2366262e5"))
--    assert(cand.jobs[1]:reload())                   -- a candidate's related jobs are Job objects too
--
-- The contract gives jobs no path and no attributes: the path is the project's choice (the API's facts
-- note: reach them on the same machinery as candidates), the type is the one its Candidate `jobs`
-- relationship example names, and the include names are its jobInclude enum.
-- @module clinch.resources.jobs
local contract = require "clinch.contract"
local resource = require "clinch.resource"

return resource.define {
  name = "jobs", label = "job", path = "/jobs",
  type = contract.schemas.Candidate.relationships.jobs.type,
  includes = contract.parameters.jobInclude.enum,
  -- The CLI's default csv and table columns. The contract describes no Job attributes, so these are
  -- what the API's candidates say of jobs (the departments and cities they viewed) and what the mock
  -- serves (spec/jobs_spec.lua checks them against it).
  columns = { "id", "title", "reference", "department", "city", "status", "updated_at" },
}
