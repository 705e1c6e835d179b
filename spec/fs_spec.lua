-- The C core's file functions (csrc/fs.c): fsync, truncate and the run lock `candidates sync` holds,
-- checked against other processes (a holder in a child process, killed with -9).
local support = require "support"
local core = require "clinch.core"

local q = support.shell_quote
local tmp = support.tmpdir()
teardown(function() os.execute("rm -rf " .. q(tmp)) end)

-- Starts a child process that takes the lock on `path` and holds it until killed. Returns its pid and
-- a function that kills it with -9 and reaps it.
local function hold_in_child(path)
  local code = "local l = assert(require('clinch.core').lock(" .. string.format("%q", path) .. ")) "
    .. "io.write('held\\n') io.flush() require('clinch.core').sleep(30)"
  local p = assert(io.popen("exec env " .. support.child_env .. "sh -c "
    .. q("echo $$; exec " .. support.lua .. " -e " .. q(code))))
  local pid = p:read("l")
  assert.equal("held", p:read("l"))
  return tonumber(pid), function()
    os.execute("kill -9 " .. pid .. " 2>/dev/null")
    p:close()
  end
end

describe("core.fsync", function()
  it("flushes a Lua file handle and syncs it; syncs a path and a directory", function()
    local path = tmp .. "/sync.txt"
    local f = assert(io.open(path, "wb"))
    f:write("buffered")
    assert.equal("", support.read_file(path)) -- still in the stdio buffer
    assert.is_true(core.fsync(f))
    assert.equal("buffered", support.read_file(path))
    f:close()
    assert.is_true(core.fsync(path))
    assert.is_true(core.fsync(tmp))
  end)

  it("returns nil and a message naming the path and the system error", function()
    local ok, err = core.fsync(tmp .. "/missing/file")
    assert.is_nil(ok)
    assert.equal(tmp .. "/missing/file: No such file or directory", err)
  end)

  it("raises for a closed handle and for a value that is neither a path nor a file", function()
    local f = assert(io.open(tmp .. "/closed.txt", "wb"))
    f:close()
    assert.has_error(function() core.fsync(f) end)
    assert.has_error(function() core.fsync({}) end)
  end)
end)

describe("core.truncate", function()
  it("cuts a file by path or by handle, without copying it", function()
    local path = tmp .. "/cut.txt"
    support.write_file(path, "0123456789")
    assert.is_true(core.truncate(path, 4))
    assert.equal("0123", support.read_file(path))
    local f = assert(io.open(path, "ab"))
    f:write("xyz")
    assert.is_true(core.truncate(f, 2)) -- flushed first, then cut
    f:close()
    assert.equal("01", support.read_file(path))
    assert.is_true(core.truncate(path, 0))
    assert.equal("", support.read_file(path))
  end)

  it("returns nil and a message for a missing file; raises for a bad size", function()
    local ok, err = core.truncate(tmp .. "/nope.txt", 0)
    assert.is_nil(ok)
    assert.equal(tmp .. "/nope.txt: No such file or directory", err)
    assert.has_error(function() core.truncate(tmp .. "/x", -1) end)
    assert.has_error(function() core.truncate(tmp .. "/x", 1.5) end)
  end)
end)

describe("core.lock", function()
  it("takes a lock, writes the holder's pid into the file, and releases it idempotently", function()
    local path = tmp .. "/a.lock"
    local lock = assert(core.lock(path))
    assert.is_true(lock:held())
    assert.matches("^%d+\n$", support.read_file(path))
    lock:unlock()
    assert.equal("", support.read_file(path)) -- no pid left for a later contender to name wrongly
    lock:unlock()
    assert.is_false(lock:held())
    assert.equal("clinch.lock (released)", tostring(lock))
  end)

  it("refuses a lock another process holds, naming its pid; a killed holder never blocks", function()
    local path = tmp .. "/b.lock"
    local pid, kill = hold_in_child(path)
    local lock, err, holder = core.lock(path)
    assert.is_nil(lock)
    assert.equal("locked", err)
    assert.equal(pid, holder)
    kill()
    -- The kernel dropped the dead process's lock; its pid is still in the file, which does not matter.
    lock = assert(core.lock(path))
    lock:unlock()
  end)

  it("keeps out a second lock in the same process, and holds while the file is opened and closed", function()
    -- (an fcntl lock belongs to the process: it would grant the second and drop at any close)
    local path = tmp .. "/same.lock"
    local lock = assert(core.lock(path))
    local again, err, holder = core.lock(path)
    assert.is_nil(again)
    assert.equal("locked", err)
    local me = tonumber(support.read_file(path):match("^(%d+)"))
    assert.equal(me, holder)
    local f = assert(io.open(path, "rb"))
    f:read("a")
    f:close()
    assert.is_nil((core.lock(path)))
    -- and another process is kept out all along
    local code = "local l, e = require('clinch.core').lock(" .. string.format("%q", path) .. ") io.write(tostring(e))"
    local p = assert(io.popen("env " .. support.child_env .. support.lua .. " -e " .. q(code)))
    assert.equal("locked", p:read("a"))
    p:close()
    lock:unlock()
    lock = assert(core.lock(path))
    lock:unlock()
  end)

  it("is released by the collector, and by <close> on Lua 5.4", function()
    local path = tmp .. "/c.lock"
    local pid, kill = hold_in_child(path)
    assert.is_number(pid)
    kill()
    do
      local lock = assert(core.lock(path))
      assert.is_true(lock:held())
      lock = nil -- luacheck: ignore 311
    end
    collectgarbage()
    collectgarbage()
    -- Another process can now take it.
    local ok, out = support.run(support.lua .. " -e " .. q("assert(require('clinch.core').lock("
      .. string.format("%q", path) .. ")) io.write('ok')"))
    assert.is_true(ok, out)
    assert.equal("ok", out)
    if _VERSION == "Lua 5.4" and not support.is_luajit then
      local chunk = assert(load("local core, path = ... do local l <close> = assert(core.lock(path)) end"))
      chunk(core, path)
      ok, out = support.run(support.lua .. " -e " .. q("assert(require('clinch.core').lock("
        .. string.format("%q", path) .. ")) io.write('ok')"))
      assert.is_true(ok, out)
    end
  end)

  it("returns nil and a message naming the path when the file cannot be created", function()
    local lock, err = core.lock(tmp .. "/missing/d.lock")
    assert.is_nil(lock)
    assert.equal(tmp .. "/missing/d.lock: No such file or directory", err)
  end)
end)
