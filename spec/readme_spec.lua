-- The README's "Running your own script" and tour, as a newcomer follows them: install with
-- `make install PREFIX=<tmp>`, set the paths the way the README says, and run the README's first Lua
-- block with lua5.4 against a mock named only by the environment (CLINCH_BASE_URL...): it must exit 0
-- and the mock must have seen its requests. Also: the checkout line (scripts/env.sh), and every fault
-- example of the mock's section is one the mock accepts.
local support = require "support"
local read_file, write_file = support.read_file, support.write_file
local q = support.shell_quote

local readme = assert(read_file(support.root .. "/README.md"))

-- The text of the README's section whose heading is `title` (up to the next heading of its level).
local function section(title)
  local start = readme:find("\n## " .. title .. "\n", 1, true)
  assert(start, "README has no section " .. title)
  local stop = readme:find("\n## ", start + 1, true) or #readme
  return readme:sub(start, stop)
end

-- The fenced blocks of `text` in `lang`, in order.
local function blocks(text, lang)
  local list = {}
  for body in text:gmatch("\n```" .. lang .. "\n(.-)\n```") do list[#list + 1] = body end
  return list
end

describe("README", function()
  local tmp
  setup(function() tmp = support.tmpdir() end)
  teardown(function() os.execute("rm -rf " .. q(tmp)) end)

  -- Runs `script` with /bin/sh from the checkout, with none of the suite's module paths and only the
  -- environment given -> exit code, output (stdout and stderr).
  local function sh(script, vars)
    write_file(tmp .. "/run.sh", script)
    local assign = {}
    for k, v in pairs(vars or {}) do assign[#assign + 1] = k .. "=" .. q(v) end
    local p = assert(io.popen("cd " .. q(support.root) .. " && env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 "
      .. "-u LUA_CPATH_5_4 -u LUA_INIT -u LUA_INIT_5_4 -u CLINCH_REGION -u CLINCH_PROFILE " .. table.concat(assign, " ")
      .. " sh -e " .. q(tmp .. "/run.sh") .. " >" .. q(tmp .. "/out") .. " 2>&1; echo $? >" .. q(tmp .. "/code")))
    p:read("*a")
    p:close()
    return tonumber(read_file(tmp .. "/code")), read_file(tmp .. "/out")
  end

  it("the first Lua block runs as written after make install, against the mock the environment names #slow",
    function()
    if support.is_luajit then return pending("the README's script is for lua5.4: the 5.4 suite runs it") end
    local tour = assert(blocks(readme, "lua")[1], "no ```lua block")
    assert.matches("clinch.new()", tour, 1, true) -- the environment decides where it goes
    -- The install block of "Running your own script": the one naming a PREFIX, with ours.
    local install
    for _, b in ipairs(blocks(section("Running your own script"), "sh")) do
      if b:find("make install PREFIX=", 1, true) then install = b end
    end
    assert(install, "no install block with a PREFIX")
    local prefix = tmp .. "/prefix"
    local lines = {}
    for line in (install .. "\n"):gmatch("([^\n]*)\n") do
      if line:match("^PREFIX=") then line = "PREFIX=" .. q(prefix)
      elseif line:match("^lua5%.4 ") then line = nil end -- the user's own script: ours follows
      lines[#lines + 1] = line
    end
    write_file(tmp .. "/tour.lua", tour)
    os.execute("mkdir -p " .. q(tmp .. "/work/cv"))
    write_file(tmp .. "/work/cv/jane.pdf", "%PDF-1.4\n% a resume\n")
    -- Where the modules came from, then the script, from a directory holding cv/jane.pdf.
    lines[#lines + 1] = "lua5.4 -e 'print(package.searchpath(\"clinch\", package.path)) "
      .. "print(package.searchpath(\"clinch.core\", package.cpath))'"
    lines[#lines + 1] = "cd " .. q(tmp .. "/work") .. " && lua5.4 " .. q(tmp .. "/tour.lua")
    local mock = support.start_mock { "--candidates", "20", "--seed", "5" }
    local ok, code, out = pcall(sh, table.concat(lines, "\n") .. "\n", {
      CLINCH_BASE_URL = mock.base_url, CLINCH_API_KEY = "test-key", CLINCH_API_SECRET = "test-secret",
      XDG_CONFIG_HOME = tmp .. "/no-config", MAKEFLAGS = "-s" })
    local log = mock.control("GET", "requests").requests
    mock.stop()
    assert(ok, code)
    assert.are.equal(0, code, out)
    assert.matches(prefix .. "/share/lua/5.4/clinch/init.lua\n" .. prefix .. "/lib/lua/5.4/clinch/core.so\n",
      out, 1, true)
    local seen = {}
    for i, r in ipairs(log) do
      seen[i] = ("%s %s %d"):format(r.method, (r.uri:gsub("%?.*", "")), r.status)
      assert.is_true(r.status < 300, seen[i])
    end
    local id = log[2] and log[3].uri:match("^/v1/candidates/([%x]+)/tags$")
    assert.is_string(id, table.concat(seen, "\n"))
    assert.are.same({ "GET /v1/candidates 200", "POST /v1/candidates 201", "POST /v1/candidates/" .. id .. "/tags 201",
                      "POST /v1/candidates/" .. id .. "/candidate_files 201" }, seen)
    assert.matches("jane.pdf", log[4].body, 1, true)
  end)

  it("scripts/env.sh, as the README gives it, lets lua5.4 load the checkout from anywhere", function()
    if support.is_luajit then return pending("lua5.4's paths: the 5.4 suite runs it") end
    local line
    for _, b in ipairs(blocks(section("Running your own script"), "sh")) do
      line = line or b:match("[^\n]*scripts/env%.sh[^\n]*")
    end
    assert.is_string(line)
    local code, out = sh(line .. "\ncd / && lua5.4 -e 'print(require(\"clinch\")._VERSION, "
      .. "package.searchpath(\"clinch.core\", package.cpath))'\n", { MAKEFLAGS = "-s" })
    assert.are.equal(0, code, out)
    assert.matches(require("clinch")._VERSION .. "\t" .. support.root .. "/build/5.4/clinch/core.so", out, 1, true)
  end)

  it("every fault example of the mock's section is one the mock accepts", function()
    local text = section("The mock API: `bin/clinch-mock`")
    local examples = {}
    -- The table of faults: | `kind` | `{"kind": ...}` | what it does |
    for json in text:gmatch("\n| `[^`]+`[^|]*| `({\"kind\": [^`]+})` |") do examples[#examples + 1] = json end
    for json in text:gmatch("%-d '({[^']+})'") do examples[#examples + 1] = json end
    local kinds = {}
    for _, json in ipairs(examples) do kinds[json:match('"kind": "(%w+)"')] = true end
    for _, kind in ipairs { "latency", "status", "reset", "truncate", "trickle", "redirect", "churn", "pagination",
                            "overload" } do
      assert.is_true(kinds[kind], "no example of the fault " .. kind)
    end
    local mock = support.start_mock {}
    local cjson = require "cjson"
    for _, json in ipairs(examples) do
      local reply, status = mock.control("POST", "faults", cjson.decode(json))
      assert.are.equal(200, status, json .. ": " .. cjson.encode(reply))
      assert.are.equal(cjson.decode(json).kind, reply.fault.kind)
    end
    mock.stop()
  end)
end)
