-- The rockspec stays in step with the tree, and `luarocks make` builds a tree that `require "clinch"` works from.
local support = require "support"

-- Listing commands run without the sanitizer runtimes the ASan run preloads (LeakSanitizer aborts
-- `sort` and `ls` at exit over their own never-freed memory).
local LIST = "env -u LD_PRELOAD "

local function rockspec(file)
  local env = {}
  local chunk = assert(loadfile(support.root .. "/" .. file, "t", env))
  if setfenv then setfenv(chunk, env) end -- luacheck: ignore (5.1)
  chunk()
  return env
end

-- Every Lua module under `dir` is listed in `modules` (a rockspec's module table) with its module name,
-- and nothing else is.
local function assert_lists_tree(file, dir, modules)
  local listed = {}
  for name, src in pairs(modules) do
    if type(src) == "string" then listed[src] = name end
  end
  local p = assert(io.popen("cd " .. support.shell_quote(support.root) .. " && "
    .. LIST .. "find " .. dir .. " -name '*.lua' | " .. LIST .. "sort"))
  local count = 0
  for path in p:lines() do
    count = count + 1
    local expected = path:sub(#dir + 2):gsub("%.lua$", ""):gsub("/init$", ""):gsub("/", ".")
    assert.are.equal(expected, listed[path], path .. " is not listed as module " .. expected .. " in " .. file)
    listed[path] = nil
  end
  p:close()
  assert.is_true(count > 5)
  assert.are.same({}, listed)
end

local clinch = require "clinch"
local VERSION = clinch._VERSION
local CLINCH, MOCK = "clinch-" .. VERSION .. "-1.rockspec", "clinch-mock-" .. VERSION .. "-1.rockspec"
local q = support.shell_quote

-- The files and directories under the checkout, outside build/ and .git/ (git-ignored ones too: *.o and
-- *.so are), one a line, sorted.
local function tree_listing()
  local p = assert(io.popen("cd " .. q(support.root) .. " && " .. LIST .. "find . -path ./build -prune -o -path ./.git"
    .. " -prune -o -path ./.tmp -prune -o -print | " .. LIST .. "sort"))
  local out = p:read("a")
  p:close()
  return out
end

local function git_status()
  local p = assert(io.popen("cd " .. q(support.root) .. " && " .. LIST
    .. "git status --porcelain --ignored 2>/dev/null"))
  local out = p:read("a")
  p:close()
  return out
end

describe("the rockspecs", function()
  it("clinch's lists every Lua module of lua/ and nothing else, the core from build/rock, bin/clinch alone",
    function()
    local spec = rockspec(CLINCH)
    assert.are.equal("make", spec.build.type)
    assert_lists_tree(CLINCH, "lua", spec.build.install.lua)
    assert.are.same({ ["clinch.core"] = "build/rock/clinch/core.so" }, spec.build.install.lib)
    assert.are.equal("build/rock", spec.build.build_variables.BUILD)
    assert.are.same({ clinch = "bin/clinch" }, spec.build.install.bin)
    for _, dep in ipairs(spec.dependencies) do
      assert.is_nil(dep:find("luasocket"), "the library must not need LuaSocket: " .. dep)
    end
  end)

  it("clinch-mock's lists every module of mock/lua/, bin/clinch-mock and LuaSocket", function()
    local spec = rockspec(MOCK)
    assert.are.equal("none", spec.build.type)
    assert_lists_tree(MOCK, "mock/lua", spec.build.install.lua)
    assert.are.same({ ["clinch-mock"] = "bin/clinch-mock" }, spec.build.install.bin)
    local deps = table.concat(spec.dependencies, " ")
    assert.matches("luasocket", deps)
    assert.matches("clinch", deps)
  end)

  it("carry the code's version in their names, versions and source tags, as the CHANGELOG does", function()
    assert.matches("^%d+%.%d+%.%d+$", VERSION)
    assert.are.equal(VERSION, clinch.core._VERSION)
    assert.are.equal(VERSION, require("clinch.mock")._VERSION)
    local p = assert(io.popen("cd " .. q(support.root) .. " && " .. LIST .. "ls *.rockspec | " .. LIST .. "sort"))
    local files = {}
    for f in p:lines() do files[#files + 1] = f end
    p:close()
    assert.are.same({ CLINCH, MOCK }, files)
    for _, file in ipairs(files) do
      local spec = rockspec(file)
      assert.are.equal(VERSION .. "-1", spec.version, file)
      assert.are.equal("v" .. VERSION, spec.source.tag, file)
      assert.are.equal("MIT", spec.description.license, file)
    end
    local changelog = support.read_file(support.root .. "/CHANGELOG.md")
    assert.matches("\n## %[" .. VERSION:gsub("%.", "%%.") .. "%] %- %d%d%d%d%-%d%d%-%d%d\n", changelog)
    assert.matches("^MIT License\n\nCopyright %(c%) %d+ the lua%-clinch authors\n",
      support.read_file(support.root .. "/LICENSE"))
  end)

  it("the library's tree holds no test or example helper", function()
    for _, path in ipairs { "lua/clinch/mock", "lua/clinch/checkout.lua", "lua/clinch/cli/examples.lua" } do
      assert.is_nil(io.open(support.root .. "/" .. path, "rb"), path .. " is in the library's tree")
    end
  end)

  -- The README's LuaRocks command, as written except for the tree (--local becomes a temporary
  -- --tree), run in the checkout with Debian's offline luarocks: the rock works and the checkout
  -- gains no file (the core is built in build/rock/).
  it("builds with the README's luarocks line, out of the source tree, and require 'clinch' works #slow",
    function()
    if support.is_luajit then return end
    local readme = support.read_file(support.root .. "/README.md")
    local line = readme:match("\n%s*(luarocks %-%-lua%-version 5%.4 make [^\n]-" .. CLINCH:gsub("%p", "%%%0") .. ")\n")
    assert(line, "the README has no `luarocks --lua-version 5.4 make ... " .. CLINCH .. "` line")
    local tmp = support.tmpdir()
    local tree = tmp .. "/tree"
    local command, n = line:gsub(" %-%-local ", " --tree " .. q(tree) .. " ")
    assert.are.equal(1, n, "the README's line installs with --local: " .. line)
    local before, status_before = tree_listing(), git_status()
    local ok, out = support.run(LIST .. "sh -c " .. q("cd " .. q(support.root) .. " && " .. command))
    local after, status_after = tree_listing(), git_status()
    local lv = support.lua_version
    local loaded, types
    if ok then
      -- the LuaLS annotations are kept in the rock's directory (build.copy_directories)
      types = io.open(tree .. "/lib/luarocks/rocks-" .. lv .. "/clinch/" .. VERSION .. "-1/types/clinch.lua", "rb")
      if types then types:close() end
      loaded = { support.run("env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 " .. support.lua
        .. " -e " .. q("package.path = '" .. tree .. "/share/lua/" .. lv .. "/?.lua;" .. tree .. "/share/lua/"
          .. lv .. "/?/init.lua;' .. package.path; package.cpath = '" .. tree .. "/lib/lua/" .. lv
          .. "/?.so;' .. package.cpath;"
          .. " local c = require 'clinch'; assert(package.searchpath('clinch.core', package.cpath):find('" .. tree
          .. "', 1, true)); assert(package.searchpath('clinch.cli', package.path):find('" .. tree .. "', 1, true));"
          .. " local h = c.core.sign{ method = 'GET', request_uri = '/v1/x', access_id = 'k',"
          .. " secret = 's', date = 0 }; io.write(c._VERSION, ' ', h.Authorization)")) }
      -- The mock's rock on top: its files only (none of the library's deployed twice).
      loaded[5], loaded[6] = support.run(LIST .. "sh -c " .. q("cd " .. q(support.root)
        .. " && luarocks --lua-version 5.4 make --deps-mode=none --tree " .. q(tree) .. " " .. MOCK))
      -- The installed command, with the paths `luarocks path` gives, as the README says.
      loaded[3], loaded[4] = support.run("env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 sh -c "
        .. q("cd / && eval \"$(luarocks --lua-version 5.4 --tree " .. q(tree) .. " path)\" && " .. q(tree)
          .. "/bin/clinch --help"))
    end
    os.execute("rm -rf " .. q(tmp))
    assert(ok, out)
    assert.are.equal(before, after, "luarocks make left files in the checkout")
    assert.are.equal(status_before, status_after)
    assert(types, "no types/ in the rock")
    assert(loaded[1], loaded[2])
    assert.is_truthy(loaded[2]:match("^" .. VERSION:gsub("%.", "%%.") .. " APIAuth k:"), loaded[2])
    assert(loaded[3], loaded[4])
    assert.matches("candidates", loaded[4])
    assert(loaded[5], loaded[6])
    assert.is_falsy(loaded[6]:find("failed deploying", 1, true), loaded[6])
  end)
end)
