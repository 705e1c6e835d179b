-- `clinch repl`: piped scripts (no prompts, results pretty-printed, errors on stderr), a terminal session
-- through script(1), and the preloaded `clinch` and `client`. Lua 5.4 only, like the CLI.
local support = require "support"
local function read_file(path) return support.read_file(path) or "" end

if support.is_luajit then
  describe("clinch repl", function()
    pending("runs on Lua 5.4 only: covered by the Lua 5.4 suite")
  end)
  return
end

local clinch = require "clinch"
local q = support.shell_quote
local tmp = support.tmpdir()


describe("clinch repl", function()
  local mock, env

  setup(function()
    mock = support.start_mock { "--candidates", "12", "--seed", "4" }
    -- TERM pinned: the sessions wait for readline's bracketed-paste marks, which it leaves out on a
    -- dumb terminal (CI and fresh machines run with TERM=dumb or none)
    env = "env -u CLINCH_REGION TERM=xterm HOME=" .. q(tmp) .. " CLINCH_BASE_URL=" .. q(mock.base_url)
      .. " CLINCH_API_KEY=test-key CLINCH_API_SECRET=test-secret "
  end)
  teardown(function()
    mock.stop()
    os.execute("rm -rf " .. q(tmp))
  end)
  before_each(function() mock.control("POST", "reset") end)

  -- Feeds lines to `clinch repl` on stdin -> exit code, stdout, stderr.
  local function repl(lines, environment)
    local input = tmp .. "/input.lua"
    local f = assert(io.open(input, "wb"))
    f:write(table.concat(lines, "\n"), "\n")
    f:close()
    local p = assert(io.popen(support.child_env .. (environment or env) .. support.lua .. " bin/clinch repl <"
      .. q(input) .. " 2>" .. q(tmp .. "/stderr")))
    local out = p:read("a")
    local _, _, code = p:close()
    return code, out, read_file(tmp .. "/stderr")
  end

  it("answers a piped script that lists candidates and adds a tag", function()
    local code, out, err = repl {
      "page = client.candidates:list{ per_page = 3 }",
      "#page",
      "for _, c in ipairs(page) do print(c) end",
      "tag = page[1]:add_tag(\"Added in the REPL\")",
      "tag.name",
      "page[1].id",
    }
    assert.are.equal(0, code, err)
    assert.are.equal("", err)
    local c = clinch.new { key = "test-key", secret = "test-secret", base_url = mock.base_url }
    local page = assert(c.candidates:list { per_page = 3 })
    local lines = {}
    for line in out:gmatch("[^\n]+") do lines[#lines + 1] = line end
    assert.are.equal("3", lines[1])
    for i = 1, 3 do assert.are.equal(tostring(page[i]), lines[i + 1]) end
    assert.are.equal('"Added in the REPL"', lines[5])
    assert.are.equal('"' .. page[1].id .. '"', lines[6])
    assert.is_falsy(out:find("clinch>", 1, true))
    local names = {}
    for _, t in ipairs(assert(c.candidates:list_tags(page[1].id))) do names[t.name] = true end
    assert.is_true(names["Added in the REPL"])
    c:close()
  end)

  it("pretty-prints resources depth-limited and never shows the secret", function()
    local code, out = repl {
      "cand = client.candidates:list{ per_page = 1 }[1]",
      "cand",
      "client",
      "clinch.new{ key = 'k', secret = 'other-secret', base_url = 'http://127.0.0.1:9/v1' }",
      "pp({ a = { b = { c = { d = 1 } } } }, 1)",
    }
    assert.are.equal(0, code)
    assert.matches("^candidate %x+ [^\n]* {\n  id = \"%x+\",\n  type = \"candidates\",\n", out)
    assert.matches("updated_at = <DateTime %d%d%d%d%-%d%d%-%d%dT[%d:]+Z>", out)
    assert.matches("<clinch.client " .. mock.base_url:gsub("%p", "%%%0") .. " %(key test%-key%)>", out)
    assert.matches("{ a = { … 1 field } }", out, 1, true)
    assert.is_falsy(out:find("test-secret", 1, true))
    assert.is_falsy(out:find("other-secret", 1, true))
  end)

  it("reads multi-line input, keeps the last result in _, and lists operations in help()", function()
    local code, out = repl {
      "function double(x)",
      "  return x * 2",
      "end",
      "double(21)",
      "_ + 1",
      "help()",
    }
    assert.are.equal(0, code)
    assert.matches("^42\n43\n", out)
    for _, op in ipairs { "candidates:list", "candidates:each", "candidates:get", "candidates:create",
                          "candidates:update", "list_tags", "add_tag", "remove_tag", "upload_resume",
                          "client:request" } do
      assert.matches(op, out, 1, true)
    end
  end)

  it("reports errors on stderr, goes on, and exits 1 for a failed script", function()
    local code, out, err = repl {
      "error('boom')",
      "client.candidates:get('no-such-id')",
      "this is not lua",
      "error('escape \\27[2J here', 0)",
      "1 + 1",
    }
    assert.are.equal(1, code)
    assert.matches("^error: stdin:1: boom\n", err)
    assert.matches("error: escape \\027[2J here\n", err, 1, true)
    assert.is_falsy(err:find("\27", 1, true))
    assert.matches("error: [^\n]*syntax error", err)
    -- An API failure is a result (nil, err), not an error.
    assert.matches("nil\n<clinch.not_found error %(HTTP 404%)", out)
    assert.matches("\n2\n$", out)
    assert.matches("clinch: 3 input%(s%) failed\n$", err)
    -- a stray end is an error, not the start of a longer input; an error whose tostring fails is one
    -- too; and neither ends the session
    code, out, err = repl {
      "end",
      "print(1)",
      "error(setmetatable({}, { __tostring = function() error('bad tostring') end }))",
      "print(2)",
    }
    assert.are.equal(1, code)
    assert.matches("^1\n2\n$", out)
    assert.matches("error: stdin:1: <eof> expected near 'end'\n", err, 1, true)
    assert.matches("error: (an error value whose tostring failed: table)\n", err, 1, true)
  end)

  it("starts without configuration, with client nil", function()
    local code, out, err = repl({ "client == nil", "type(clinch.new)" }, "env -u CLINCH_API_KEY -u CLINCH_API_SECRET "
      .. "-u CLINCH_BASE_URL -u CLINCH_REGION HOME=" .. q(tmp) .. " ")
    assert.are.equal(0, code)
    assert.are.equal('true\n"function"\n', out)
    assert.matches("no client %(no API key", err)
  end)

  it("prompts on a terminal", function()
    local input = tmp .. "/tty-input"
    local f = assert(io.open(input, "wb"))
    f:write("6 * 7\nexit()\n")
    f:close()
    local inner = env .. support.lua .. " bin/clinch repl"
    local p = assert(io.popen(support.child_env .. "script -qec " .. q(inner) .. " /dev/null <" .. q(input)))
    local out = p:read("a")
    p:close()
    assert.matches("help%(%) lists what you can do", out)
    assert.matches("clinch> ", out, 1, true)
    assert.matches("\n[^\n]-42\r?\n", out)
  end)

  -- Runs `clinch repl` on a pseudo-terminal (script(1)) and types into it: each step waits until the
  -- output holds `prompts` prompts (so keys never arrive before the REPL reads them; Ctrl-C sent
  -- earlier would reach a process not yet listening), runs the shell command `sh` if any, waits `pause`
  -- seconds if any, then types `keys` (a printf format). The input stays open until the REPL has exited
  -- (at its end the terminal would hang up). -> the terminal's output, and the REPL's exit line.
  local function tty_session(steps, lua_args)
    local out, done = tmp .. "/tty-out", tmp .. "/repl-done"
    os.remove(out)
    os.remove(done)
    -- `accepted`: wait as well until readline has taken that many lines (it ends bracketed paste then).
    local feed = { "esc=$(printf '\\033'); " }
    for _, st in ipairs(steps) do
      feed[#feed + 1] = "n=0; while [ \"$(grep -o 'clinch> ' " .. q(out) .. " 2>/dev/null | wc -l)\" -lt "
        .. st.prompts .. " ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n+1)); done; "
      if st.accepted then
        feed[#feed + 1] = "n=0; while [ \"$(grep -o -F \"$esc[?2004l\" " .. q(out) .. " 2>/dev/null | wc -l)\" -lt "
          .. st.accepted .. " ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n+1)); done; "
      end
      feed[#feed + 1] = (st.sh and st.sh .. "; " or "") .. (st.pause and "sleep " .. st.pause .. "; " or "")
        .. "printf " .. q(st.keys) .. "; "
    end
    feed[#feed + 1] = "i=0; while [ ! -e " .. q(done) .. " ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done"
    -- The terminal's SIGINT reaches the shell running the REPL too: a trap keeps it alive (script(1)
    -- runs $SHELL, pinned to Debian's dash so the case runs the same everywhere).
    local inner = "trap : INT; " .. env .. support.lua .. " " .. (lua_args or "") .. " bin/clinch repl 2>&1; "
      .. "echo \"exit $?\"; touch " .. q(done)
    os.execute(support.child_env .. "sh -c " .. q("(" .. table.concat(feed) .. ") | SHELL=/bin/sh script -qfec "
      .. q(inner) .. " /dev/null >" .. q(out)))
    return read_file(out)
  end

  it("completes globals, fields, methods and attributes on Tab", function()
    local out = tty_session {
      -- A unique completion: the line becomes `client.candidates == client.candidates`.
      { prompts = 1, keys = "client.cand\t == client.candidates\n" },
      -- Tab twice lists the methods; Ctrl-C then drops the line.
      { prompts = 2, keys = "client.candidates:\t\t" },
      { prompts = 3, pause = 0.3, keys = "\003" },
      { prompts = 4, keys = "cand = client.candidates:list{ per_page = 1 }[1]\n" },
      { prompts = 5, keys = "cand.ema\t\n" },
      { prompts = 6, keys = "clie\t.jo\t == nil\n" },
      { prompts = 7, keys = "exit()\n" },
    }
    assert.matches("[\r\n]true\r?\n", out)
    for _, m in ipairs { "list", "each", "get", "create", "update", "add_tag", "list_tags", "upload_resume" } do
      assert.matches("client.candidates:" .. m .. "%s", out)
    end
    assert.is_falsy(out:find("client.candidates:_", 1, true), "internal methods are not offered")
    assert.matches('[\r\n]"[^"\r\n]+@[^"\r\n]+"\r?\n', out) -- cand.email's value
    assert.matches("[\r\n]false\r?\n", out) -- client.jobs == nil
    assert.matches("exit 0", out, 1, true)
  end)

  it("Ctrl-C clears the line, never ends the session, and history is saved line by line #slow", function()
    local hist, snap = tmp .. "/.clinch_history", tmp .. "/history-snapshot"
    os.remove(hist)
    os.remove(snap)
    local out = tty_session {
      { prompts = 1, keys = "1+" },
      -- The typed `1+` is dropped: `2` alone follows.
      { prompts = 1, pause = 0.5, keys = "\003" },
      { prompts = 2, keys = "2\n" },
      -- A second and a third Ctrl-C at an idle prompt, a while apart.
      { prompts = 3, pause = 0.3, keys = "\003" },
      { prompts = 4, pause = 1, keys = "\003" },
      { prompts = 5, keys = "history_line = 6 * 7\n" },
      { prompts = 6, keys = "history_line\n" },
      -- Before the session ends, the file already has the line.
      { prompts = 7, sh = "cp " .. q(hist) .. " " .. q(snap), keys = "exit()\n" },
    }
    assert.is_falsy(out:find("interrupted", 1, true), out)
    assert.matches("[\r\n]2\r?\n", out)
    assert.is_falsy(out:find("[\r\n]3\r?\n"), out)
    assert.matches("[\r\n]42\r?\n", out)
    assert.matches("exit 0", out, 1, true)
    assert.matches("history_line = 6 %* 7\n", read_file(snap))
    assert.matches("^2\nhistory_line = 6 %* 7\nhistory_line\nexit%(%)\n$", read_file(hist))
    local mode = assert(io.popen("stat -c %a " .. q(hist))):read("l")
    assert.are.equal("600", mode)
  end)

  it("keeps no secret typed at the prompt in the history, and makes a readable history file private", function()
    local hist = tmp .. "/.clinch_history"
    os.remove(hist)
    local f = assert(io.open(hist, "w"))
    f:write("1 + 1\n")
    f:close()
    os.execute("chmod 644 " .. q(hist))
    local out = tty_session {
      { prompts = 1,
        keys = "c2 = clinch.new { key = 'k', secret = 'SUPERSECRET1', base_url = 'http://127.0.0.1:9/v1' }\n" },
      { prompts = 2, keys = 'token = "SUPERSECRET2"; x = "kept"\n' },
      { prompts = 3, keys = "exit()\n" },
    }
    assert.matches("exit 0", out, 1, true)
    local text = read_file(hist)
    assert.is_falsy(text:find("SUPERSECRET", 1, true), text)
    assert.matches("secret = '<redacted>'", text, 1, true)
    assert.matches('token = "<redacted>"; x = "kept"', text, 1, true)
    assert.are.equal("600", assert(io.popen("stat -c %a " .. q(hist))):read("l"))
  end)

  it("without lua-readline reads plain lines, and Ctrl-C drops the line typed", function()
    local out = tty_session({
      { prompts = 1, keys = "1+" },
      { prompts = 1, pause = 0.5, keys = "\003" },
      { prompts = 2, keys = "2\n" },
      { prompts = 3, pause = 0.3, keys = "\003" },
      { prompts = 4, keys = "6 * 7\n" },
      { prompts = 5, keys = "exit()\n" },
    }, "-e " .. q("package.preload.readline = function() error('no lua-readline here') end"))
    assert.is_falsy(out:find("\27[?2004h", 1, true), "readline's bracketed paste: lua-readline was used")
    assert.is_falsy(out:find("interrupted", 1, true), out)
    assert.matches("[\r\n]2\r?\n", out)
    assert.is_falsy(out:find("[\r\n]3\r?\n"), out)
    assert.matches("[\r\n]42\r?\n", out)
    assert.matches("exit 0", out, 1, true)
  end)

  it("says `interrupted` when Ctrl-C stops a command, and goes on", function()
    mock.control("POST", "faults", { kind = "latency", ms = 8000, count = -1 })
    local out = tty_session {
      -- Ctrl-C once the line is taken: the request waits for the mock's answer, the loop never ends.
      { prompts = 1, keys = "client.candidates:list()\n" },
      { prompts = 1, accepted = 1, pause = 0.3, keys = "\003" },
      { prompts = 2, keys = "while true do end\n" },
      { prompts = 2, accepted = 2, pause = 0.3, keys = "\003" },
      { prompts = 3, keys = "6 * 7\n" },
      { prompts = 4, keys = "exit()\n" },
    }
    local _, n = out:gsub("[\r\n]interrupted\r?\n", "")
    assert.are.equal(2, n, out)
    assert.is_falsy(out:find(".lua:", 1, true), out)
    assert.is_falsy(out:find("error", 1, true), out)
    assert.matches("[\r\n]42\r?\n", out)
    assert.matches("exit 0", out, 1, true)
  end)
end)
