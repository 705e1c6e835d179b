-- The lists resource (lua/clinch/resources/lists.lua, one registration in clinch.registry) against the
-- real mock: client.lists list / each / get(list_id), List objects wherever a response holds a list (a
-- candidate's static_lists), and `clinch lists`.
local support = require "support"
local contract = require "clinch.contract"
local registry = require "clinch.registry"
local lists_def = require "clinch.resources.lists"

describe("the lists resource", function()
  it("is registered under the contract's names", function()
    assert.equal(lists_def, registry.get("lists"))
    assert.equal("company_lists", lists_def.type)
    assert.equal(lists_def, registry.of_type(contract.schemas.Candidate.relationships.static_lists.type))
    assert.equal("/lists/{listId}", lists_def.item_path)
    assert.is_nil(lists_def.includes) -- the contract names none: nothing is checked
  end)
end)

describe("client.lists against the mock", function()
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

  it("lists and iterates List objects", function()
    local page = assert(client.lists:list { per_page = 5 })
    assert.equal(5, #page)
    assert.equal(8, page.meta.total_count)
    local list = page[1]
    assert.is_true(lists_def.is(list))
    assert.equal("company_lists", list.type)
    assert.equal("list " .. list.id .. " " .. list.name, tostring(list))
    local n = 0
    for l in client.lists:each { per_page = 3 } do
      assert.is_true(lists_def.is(l))
      n = n + 1
    end
    assert.equal(8, n)
  end)

  it("gets one list by its listId, as one encoded path segment", function()
    local first = assert(client.lists:list { per_page = 1 })[1]
    local list = assert(client.lists:get(first.id))
    assert.is_true(lists_def.is(list))
    assert.equal(first.name, list.name)
    assert.equal("/v1/lists/" .. first.id, requests()[2].uri)
    local none, err = client.lists:get("a/b")
    assert.is_nil(none)
    assert.equal("not_found", err.kind)
    assert.equal("/v1/lists/a%2Fb", requests()[3].uri)
    assert.has_error(function() client.lists:get("") end, "get: id must be a non-empty string, got an empty string")
    -- No include names in the contract: they are sent, and the server has the last word.
    local _, ierr = client.lists:list { include = { "members" } }
    assert.equal(400, ierr.status)
  end)

  it("makes a candidate's static lists List objects that reload from /lists/ID", function()
    local cand = assert(client.candidates:list { per_page = 1, include = { "static_lists" } })[1]
    local list = cand.static_lists[1]
    assert.is_true(lists_def.is(list))
    local name = list.name
    list.name = nil
    assert.equal(list, list:reload())
    assert.equal(name, list.name)
    assert.equal("/v1/lists/" .. list.id, requests()[#requests()].uri)
    assert.has_error(function() lists_def.Object.reload({ id = "x" }) end,
      "list:reload: not a list object (use list:reload(...))")
  end)

  describe("clinch lists", function()
    if support.is_luajit then
      pending("the CLI runs on Lua 5.4 only: covered by the Lua 5.4 suite")
      return
    end
    local function run(args)
      return support.cli_main(args, { vars = { CLINCH_BASE_URL = mock.base_url, CLINCH_API_KEY = "test-key",
                                               CLINCH_API_SECRET = "test-secret" } })
    end

    it("lists lists as CSV with the resource's columns and gets one", function()
      local code, out, err = run { "lists", "list", "--format", "csv" }
      assert.equal(0, code, err)
      local lines = {}
      for line in out:gmatch("([^\r\n]*)\r\n") do lines[#lines + 1] = line end
      assert.equal(table.concat(lists_def.columns, ","), lines[1])
      assert.equal(9, #lines)
      local id = lines[2]:match("^(%x+),")
      local gcode, one = run { "lists", "get", id, "--format", "json" }
      assert.equal(0, gcode)
      assert.equal(id, require("cjson").decode(one).id)
      assert.equal(1, (run { "lists", "get", "nope" }))
    end)

    it("has default columns that name attributes the API serves for lists", function()
      local list = assert(client.lists:list { per_page = 1 })[1]
      local raw = require("clinch.jsonapi").raw(list)
      for _, c in ipairs(lists_def.columns) do
        assert.is_true(c == "id" or raw.attributes[c] ~= nil, c)
      end
    end)
  end)
end)
