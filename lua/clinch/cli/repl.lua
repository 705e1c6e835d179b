--- `clinch repl`: an interactive Lua prompt with `clinch` and a configured `client` loaded. Each input is
-- tried first as an expression (as the stock Lua 5.4 prompt does) and then as a statement; an
-- incomplete statement asks for more lines. Results are pretty-printed (clinch.pretty) and the first
-- one is kept in `_`. With Debian's lua-readline installed and a terminal on stdin there is line
-- editing, Tab completion (clinch.cli.repl_complete) and history (~/.clinch_history, written line by
-- line); otherwise lines are read plainly, and with piped input no prompts are printed, so scripts and
-- tests see only results. Errors are printed on stderr and the session goes on; with piped input the
-- exit status is 1 when any input failed. On a terminal Ctrl-C drops the line being typed or stops
-- the command, never the session; piped, it ends the script.
local type, tostring, load, select, setmetatable, xpcall, pcall, require, rawget =
  type, tostring, load, select, setmetatable, xpcall, pcall, require, rawget
local table_pack, table_unpack, concat = table.pack, table.unpack, table.concat
local io, os, debug, G, VERSION = io, os, debug, _G, _VERSION
local core = require "clinch.core"
local pretty = require "clinch.pretty"
local complete = require "clinch.cli.repl_complete"

local _M = {}

_M.HELP = [[
clinch REPL: `client` is configured from the environment; `clinch` is the module. Calls return
their result, or nil and an error object. Results are pretty-printed; `_` holds the last one.

  client.candidates:list{ per_page = 5 }                       one page (page:next() for the next)
  for c in client.candidates:each{ per_page = 100 } do print(c) end    every candidate, page by page
  client.candidates:list{ filter = { updated_at = { gte = "2024-01-01" } } }    changed since a date
  client.candidates:list{ filter = { email = { eq = "jane@example.com" } } }    find by email
  client.candidates:get("ID", { include = { "notes" } })       one candidate, with related resources
  client.candidates:create{ email = "jane@example.com", first_name = "Jane", tag_values = { "x" } }
  client.candidates:update("ID", { last_name = "Smith" })      change fields
  client.candidates:list_tags("ID")                            a candidate's tags
  client.candidates:add_tag("ID", "Java")                      tag a candidate
  client.candidates:remove_tag("ID", "TAG_ID")                 untag
  client.candidates:upload_resume("ID", { path = "cv.pdf" })   upload a resume
  cand:update{ first_name = "Jo" }  cand:reload()  cand:add_tag("x")  cand:list_tags()
  client:request("GET", "/candidates", { query = { per_page = 2 } })    any signed request
  client.jobs:list{ include = { "categories" } }               jobs (client.lists too), from the registry
  x = client.candidates:get("ID")                              a global keeps x for later lines
                                                               (a `local` lasts one input)
  pp(value, depth)                                             pretty-print (depth default 3)
  help()                                                       this text
  exit()                                                       leave (or Ctrl-D)

Tab completes names, fields and methods (`client.cand<Tab>`, `client.candidates:<Tab><Tab>`).
Ctrl-C drops the line being typed or stops a running command; the session goes on.
]]

-- History: ~/.clinch_history, one input line a line, written as each line is entered (a session that
-- ends by a crash or a closed terminal keeps what was typed), at most KEEP lines. The file is private
-- (0600, made so again when found otherwise), and a string given to a secret-like name is kept as
-- <redacted>. lua-readline's own saving is off: it appends at exit only, and
-- everything since the start each time it is called.
local KEEP = 1000

-- A line as the history file keeps it: the string given to a secret-like name (secret = "...",
-- password = '...') is <redacted>, so that a client made at the prompt leaves no secret on disk.
local function for_history(line)
  local is_secret_name = require("clinch.pretty").is_secret_name
  return (line:gsub("([%a_][%w_]*)(%s*=%s*)([\"'])(.-)%3", function(name, eq, q, value)
    if is_secret_name(name) and value ~= "" then return name .. eq .. q .. "<redacted>" .. q end
    return nil
  end))
end

local function history(path)
  local h, last = {}, nil
  function h.load(add)
    if not path then return end
    local f = io.open(path, "rb")
    if not f then
      os.execute("umask 077 && : >> '" .. path:gsub("'", "'\\''") .. "'")
      return
    end
    local lines = {}
    for line in f:lines() do lines[#lines + 1] = line end
    f:close()
    -- a file others may read (made by an older version, or chmod'ed) is made private again
    local mode = require("clinch.core").mode(path)
    if mode and mode % 64 ~= 0 then os.execute("chmod 600 '" .. path:gsub("'", "'\\''") .. "'") end
    local first = #lines > KEEP and #lines - KEEP + 1 or 1
    if first > 1 then -- "w" keeps the file's mode
      f = io.open(path, "wb")
      if f then f:write(concat(lines, "\n", first), "\n"); f:close() end
    end
    for i = first, #lines do add(lines[i]) end
    last = lines[#lines]
  end
  function h.add(line, add)
    if line:match("^%s*$") or line == last then return end
    last = line
    add(line)
    local f = path and io.open(path, "ab")
    if f then f:write(for_history(line), "\n"); f:close() end
  end
  return h
end

-- Reads lines with readline's callback interface: the prompt waits for a key in core.wait_input, so
-- that Ctrl-C (which raises "interrupted!" there, see core.catch_interrupts) ends the line being typed
-- at once; blocking readline() would go on reading it. -> read(prompt), reset() after an interrupt.
local function readline_reader(rl, env, hist)
  rl.set_options { histfile = "", auto_add = false, completion = true }
  hist.load(rl.add_history)
  rl.set_complete_function(function(line, from, to)
    rl.set_completion_append_character("")
    local ok, list = pcall(complete.matches, env, line:sub(from, to))
    return ok and list or {}
  end)
  local reading = false
  local function read(prompt)
    local line, got = nil, false
    rl.handler_install(prompt, function(l)
      line, got = l, true
      rl.handler_remove()
    end)
    reading = true
    while not got do
      if core.wait_input(0) then rl.read_char() end
    end
    reading = false
    if line then hist.add(line, rl.add_history) end
    return line
  end
  -- After Ctrl-C the next read's handler_install starts a new, empty line. handler_remove is not called
  -- with a line half typed: lua-readline (3.2) closes its terminal stream before readline writes its
  -- last bytes to it, a use after free that crashes now and then. The price is the stream handler_install
  -- opened, left open: one per Ctrl-C at the prompt.
  local function reset()
    if reading then
      if rl.sigcleanup then pcall(rl.sigcleanup) end -- an incremental search or a key sequence under way
      reading = false
    end
    return "^C\n" -- readline turned the terminal's echo off
  end
  return read, reset
end

-- Reads lines: readline on a terminal when available, else the plain stream. On a terminal, the wait
-- for a line is core.wait_input's (Ctrl-C ends it) and stdin is unbuffered, so that no line waits in
-- a buffer that wait_input cannot see.
local function reader(cx, interactive, env)
  local stdin, stdout = cx.stdin or io.stdin, cx.stdout or io.stdout
  if interactive then
    local ok, rl = pcall(require, "readline")
    if ok and type(rl) == "table" and rl.handler_install and rl.set_complete_function then
      local home = os.getenv("HOME")
      return readline_reader(rl, env, history(home and home ~= "" and home .. "/.clinch_history" or nil))
    end
    stdin:setvbuf("no")
  end
  return function(prompt)
    if interactive then
      stdout:write(prompt)
      stdout:flush()
      repeat until core.wait_input(0)
    end
    return stdin:read("l")
  end, function() return "\n" end -- the terminal echoed ^C
end

-- Compiles one input: expression first, then statement. Returns fn, or nil and "incomplete", or nil
-- and a message.
local function compile(source, env)
  local fn = load("return " .. source, "=stdin", "t", env)
  if fn then return fn end
  local err
  fn, err = load(source, "=stdin", "t", env)
  if fn then return fn end
  -- incomplete only when the error is at the end of the input, as lua.c judges it: "'<eof>' expected
  -- near 'end'" is a stray end, which no further line can complete
  if err:sub(-5) == "<eof>" then return nil, "incomplete" end
  return nil, err
end

-- Ctrl-C's error: "interrupted!" from core.catch_interrupts, or lua.c's "file:line: interrupted!".
local function is_interrupt(e)
  return type(e) == "string" and e:find("interrupted!", 1, true) ~= nil
end

-- An error's text for stderr; control characters other than line breaks and tabs (an API message may
-- echo what a user sent) are escaped, so none reaches the terminal as a command. An interrupt is the
-- one word: where the command was stopped is nobody's business.
local function message_of(e)
  if is_interrupt(e) then return "interrupted" end
  local ok, text = pcall(tostring, type(e) == "table" and e.kind == "usage" and e.message or e)
  if not ok or type(text) ~= "string" then text = "(an error value whose tostring failed: " .. type(e) .. ")" end
  text = text:gsub("[%z\1-\8\11-\31\127]", function(c) return ("\\%03d"):format(c:byte()) end)
  return require("clinch.text").escape_unsafe(text)
end

-- The session's environment: the globals, `clinch`, `client` and the helpers help() lists.
local function environment(s, clinch, client)
  local stdout = s.stdout
  local env = setmetatable({}, { __index = G })
  env.clinch, env.client = clinch, client
  env.pretty = pretty
  env.pp = function(v, depth) stdout:write(pretty.format(v, depth), "\n") end
  env.help = function() stdout:write(_M.HELP) end
  env.exit = function() s.done = true end
  env.quit = env.exit
  env.print = function(...)
    local n = select("#", ...)
    local parts = {}
    for i = 1, n do parts[i] = tostring((select(i, ...))) end
    stdout:write(concat(parts, "\t"), "\n")
  end
  return env
end

-- Runs one compiled input and prints its results or its error.
local function evaluate(s, fn)
  local env = s.env
  local results = table_pack(xpcall(fn, function(e)
    if type(e) ~= "table" and not is_interrupt(e) and rawget(env, "CLINCH_TRACEBACK") then
      return debug.traceback(tostring(e), 2)
    end
    return e
  end))
  if results[1] then
    if results.n > 1 then
      env._ = results[2]
      s.stdout:write(pretty.format_all(nil, table_unpack(results, 2, results.n)), "\n")
    end
    return
  end
  -- Piped, Ctrl-C ends the script (the CLI says "interrupted" and exits 130); on a terminal, the command,
  -- said on a line of its own (the terminal echoed ^C where the cursor was).
  if is_interrupt(results[2]) then
    if not s.interactive then error(results[2], 0) end
    s.stderr:write("\ninterrupted\n")
    return
  end
  s.failures = s.failures + 1
  s.stderr:write("error: ", message_of(results[2]), "\n")
end

-- Reads one input (more lines while it is an incomplete statement) and runs it -> false at the end
-- of the input.
local function step(s)
  local line = s.read("clinch> ")
  if line == nil then return false end
  local source = line
  local fn, err = compile(source, s.env)
  while not fn and err == "incomplete" do
    local more = s.read("     >> ")
    if more == nil then break end
    source = source .. "\n" .. more
    fn, err = compile(source, s.env)
  end
  if fn then
    evaluate(s, fn)
  elseif not source:match("^%s*$") then
    s.failures = s.failures + 1
    s.stderr:write("error: ", err == "incomplete" and "unexpected end of input" or err, "\n")
  end
  s.stdout:flush()
  return true
end

--- Runs the prompt on the CLI run context (see clinch.cli) -> true, or nil and an error when a piped
-- script had failures. On a terminal, Ctrl-C drops the line being typed or stops the running command
-- and the session goes on, however many times it comes; Ctrl-D or exit() ends it.
function _M.run(cx)
  local s = { stdout = cx.stdout or io.stdout, stderr = cx.stderr or io.stderr, failures = 0, done = false }
  s.interactive = cx.isatty and cx.isatty(0) or false
  local clinch = require "clinch"
  local ok, client = pcall(cx.client, cx)
  if not ok then
    s.stderr:write("clinch repl: no client (", message_of(client), "); `client` is nil\n")
    client = nil
  end
  s.env = environment(s, clinch, client)
  local reset
  s.read, reset = reader(cx, s.interactive, s.env)
  if s.interactive then
    core.catch_interrupts()
    s.stdout:write("clinch ", clinch._VERSION, " on ", VERSION, " — help() lists what you can do, exit() leaves\n")
  end
  while not s.done do
    local fine, more = pcall(step, s)
    if fine and not more then break end
    -- An interrupt outside a command (at the prompt, while printing) drops the input, nothing else.
    if not fine then
      if not (s.interactive and is_interrupt(more)) then error(more, 0) end
      s.stdout:write(reset())
      s.stdout:flush()
    end
  end
  if s.interactive then s.stdout:write("\n") end
  if s.failures > 0 and not s.interactive then
    return nil, require("clinch.errors").new { kind = "repl", message = s.failures .. " input(s) failed" }
  end
  return true
end

return _M
