-- types/ (the LuaLS annotations) is what scripts/gen-types.lua makes of the contract and the code, byte
-- for byte: a method added to a class, an attribute added to the contract or a changed doc comment
-- without regenerating fails here. The generator reads the live classes, so the drift cases below are
-- real: a method defined on the Candidate class (in a child process) shows up in its output.
local support = require "support"
local contract = require "clinch.contract"

local q = support.shell_quote

local function tmpdir()
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. q(dir)))
  return dir
end

-- Runs the generator into a new directory, after `prelude` (Lua code run by `-e` first) when given.
local function generate(prelude)
  local dir = tmpdir()
  -- No `cd`: the child environment (the suite's search paths) applies to the first command.
  local cmd = support.lua .. (prelude and (" -e " .. q(prelude)) or "") .. " "
    .. q(support.root .. "/scripts/gen-types.lua") .. " " .. q(dir)
  local ok, out = support.run(cmd)
  assert(ok, out)
  return dir
end

local function files(dir)
  local p = assert(io.popen("cd " .. q(dir) .. " && find . -type f | LC_ALL=C sort"))
  local list = {}
  for line in p:lines() do list[#list + 1] = line end
  p:close()
  return list
end

local function rm(dir)
  os.execute("rm -rf " .. q(dir))
end

local committed = support.root .. "/types"

describe("types/ (LuaLS annotations)", function()
  it("is what scripts/gen-types.lua makes of the contract and the code, byte for byte", function()
    local dir = generate()
    local made, have = files(dir), files(committed)
    assert.same(made, have)
    for _, name in ipairs(made) do
      local a, b = support.read_file(dir .. "/" .. name), support.read_file(committed .. "/" .. name)
      assert(a == b, "types/" .. name:sub(3) .. " differs from what the code and the contract give: run "
        .. "lua5.4 scripts/gen-types.lua")
    end
    rm(dir)
  end)

  it("are Lua files LuaLS can load: each compiles and returns its module table", function()
    for _, name in ipairs(files(committed)) do
      local chunk = assert(loadfile(committed .. "/" .. name:sub(3), "t", {}))
      assert.is_table(chunk(), name)
      assert.matches("^%-%-%-@meta clinch", support.read_file(committed .. "/" .. name:sub(3)))
    end
  end)

  it("changes when a resource class gets a method (read from the live class, with its doc comment)", function()
    local extra = os.tmpname()
    support.write_file(extra, table.concat({
      'local Candidate = require("clinch.resources.candidates").Object',
      "--- Archives the candidate.",
      "-- @tparam[opt] table opts the options",
      "-- @treturn boolean true",
      "-- @raise nothing",
      "function Candidate:zz_archive(opts) return opts end",
    }, "\n") .. "\n")
    local dir = generate("dofile(" .. string.format("%q", extra) .. ")")
    os.remove(extra)
    local text = support.read_file(dir .. "/clinch.lua")
    rm(dir)
    assert.matches("--- Archives the candidate.\n---@param opts? table the options\n---@return boolean\n"
      .. "function Candidate:zz_archive(opts) end\n", text, 1, true)
    assert.are_not.equal(support.read_file(committed .. "/clinch.lua"), text)
  end)

  it("changes when the contract's Candidate schema does", function()
    local dir = generate('require("clinch.contract").schemas.Candidate.attributes.zz_score = { type = "integer" }')
    local text = support.read_file(dir .. "/clinch.lua")
    rm(dir)
    assert.matches("---@field zz_score? integer\n", text, 1, true)
  end)

  it("types every attribute and relationship of the contract's Candidate", function()
    local text = support.read_file(committed .. "/clinch.lua")
    local class = text:match("\n(%-%-%-@class clinch%.Candidate: clinch%.Resource\n.-)\nlocal Candidate = {}")
    assert.is_string(class)
    local want = { string = "string", integer = "integer", number = "number", boolean = "boolean", object = "table" }
    for name, spec in pairs(contract.schemas.Candidate.attributes) do
      local ty = class:match("\n%-%-%-@field " .. name .. "%? (%S+)")
      assert(ty, "no field " .. name)
      if spec.schema then
        assert.equal("clinch." .. spec.schema, ty)
      elseif spec.enum then
        assert.equal('"' .. table.concat(spec.enum, '"|"') .. '"', ty)
      elseif spec.type == "array" then
        assert.equal((want[spec.items] or spec.items) .. "[]", ty)
      else
        assert.equal(want[spec.type], ty, name)
      end
    end
    for name in pairs(contract.schemas.Candidate.relationships) do
      assert.matches("\n---@field " .. name .. "? ", class, 1, true)
    end
    assert.matches("\n---@field jobs? clinch.Job|clinch.Job[] relationship", class, 1, true)
    -- every method of the live class, typed
    for name in pairs(require("clinch.resources.candidates").Object) do
      if not name:find("^_") then assert.matches("\nfunction Candidate:" .. name .. "(", text, 1, true) end
    end
    assert.matches("---@param attrs clinch.request.createCandidate", text, 1, true)
    assert.matches("---@class clinch.request.createCandidate\n---@field email string\n", text, 1, true)
  end)

  it("types the client options clinch.new checks: each refused with a value of another type", function()
    local text = support.read_file(committed .. "/clinch.lua")
    local block = assert(text:match("%-%-%-@class clinch%.ClientOptions\n(.-)\n\n"))
    local wrong = { string = 1, number = "x", boolean = "x", ["function"] = "x", ["clinch.Region"] = "mars",
                    ["clinch.SigningOptions"] = "x" }
    local n = 0
    for name, ty in block:gmatch("%-%-%-@field ([%w_]+)%??%s(%S+)") do
      if wrong[ty] ~= nil then
        local opts = { key = "k", secret = "s", [name] = wrong[ty] }
        -- clinch.new checks `profile` itself, the rest through validate.client_options (it raises their message)
        local ok, why = pcall(require("clinch").new, opts)
        assert(not ok, name .. " (" .. ty .. ") accepted a wrong value")
        assert.matches(name, why, 1, true)
        n = n + 1
      end
    end
    assert(n >= 20, "only " .. n .. " typed options")
    -- Not required: clinch.new looks a missing key or secret up in the environment and the profile.
    assert.matches("---@field key? string\n", block .. "\n", 1, true)
    assert.matches("---@field timeout? number default 60\n", block .. "\n", 1, true)
  end)

  it("gives clinch.Error every kind of errors.KIND and the fields the library sets", function()
    local text = support.read_file(committed .. "/clinch.lua")
    local kinds = assert(text:match("%-%-%-@alias clinch%.ErrorKind ([^\n]+)"))
    for kind in pairs(require("clinch.errors").DESCRIPTION) do
      assert.matches('"' .. kind .. '"', kinds, 1, true)
    end
    for _, field in ipairs { "kind clinch.ErrorKind", "message? string", "status? integer", "sent? boolean",
                             "request_id? string", "attempts? integer", "errors? table[]" } do
      assert.matches("\n---@field " .. field .. "\n", text, 1, true)
    end
  end)
end)
