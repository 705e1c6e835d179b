-- bin/clinch-mock's numeric options: a port outside 0-65535 (LuaSocket would bind 99999 as 34463),
-- a negative, fractional or non-numeric value is refused with a clear message and exit code 2.
local support = require "support"
local q = support.shell_quote

local tmp = support.tmpdir()
teardown(function() os.execute("rm -rf " .. q(tmp)) end)

-- Runs bin/clinch-mock with arguments -> exit code, stdout, stderr (a refused option exits at once).
local function mock(...)
  local argv = {}
  for i, a in ipairs { ... } do argv[i] = q(a) end
  local p = assert(io.popen(support.child_env .. "timeout 10 " .. support.lua .. " bin/clinch-mock "
    .. table.concat(argv, " ") .. " </dev/null 2>" .. q(tmp .. "/err") .. "; echo $? >" .. q(tmp .. "/code")))
  local out = p:read("*a")
  p:close()
  return tonumber(support.read_file(tmp .. "/code")), out, support.read_file(tmp .. "/err")
end

describe("clinch-mock --port", function()
  it("refuses what is no port, saying what a port is", function()
    for _, value in ipairs { "99999", "65536", "-1", "abc", "1.5", "", "1e3", "0x50", " 80" } do
      local code, out, err = mock("--port", value)
      assert.are.equal(2, code, value)
      assert.are.equal("", out)
      assert.are.equal("clinch-mock: --port must be a whole number from 1 to 65535, or 0 for a free port; got '"
        .. value .. "'\n", err)
    end
    local code, _, err = mock("--port=70000")
    assert.are.equal(2, code)
    assert.matches("got '70000'", err, 1, true)
  end)

  it("refuses other numeric options that are not whole numbers", function()
    local code, _, err = mock("--candidates", "ten")
    assert.are.equal(2, code)
    assert.are.equal("clinch-mock: --candidates must be a non-negative whole number; got 'ten'\n", err)
  end)

  it("names an unknown option as unknown, with a value or without", function()
    for _, argv in ipairs { { "--bogus" }, { "--bogus", "1" }, { "--bogus=1" } } do
      local code, _, err = mock((table.unpack or unpack)(argv))
      assert.are.equal(2, code)
      assert.are.equal("clinch-mock: unknown option --bogus (see --help)\n", err)
    end
  end)

  it("takes 0 as any free port, and a port it is given", function()
    local m = support.start_mock {} -- starts with --port 0
    assert.is_true(m.port > 0 and m.port <= 65535)
    m.stop()
    -- The port just freed is a real one: asking for it by number gets it.
    local again = support.start_mock { "--port", tostring(m.port) }
    assert.are.equal(m.port, again.port)
    again.stop()
  end)

  it("clinch.mock.new refuses a port out of range", function()
    local ok, err = pcall(require("clinch.mock").new, { port = 99999 })
    assert.is_false(ok)
    assert.matches("port must be a whole number from 0 %(any free port%) to 65535", err)
  end)
end)
