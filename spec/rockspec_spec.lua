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

-- Every Lua module under `dir` is listed in `file` with its module name, and nothing else is.
local function assert_lists_tree(file, dir)
  local spec = rockspec(file)
  local listed = {}
  for name, src in pairs(spec.build.modules) do
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
  return spec
end

describe("the rockspecs", function()
  it("clinch-scm-1 lists every Lua module of lua/ and nothing else, the core, and bin/clinch alone", function()
    local spec = assert_lists_tree("clinch-scm-1.rockspec", "lua")
    assert.are.equal("csrc/core.c", spec.build.modules["clinch.core"].sources[1])
    assert.are.same({ clinch = "bin/clinch" }, spec.build.install.bin)
    for _, dep in ipairs(spec.dependencies) do
      assert.is_nil(dep:find("luasocket"), "the library must not need LuaSocket: " .. dep)
    end
  end)

  it("clinch-mock-scm-1 lists every module of mock/lua/, bin/clinch-mock and LuaSocket", function()
    local spec = assert_lists_tree("clinch-mock-scm-1.rockspec", "mock/lua")
    assert.are.same({ ["clinch-mock"] = "bin/clinch-mock" }, spec.build.install.bin)
    local deps = table.concat(spec.dependencies, " ")
    assert.matches("luasocket", deps)
    assert.matches("clinch", deps)
  end)

  it("the library's tree holds no test or example helper", function()
    for _, path in ipairs { "lua/clinch/mock", "lua/clinch/checkout.lua", "lua/clinch/cli/examples.lua" } do
      assert.is_nil(io.open(support.root .. "/" .. path, "rb"), path .. " is in the library's tree")
    end
  end)

  -- Builds with Debian's offline luarocks into a private tree, from a copy of the sources.
  it("builds with luarocks make and require 'clinch' works from the tree #slow", function()
    if support.is_luajit then return end
    local tmp = assert(io.popen("mktemp -d")):read("*l")
    local q = support.shell_quote
    local src, tree = tmp .. "/src", tmp .. "/tree"
    local ok, out = support.run("mkdir -p " .. q(src) .. " && cd " .. q(support.root)
      .. " && cp -r csrc lua bin api types clinch-scm-1.rockspec " .. q(src)
      .. " && cd " .. q(src) .. " && luarocks --lua-version=" .. support.lua_version
      .. " make --deps-mode=none --tree " .. q(tree) .. " clinch-scm-1.rockspec")
    assert(ok, out)
    local lv = support.lua_version
    -- the LuaLS annotations are kept in the rock's directory (build.copy_directories)
    local rock = tree .. "/lib/luarocks/rocks-" .. lv .. "/clinch/scm-1"
    assert(io.open(rock .. "/types/clinch.lua", "rb"), "no types/ in the rock")
    ok, out = support.run("env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 " .. support.lua
      .. " -e " .. q("package.path = '" .. tree .. "/share/lua/" .. lv .. "/?.lua;" .. tree .. "/share/lua/"
        .. lv .. "/?/init.lua;' .. package.path; package.cpath = '" .. tree .. "/lib/lua/" .. lv
        .. "/?.so;' .. package.cpath;"
        .. " local c = require 'clinch'; assert(package.searchpath('clinch.core', package.cpath):find('" .. tree
        .. "', 1, true)); local h = c.core.sign{ method = 'GET', request_uri = '/v1/x', access_id = 'k',"
        .. " secret = 's', date = 0 }; io.write(h.Authorization)"))
    os.execute("rm -rf " .. q(tmp))
    assert(ok, out)
    assert.is_truthy(out:match("^APIAuth k:"), out)
  end)
end)
