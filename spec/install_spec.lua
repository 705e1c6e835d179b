-- `make install` into a temporary PREFIX: for Lua 5.4 the library, its core and a `clinch` that runs
-- from there; for LuaJIT (nginx) the library and its core in the 5.1 trees and no `clinch` (the CLI is
-- Lua 5.4), with a note saying so. Runs once, from the Lua 5.4 suite (it builds nothing new).
local support = require "support"

if support.is_luajit then
  describe("make install", function()
    pending("runs from the Lua 5.4 suite: it installs for both")
  end)
  return
end

local q = support.shell_quote
-- No inherited module paths (the child environment points at the checkout) and no sanitizer preload.
local CLEAN = "env -u LD_PRELOAD -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 "

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- Runs `make install` with `args` into a fresh PREFIX -> prefix, ok, output (stdout and stderr).
local function install(args)
  local prefix = support.tmpdir()
  local ok, out = support.run(CLEAN .. "make -s -C " .. q(support.root) .. " install " .. args
    .. " PREFIX=" .. q(prefix))
  return prefix, ok, out
end

-- package.path and package.cpath settings for a Lua `version` tree under prefix, as Lua source.
local function paths(prefix, version)
  local share = prefix .. "/share/lua/" .. version
  return "package.path = '" .. share .. "/?.lua;" .. share .. "/?/init.lua;' .. package.path; "
    .. "package.cpath = '" .. prefix .. "/lib/lua/" .. version .. "/?.so;' .. package.cpath; "
end

describe("make install", function()
  local prefixes = {}
  teardown(function()
    for _, p in ipairs(prefixes) do os.execute("rm -rf " .. q(p)) end
  end)

  it("for Lua 5.4 installs the library, its core and a clinch that runs from the prefix", function()
    local prefix, ok, out = install("")
    prefixes[#prefixes + 1] = prefix
    assert(ok, out)
    assert.is_true(exists(prefix .. "/lib/lua/5.4/clinch/core.so"))
    assert.is_true(exists(prefix .. "/share/lua/5.4/clinch/init.lua"))
    assert.is_true(exists(prefix .. "/share/lua/5.4/clinch/cli/repl_complete.lua"))
    -- From another directory, with the prefix's paths: the modules and core come from there.
    local lp = prefix .. "/share/lua/5.4/?.lua;" .. prefix .. "/share/lua/5.4/?/init.lua;;"
    local cp = prefix .. "/lib/lua/5.4/?.so;;"
    ok, out = support.run(CLEAN .. "sh -c " .. q("cd / && printf '%s\\n' "
      .. q("package.searchpath('clinch.cli', package.path)") .. " "
      .. q("package.searchpath('clinch.core', package.cpath)") .. " | LUA_PATH=" .. q(lp) .. " LUA_CPATH=" .. q(cp)
      .. " CLINCH_BASE_URL=http://127.0.0.1:9/v1 CLINCH_API_KEY=k CLINCH_API_SECRET=s " .. q(prefix .. "/bin/clinch")
      .. " repl; echo \"exit $?\""))
    assert(ok, out)
    assert.are.equal("0", out:match("exit (%d+)"), out)
    assert.matches('"' .. prefix:gsub("%p", "%%%0") .. "/share/lua/5%.4/clinch/cli/init%.lua\"", out)
    assert.matches('"' .. prefix:gsub("%p", "%%%0") .. "/lib/lua/5%.4/clinch/core%.so\"", out)
    -- and with no paths at all: the installed command knows where its prefix keeps them
    ok, out = support.run(CLEAN .. "sh -c " .. q("cd / && printf '%s\\n' "
      .. q("package.searchpath('clinch.cli', package.path)") .. " "
      .. q("package.searchpath('clinch.core', package.cpath)")
      .. " | CLINCH_BASE_URL=http://127.0.0.1:9/v1 CLINCH_API_KEY=k CLINCH_API_SECRET=s " .. q(prefix .. "/bin/clinch")
      .. " repl; echo \"exit $?\""))
    assert(ok, out)
    assert.are.equal("0", out:match("exit (%d+)"), out)
    assert.matches('"' .. prefix:gsub("%p", "%%%0") .. "/share/lua/5%.4/clinch/cli/init%.lua\"", out)
    assert.matches('"' .. prefix:gsub("%p", "%%%0") .. "/lib/lua/5%.4/clinch/core%.so\"", out)
  end)

  it("the command says it runs on Lua 5.4 when another Lua runs it", function()
    local ok, out = support.run(CLEAN .. "sh -c " .. q("luajit " .. q(support.root .. "/bin/clinch")
      .. " --version; echo \"exit $?\""))
    assert(ok, out)
    assert.matches("clinch: the command%-line tool runs on Lua 5%.4; this is Lua 5%.1", out)
    assert.are.equal("2", out:match("exit (%d+)"), out)
  end)

  it("for LuaJIT installs the library and its core in the 5.1 trees and no clinch, with a note", function()
    local prefix, ok, out = install("LUA=luajit")
    prefixes[#prefixes + 1] = prefix
    assert(ok, out)
    assert.is_false(exists(prefix .. "/bin/clinch"), "a clinch for LuaJIT would run Lua 5.4 on nothing")
    assert.matches("bin/clinch not installed for luajit %(Lua 5%.1%): the CLI runs on Lua 5%.4", out)
    assert.is_true(exists(prefix .. "/lib/lua/5.1/clinch/core.so"))
    ok, out = support.run(CLEAN .. "luajit -e " .. q(paths(prefix, "5.1") .. "local c = require 'clinch'; "
      .. "assert(package.searchpath('clinch.core', package.cpath):find('" .. prefix .. "', 1, true)); "
      .. "io.write(c._VERSION, ' ', c.core.sign{ method = 'GET', request_uri = '/v1/x', access_id = 'k', "
      .. "secret = 's', date = 0 }.Authorization)"))
    assert(ok, out)
    assert.matches("^%d+%.%d+%.%d+ APIAuth k:", out)
  end)
end)
