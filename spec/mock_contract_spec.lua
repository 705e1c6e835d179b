-- The mock keeps its own copy of the contract's facts on purpose (it judges the client, so it must not
-- read the client's clinch.contract). This checks that copy against the contract, in-process: the
-- names it renders and accepts, and a rendered candidate's attributes and relationships.
local contract = require "clinch.contract"
local render = require "clinch.mock.render"
local api = require "clinch.mock.api"
local store = require "clinch.mock.store"
local support = require "support"

local function set(list)
  local out = {}
  for _, v in ipairs(list) do out[v] = true end
  return out
end

local keys = support.sorted_keys

describe("the mock's copy of the contract", function()
  local cand = contract.schemas.Candidate

  it("names the Candidate relationships and the include enums as the contract does", function()
    assert.same(keys(cand.relationships), keys(set(render.RELATIONSHIPS)))
    assert.same(contract.parameters.candidateInclude.enum, render.INCLUDES)
    assert.same(contract.parameters.jobInclude.enum, render.JOB_INCLUDES)
    assert.equal(cand.relationships.jobs.type, render.JOB_TYPE)
    assert.equal(cand.relationships.static_lists.type, render.LIST_TYPE)
  end)

  it("takes the contract's paging parameters and its filters (the schema's and the description's)", function()
    assert.equal(contract.parameters.page.name, api.PAGE)
    assert.equal(contract.parameters.perPage.name, api.PER_PAGE)
    local filter = contract.parameters.candidateFilter
    for field, spec in pairs(filter.properties) do
      for op in pairs(spec.properties) do
        assert.truthy(api.FILTERS[filter.name .. "[" .. field .. "][" .. op .. "]"], field .. "." .. op)
      end
    end
    -- What the mock accepts beyond the schema is what clinch.schema's overlay adds from the prose.
    local overlay = require("clinch.schema").OVERLAY.filters.candidateFilter
    local extra = {}
    for name in pairs(api.FILTERS) do
      local field, op = name:match("^filter%[([%w_]+)%]%[([%w_]+)%]$")
      if not (filter.properties[field] and filter.properties[field].properties[op]) then
        extra[#extra + 1] = field .. "." .. op
      end
    end
    table.sort(extra)
    local want = {}
    for field, ops in pairs(overlay) do for _, op in ipairs(ops) do want[#want + 1] = field .. "." .. op end end
    table.sort(want)
    assert.same(want, extra)
  end)

  it("renders a candidate with exactly the contract's attributes and relationships, typed as it says", function()
    local s = store.new { seed = 3, candidates = 3, anchor = 1700000000 }
    local ctx = render.context("http://mock/v1", { jobs = true, static_lists = true }, 1700000000)
    local c = render.candidate(s.candidates[1], ctx)
    assert.equal(cand.type, c.type)
    assert.same(keys(cand.attributes), keys(c.attributes))
    assert.same(keys(cand.relationships), keys(c.relationships))
    local json = require "clinch.mock.json"
    for name, spec in pairs(cand.attributes) do
      local v = c.attributes[name]
      if spec.schema == "DateTime" then
        for field in pairs(contract.schemas.DateTime.properties) do
          assert.is_not_nil(v[field], name .. "." .. field)
        end
      elseif spec.type == "array" then
        -- written as [] even when empty (the mock's marker for an empty array)
        assert.is_true(v == json.empty_array or (type(v) == "table" and v[1] ~= nil), name)
      elseif spec.type == "string" and v ~= json.null then
        assert.is_string(v, name)
      elseif spec.type == "boolean" then
        assert.is_boolean(v, name)
      elseif spec.type == "integer" or spec.type == "number" then
        assert.is_number(v, name)
      end
    end
    for _, link in ipairs(c.relationships.jobs.data) do assert.equal(cand.relationships.jobs.type, link.type) end
    for _, link in ipairs(c.relationships.static_lists.data) do
      assert.equal(cand.relationships.static_lists.type, link.type)
    end
  end)
end)
