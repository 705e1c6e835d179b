-- clinch.schema is the contract (clinch.contract) plus the project's overlay. Each overlay entry must
-- still apply to the seed: one the contract has made unnecessary (or that names what the contract does
-- not have) fails here, so the overlay can only hold the project's decisions.
local support = require "support"
local contract = require "clinch.contract"
local schema = require "clinch.schema"

local seed = support.seed()

local function keys(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  table.sort(out)
  return out
end

describe("clinch.schema's overlay", function()
  local overlay = schema.OVERLAY

  it("adds to request attributes the contract has, and adds nothing the contract says", function()
    for op, extra in pairs(overlay.requests) do
      local req = assert(contract.operations[op] and contract.operations[op].request, op)
      for name, rules in pairs(extra.attributes or {}) do
        assert.is_table(req.attributes[name], op .. "." .. name)
        for rule in pairs(rules) do
          assert.is_true(rule == "nonblank" or rule == "nonblank_items", rule)
          assert.is_nil(req.attributes[name][rule])
        end
      end
    end
  end)

  it("corrects createCandidateTag's required list only while the seed keeps its copy error", function()
    local data = seed.paths["/candidates/{candidateId}/tags"].post.requestBody.content["application/vnd.api+json"]
      .schema.properties.data.properties.attributes
    -- The seed requires `email` on a schema whose only attribute is `name`; if the seed is ever fixed, this
    -- fails and the overlay entry can go.
    assert.same({ "email" }, data.required)
    assert.is_nil(data.properties.email)
    assert.same({ "name" }, schema.request("createCandidateTag").required)
    for op, extra in pairs(overlay.requests) do
      if op ~= "createCandidateTag" then assert.is_nil(extra.required, op) end
    end
  end)

  it("adds only filter operators the seed gives in prose, not in its schema", function()
    for param, fields in pairs(overlay.filters) do
      local p = seed.components.parameters[param]
      for field, ops in pairs(fields) do
        for _, op in ipairs(ops) do
          assert.truthy(p.description:find("filter[" .. field .. "][" .. op .. "]", 1, true), field .. "." .. op)
          local described = p.schema.properties[field]
          assert.is_falsy(described and described.properties[op], field .. "." .. op .. " is in the schema now")
        end
      end
    end
  end)
end)

describe("clinch.schema's merged views", function()
  it("gives request rules: the contract's attributes and required names with the overlay's rules", function()
    local create = schema.request("createCandidate")
    assert.equal(contract.operations.createCandidate.request.type, create.type)
    assert.same(keys(contract.operations.createCandidate.request.attributes), keys(create.attributes))
    assert.same({ "email" }, create.required)
    assert.equal("email", create.attributes.email.format)
    assert.is_true(create.attributes.tag_values.nonblank_items)
    assert.equal("string", create.attributes.tag_values.items)
    assert.is_true(schema.request("createCandidateFile").attributes.filename.nonblank)
    assert.is_true(schema.request("createCandidateTag").attributes.name.nonblank)
    assert.same({}, schema.request("updateCandidate").required)
    assert.equal(create, schema.request("createCandidate")) -- made once
    -- The contract's own data is never changed by the overlay.
    assert.is_nil(contract.operations.createCandidate.request.attributes.tag_values.nonblank_items)
    assert.has_error(function() schema.request("getCandidate") end,
      "clinch.schema: the contract has no request body for getCandidate")
  end)

  it("gives filter rules: the schema's operators, the prose's, times and value types", function()
    local f = schema.filter("candidateFilter", "Candidate")
    assert.same({ "email", "updated_at" }, keys(f))
    assert.same({ "gte", "lt" }, f.updated_at.operators)
    assert.is_true(f.updated_at.time)
    assert.same({ "eq" }, f.email.operators)
    assert.is_nil(f.email.time)
    assert.equal("string", f.email.value) -- the Candidate attribute's type
    assert.has_error(function() schema.filter("candidateInclude") end,
      "clinch.schema: the contract has no deepObject filter parameter candidateInclude")
  end)
end)
