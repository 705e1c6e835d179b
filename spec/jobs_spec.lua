-- The jobs resource (lua/clinch/resources/jobs.lua, one registration in clinch.registry) against the
-- real mock: client.jobs list / each / get with include = { "categories" }, Job objects wherever a
-- response holds a job (a candidate's related jobs, a job application's stub), and `clinch jobs`.
local support = require "support"
local contract = require "clinch.contract"
local registry = require "clinch.registry"
local jobs_def = require "clinch.resources.jobs"
local unpack = table.unpack or unpack

-- Calls f under pcall from this line -> the message and the line it should name.
local function blamed(f, ...)
  local line = debug.getinfo(1, "l").currentline + 1
  local ok, err = pcall(f, ...)
  return (not ok) and tostring(err) or nil, line
end

describe("the jobs resource", function()
  it("is registered under the contract's names", function()
    assert.equal(jobs_def, registry.get("jobs"))
    assert.equal(jobs_def, registry.of_type(contract.schemas.Candidate.relationships.jobs.type))
    assert.same(contract.parameters.jobInclude.enum, jobs_def.includes)
    assert.is_nil(registry.arrays(jobs_def.type)) -- the contract describes no Job attributes
  end)
end)

describe("client.jobs against the mock", function()
  local mock, client

  setup(function()
    mock, client = support.start_mock_client { "--candidates", "30" }
  end)
  teardown(function()
    if client then client:close() end
    if mock then mock.stop() end
  end)
  before_each(function() mock.control("DELETE", "requests") end)

  local function requests()
    return mock.control("GET", "requests").requests
  end

  it("lists Job objects with their categories included, and pages through all of them", function()
    local page = assert(client.jobs:list { include = { "categories" }, per_page = 10 })
    assert.equal(10, #page)
    assert.equal(40, page.meta.total_count)
    assert.equal("/v1/jobs?include=categories&per_page=10", requests()[1].uri)
    local job = page[1]
    assert.is_true(jobs_def.is(job))
    assert.equal("jobs", job.type)
    assert.is_string(job.title)
    assert.equal("job " .. job.id .. " " .. job.title, tostring(job))
    assert.equal("categories", job.categories[1].type)
    assert.equal(job.category, job.categories[1].name)
    assert.is_number(job.updated_at.epoch)
    local ids, n = {}, 0
    for j in client.jobs:each { per_page = 7, prefetch = true } do
      assert.is_nil(ids[j.id])
      assert.is_true(jobs_def.is(j))
      ids[j.id], n = true, n + 1
    end
    assert.equal(40, n)
  end)

  it("gets one job, and checks include names against the contract's jobInclude before sending", function()
    local first = assert(client.jobs:list { per_page = 1 })[1]
    local job = assert(client.jobs:get(first.id, { include = "categories" }))
    assert.equal(first.id, job.id)
    assert.is_true(#job.categories >= 1)
    local _, err = client.jobs:list { include = { "notes" } }
    assert.equal("validation", err.kind)
    assert.matches("valid names: categories", err.message, 1, true)
    local none, nf = client.jobs:get("no-such-job")
    assert.is_nil(none)
    assert.equal("not_found", nf.kind)
    assert.equal(3, #requests()) -- the unknown include never went out
    assert.is_true(rawequal(client.jobs, client:resource("jobs")))
  end)

  it("makes a candidate's related jobs Job objects that reload from /jobs/ID", function()
    local cand = assert(client.candidates:list { per_page = 1, include = { "jobs" } })[1]
    local job = cand.jobs[1]
    assert.is_true(jobs_def.is(job))
    assert.matches("^job %x+ ", tostring(job))
    local title = job.title
    job.title = "changed locally"
    assert.equal(job, job:reload { include = { "categories" } })
    assert.is_true(rawequal(job, cand.jobs[1]))
    assert.equal(title, job.title)
    assert.equal("categories", job.categories[1].type)
    assert.equal("/v1/jobs/" .. job.id .. "?include=categories", requests()[#requests()].uri)
  end)

  it("makes a stub of a job the document does not hold a Job object too", function()
    local cand = assert(client.candidates:list { per_page = 1, include = { "job_applications" } })[1]
    local stub = cand.job_applications[1].job
    assert.same({ "id", "type" }, (function()
      local k = {}
      for name in pairs(stub) do k[#k + 1] = name end
      table.sort(k)
      return k
    end)())
    assert.is_true(jobs_def.is(stub))
    assert.equal("job " .. stub.id, tostring(stub))
    assert(stub:reload())
    assert.is_string(stub.title)
  end)

  it("makes a page of jobs valid UTF-8 as it does for candidates, the bytes kept for jsonapi.raw", function()
    local jsonapi, resource = require "clinch.jsonapi", require "clinch.resource"
    local body = '{"data":[{"type":"jobs","id":"j1","attributes":{"title":"Nurse \255\254","city":"K\195\182ln"}}]}'
    local doc = registry.wrap(assert(jsonapi.decode(body)), client)
    local res = { status = 200, headers = {}, body = body, document = doc }
    local job = assert(client.jobs:_page(res, "/jobs", {}, 1))[1]
    assert.is_true(jobs_def.is(job))
    assert.equal("Nurse \239\191\189\239\191\189", job.title)
    assert.equal("K\195\182ln", job.city)
    assert.same({ title = 2 }, resource.replaced(job))
    assert.equal("Nurse \255\254", jsonapi.raw(job).attributes.title)
  end)

  it("raises programming mistakes at the caller's line", function()
    local job = assert(client.jobs:list { per_page = 1 })[1]
    for _, case in ipairs {
      { client.jobs.get, client.jobs, 42 },
      { client.jobs.list, client.jobs, { include = { "categories" }, bogus = 1 } },
      { job.reload, job, { per_page = 5 } },
      { job.reload, { id = "x" } },
    } do
      local err, line = blamed(unpack(case))
      assert.matches("jobs_spec%.lua:" .. line .. ": ", err)
    end
    local err = blamed(job.reload, {})
    assert.matches("job:reload: not a job object %(use job:reload%(...%)%)", err)
  end)

  describe("clinch jobs", function()
    if support.is_luajit then
      pending("the CLI runs on Lua 5.4 only: covered by the Lua 5.4 suite")
      return
    end
    local function run(args)
      return support.cli_main(args, { vars = { CLINCH_BASE_URL = mock.base_url, CLINCH_API_KEY = "test-key",
                                               CLINCH_API_SECRET = "test-secret" } })
    end

    it("lists jobs as CSV with the resource's columns, every page with --all", function()
      local code, out, err = run { "jobs", "list", "--all", "--per-page", "15", "--format", "csv" }
      assert.equal(0, code, err)
      local lines = {}
      for line in out:gmatch("([^\r\n]*)\r\n") do lines[#lines + 1] = line end
      assert.equal(table.concat(jobs_def.columns, ","), lines[1])
      assert.equal(41, #lines)
      assert.matches("^%x+,", lines[2])
      code, out = run { "jobs", "list", "--format", "csv", "--columns", "id,title" }
      assert.equal(0, code)
      assert.matches("^id,title\r\n", out)
    end)

    it("gets one job with its categories, and refuses an unknown include with exit code 2", function()
      local _, out = run { "jobs", "list", "--per-page", "1", "--format", "jsonl" }
      local id = out:match('"id":"(%x+)"')
      local code, one = run { "jobs", "get", id, "--include", "categories", "--format", "json" }
      assert.equal(0, code)
      local doc = require("cjson").decode(one)
      assert.equal(id, doc.id)
      assert.equal("categories", doc.included[1].type)
      local bad, _, err = run { "jobs", "list", "--include", "notes" }
      assert.equal(2, bad)
      assert.matches("valid names: categories", err, 1, true)
      local help = select(2, run { "jobs", "--help" })
      assert.matches("jobs: list, get", help, 1, true)
    end)

    it("has default columns that name attributes the API serves for jobs", function()
      local job = assert(client.jobs:list { per_page = 1 })[1]
      local raw = require("clinch.jsonapi").raw(job)
      for _, c in ipairs(jobs_def.columns) do
        assert.is_true(c == "id" or raw.attributes[c] ~= nil, c)
      end
    end)
  end)
end)
