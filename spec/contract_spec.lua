-- clinch.contract is generated from the seed (api/recruitment-marketing-openapi.json) by
-- scripts/gen-contract.lua: regenerating it must give the checked-in file byte for byte, so the contract
-- and the code cannot drift apart. The generator's reading of the seed is checked against the seed
-- itself, and the library and CLI are checked for hand-copied lists of contract facts.
local support = require "support"
local contract = require "clinch.contract"

local seed = support.seed()

local keys = support.sorted_keys

local function sorted(list)
  local out = {}
  for i, v in ipairs(list) do out[i] = v end
  table.sort(out)
  return out
end

describe("lua/clinch/contract.lua", function()
  it("is what scripts/gen-contract.lua makes of the seed, byte for byte", function()
    local ok, out = support.run("cd " .. support.shell_quote(support.root) .. " && " .. support.lua
      .. " scripts/gen-contract.lua --stdout")
    assert.is_true(ok, out)
    local checked_in = support.read_file(support.root .. "/lua/clinch/contract.lua")
    assert.is_true(#out > 1000)
    assert(out == checked_in, "lua/clinch/contract.lua differs from the seed: run lua5.4 scripts/gen-contract.lua")
  end)

  it("is plain data: loading it parses no JSON and requires nothing", function()
    local chunk = assert(loadfile(support.root .. "/lua/clinch/contract.lua", "t", {}))
    if setfenv then setfenv(chunk, {}) end -- luacheck: ignore (5.1)
    local data = chunk()
    assert.same(contract, data)
  end)

  local cand = seed.components.schemas.Candidate.properties
  local ours = contract.schemas.Candidate

  it("has the Candidate schema's type, attributes, relationships, arrays and DateTimes", function()
    assert.equal(cand.type.example, ours.type)
    assert.same(keys(cand.attributes.properties), keys(ours.attributes))
    assert.same(keys(cand.relationships.properties), keys(ours.relationships))
    local arrays, datetimes = {}, {}
    for name, prop in pairs(cand.attributes.properties) do
      if prop.type == "array" then arrays[#arrays + 1] = name end
      if prop["$ref"] == "#/components/schemas/DateTime" then datetimes[#datetimes + 1] = name end
      assert.equal(prop.type, ours.attributes[name].type, name)
    end
    assert.same(sorted(arrays), ours.arrays)
    assert.same(sorted(datetimes), ours.datetimes)
    assert.is_true(#ours.arrays >= 8 and #ours.datetimes >= 5)
    assert.equal("company_lists", ours.relationships.static_lists.type)
    assert.equal(cand.relationships.properties.jobs.example.type, ours.relationships.jobs.type)
  end)

  it("has the parameters: include enums in the seed's order, paging names, filter facts, path ids", function()
    local params = seed.components.parameters
    assert.same(params.candidateInclude.schema.items.enum, contract.parameters.candidateInclude.enum)
    assert.same(params.jobInclude.schema.items.enum, contract.parameters.jobInclude.enum)
    assert.is_false(contract.parameters.candidateInclude.explode)
    -- clinch.resource sends every collection's includes under this one name.
    assert.equal(contract.parameters.candidateInclude.name, contract.parameters.jobInclude.name)
    assert.equal(params.page.name, contract.parameters.page.name)
    assert.equal(params.perPage.name, contract.parameters.perPage.name)
    local filter = contract.parameters.candidateFilter
    assert.equal("deepObject", filter.style)
    assert.equal("filter", filter.name)
    assert.same({ "gte" }, keys(filter.properties.updated_at.properties))
    assert.equal("date-time", filter.properties.updated_at.properties.gte.format)
    assert.same({ "candidateId", "listId", "tagId" }, keys(contract.path_parameters))
    for name, p in pairs(contract.path_parameters) do assert.equal("path", p["in"], name) end
  end)

  it("has every operation with its method, path, parameters and request body", function()
    local n = 0
    for path, item in pairs(seed.paths) do
      if path:sub(1, 1) == "/" then
        for method, op in pairs(item) do
          n = n + 1
          local o = assert(contract.operations[op.operationId], op.operationId)
          assert.equal(method:upper(), o.method)
          assert.equal(path, o.path)
          assert.equal(#(op.parameters or {}), #o.parameters)
          local body = op.requestBody
          assert.equal(body ~= nil, o.request ~= nil, op.operationId)
          if body then
            local data = body.content["application/vnd.api+json"].schema.properties.data.properties
            assert.equal(data.type.example, o.request.type)
            assert.same(keys(data.attributes.properties), keys(o.request.attributes))
            assert.same(data.attributes.required or {}, o.request.required)
            for attr, prop in pairs(data.attributes.properties) do
              assert.equal(prop.type, o.request.attributes[attr].type)
              assert.equal(prop.format, o.request.attributes[attr].format)
              assert.equal(prop.items and prop.items.type, o.request.attributes[attr].items)
            end
          end
        end
      end
    end
    assert.equal(n, #keys(contract.operations))
    assert.equal(8, n)
    assert.same({ "Candidate", "Job", "List" }, contract.tags)
  end)
end)

-- Lists of contract facts a file might copy: two or more of one list on one line of code is a copy.
local function fact_lists()
  local c = contract.schemas.Candidate
  local lists = {
    candidateInclude = contract.parameters.candidateInclude.enum, arrays = c.arrays, datetimes = c.datetimes,
    relationships = keys(c.relationships),
  }
  local out = {}
  for name, list in pairs(lists) do
    local set = {}
    for _, v in ipairs(list) do set[v] = true end
    out[name] = set
  end
  return out
end

describe("the library and the CLI", function()
  it("copy no list of contract facts and no query parameter name by hand", function()
    local lists = fact_lists()
    local p = assert(io.popen("cd " .. support.shell_quote(support.root)
      .. " && find lua bin/clinch -type f \\( -name '*.lua' -o -name clinch \\) | sort"))
    local files, problems = 0, {}
    for path in p:lines() do
      if path ~= "lua/clinch/contract.lua" then
        files = files + 1
        local n = 0
        for line in io.lines(support.root .. "/" .. path) do
          n = n + 1
          local code = line:gsub("%-%-.*$", "") -- comments may name anything
          for name, set in pairs(lists) do
            local count = 0
            for s in code:gmatch('"([^"]*)"') do
              if set[s] then count = count + 1 end
            end
            if count >= 2 then problems[#problems + 1] = path .. ":" .. n .. " copies " .. name end
          end
          for s in code:gmatch('"([^"]*)"') do
            if s == contract.parameters.perPage.name then problems[#problems + 1] = path .. ":" .. n .. " names "
              .. s end
          end
        end
      end
    end
    p:close()
    assert.is_true(files > 30)
    assert.same({}, problems)
  end)
end)
