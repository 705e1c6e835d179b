-- The rockspec stays in step with the tree, and `luarocks make` builds a tree that `require "clinch"` works from.
local support = require "support"

-- Listing commands run without the sanitizer runtimes the ASan run preloads (LeakSanitizer aborts
-- `sort` and `ls` at exit over their own never-freed memory).
local LIST = "env -u LD_PRELOAD "

local function rockspec()
  local env = {}
  local chunk = assert(loadfile(support.root .. "/clinch-scm-1.rockspec", "t", env))
  if setfenv then setfenv(chunk, env) end -- luacheck: ignore (5.1)
  chunk()
  return env
end

describe("clinch-scm-1.rockspec", function()
  it("lists every Lua module of lua/ and nothing else", function()
    local spec = rockspec()
    local listed = {}
    for name, src in pairs(spec.build.modules) do
      if type(src) == "string" then listed[src] = name end
    end
    local p = assert(io.popen("cd " .. support.shell_quote(support.root) .. " && "
      .. LIST .. "find lua -name '*.lua' | " .. LIST .. "sort"))
    local count = 0
    for path in p:lines() do
      count = count + 1
      local expected = path:gsub("^lua/", ""):gsub("%.lua$", ""):gsub("/init$", ""):gsub("/", ".")
      assert.are.equal(expected, listed[path], path .. " is not listed as module " .. expected)
      listed[path] = nil
    end
    p:close()
    assert.is_true(count > 5)
    assert.are.same({}, listed)
    assert.are.equal("csrc/core.c", spec.build.modules["clinch.core"].sources[1])
  end)

  it("installs every bin/ script", function()
    local spec = rockspec()
    local p = assert(io.popen("cd " .. support.shell_quote(support.root) .. " && " .. LIST .. "ls bin"))
    for name in p:lines() do
      assert.are.equal("bin/" .. name, spec.build.install.bin[name])
    end
    p:close()
  end)

  -- Builds with Debian's offline luarocks into a private tree, from a copy of the sources.
  it("builds with luarocks make and require 'clinch' works from the tree #slow", function()
    if support.is_luajit then return end
    local tmp = assert(io.popen("mktemp -d")):read("*l")
    local q = support.shell_quote
    local src, tree = tmp .. "/src", tmp .. "/tree"
    local ok, out = support.run("mkdir -p " .. q(src) .. " && cd " .. q(support.root)
      .. " && cp -r csrc lua bin api clinch-scm-1.rockspec " .. q(src)
      .. " && cd " .. q(src) .. " && luarocks --lua-version=" .. support.lua_version
      .. " make --deps-mode=none --tree " .. q(tree) .. " clinch-scm-1.rockspec")
    assert(ok, out)
    local lv = support.lua_version
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
