-- The API reference (`make docs`, from the doc comments) leaves nothing out: every public function
-- (scripts/api-surface.lua reads them from the live module tables) has a doc comment naming each of its
-- parameters (@param or @tparam), what it returns (@return or @treturn) and what it raises (@raise).
-- The comments are parsed here in Lua: the check needs no ldoc.
local support = require "support"

local surface = dofile(support.root .. "/scripts/api-surface.lua")

local function find(list, call)
  for _, f in ipairs(list) do if f.call == call then return f end end
  return nil
end

describe("the API reference's doc comments", function()
  it("document every public function: parameters, returns and errors", function()
    local problems = surface.problems(support.root)
    assert(#problems == 0, "undocumented public API (see README \"API reference\"):\n" .. table.concat(problems, "\n"))
  end)

  it("cover what users call, read from the live modules", function()
    local list = surface.functions()
    for _, call in ipairs { "clinch.new", "client:request", "client:parallel", "client:close", "pending:wait",
                            "collection:list", "collection:each", "collection:get", "page:next",
                            "candidates:create", "candidates:upload_resume", "cand:update", "cand:reload",
                            "job:reload", "list:reload", "errors.new", "errors.is", "jsonapi.decode",
                            "jsonapi.raw", "uri.segment", "uri.build" } do
      local f = find(list, call)
      assert(f, call .. " is not in the public API")
      assert.is_string(f.path, call)
    end
    for _, f in ipairs(list) do
      assert(not f.name:find("^_"), f.call .. ": internal names are not public")
    end
    assert.is_nil(find(list, "client:_prepare"))
  end)

  it("come from files config.ld gives ldoc, so that `make docs` shows every public function", function()
    local config = {}
    local chunk = assert(loadfile(support.root .. "/config.ld", "t", config))
    if setfenv then setfenv(chunk, config) end -- luacheck: ignore (5.1)
    chunk()
    local listed = {}
    for _, path in ipairs(config.file) do listed[path] = true end
    for _, f in ipairs(surface.functions()) do
      assert(listed[f.path], f.call .. " is defined in " .. tostring(f.path) .. ", which config.ld does not list")
    end
  end)

  it("fail for a new public function without a doc comment, found in the module table", function()
    local errors = require "clinch.errors"
    local Candidate = require("clinch.resources.candidates").Object
    errors.zz_undocumented = function(a) return a end
    Candidate.zz_method = function(self, b) return self, b end
    local ok, problems = pcall(surface.problems, support.root)
    errors.zz_undocumented, Candidate.zz_method = nil, nil
    assert(ok, problems)
    local text = table.concat(problems, "\n")
    assert.matches("errors.zz_undocumented (spec/docs_spec.lua:", text, 1, true)
    assert.matches("cand:zz_method (spec/docs_spec.lua:", text, 1, true)
    assert.matches("no doc comment", text, 1, true)
  end)

  it("fail for a documented function missing @param, @return or @raise", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir .. "/lua/clinch"))
    support.write_file(dir .. "/lua/clinch/x.lua", table.concat({
      "--- Only a summary.",
      "function M.a(first, second) end",
      "--- Parameters and returns, no raise.",
      "-- @tparam string first the first",
      "-- @param second the second",
      "-- @treturn boolean",
      "function M.b(first, second) end",
      "--- All of it.",
      "-- @tparam[opt] table opts the options",
      "-- @return nothing",
      "-- @raise nothing",
      "function M:c(opts) end",
    }, "\n") .. "\n")
    local function entry(name, line)
      return { call = "x." .. name, name = name, path = "lua/clinch/x.lua", line = line }
    end
    local problems = surface.problems(dir, { entry("a", 2), entry("b", 7), entry("c", 12) })
    os.execute("rm -rf " .. dir)
    assert.same({
      "x.a (lua/clinch/x.lua:2): parameter 'first' has no @param",
      "x.a (lua/clinch/x.lua:2): parameter 'second' has no @param",
      "x.a (lua/clinch/x.lua:2): no @return",
      "x.a (lua/clinch/x.lua:2): no @raise",
      "x.b (lua/clinch/x.lua:7): no @raise",
    }, problems)
  end)

  it("are read with their types and optional markers (which scripts/gen-types.lua uses)", function()
    local f = find(surface.functions(), "collection:get")
    local doc = surface.doc(support.root, f.path, f.line)
    assert.same({ "id", "opts" }, surface.params(support.root, f.path, f.line))
    assert.same("id", doc.params[1].name)
    assert.same("string", doc.params[1].type)
    assert.is_true(doc.params[2].optional)
    assert.same("Error", doc.returns[#doc.returns].type)
    assert.same(2, doc.returns[#doc.returns].group)
  end)
end)
