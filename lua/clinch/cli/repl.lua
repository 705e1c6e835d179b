--- `clinch repl`: an interactive Lua prompt with `clinch` and a configured `client` loaded. Each input is
-- tried first as an expression (as the stock Lua 5.4 prompt does) and then as a statement; an
-- incomplete statement asks for more lines. Results are pretty-printed (clinch.pretty) and the first
-- one is kept in `_`. With Debian's lua-readline installed and a terminal on stdin there is line
-- editing and history (~/.clinch_history); otherwise lines are read plainly, and with piped input no
-- prompts are printed, so scripts and tests see only results. Errors are printed on stderr and the
-- session goes on; with piped input the exit status is 1 when any input failed.
local type, tostring, load, select, setmetatable, xpcall, pcall, require, rawget =
  type, tostring, load, select, setmetatable, xpcall, pcall, require, rawget
local table_pack, table_unpack, concat = table.pack, table.unpack, table.concat
local co_create, co_resume = coroutine.create, coroutine.resume
local io, debug, G, VERSION = io, debug, _G, _VERSION
local pretty = require "clinch.pretty"

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
]]

-- Ctrl-C while a line is read: lua.c's SIGINT handler arms a hook on the main thread that raises
-- "interrupted!" at its next step, which would drop the line being returned and end the REPL. The
-- read runs in a coroutine, which that hook does not reach, and the interrupt is caught when control
-- comes back: readline keeps the line on screen and goes on reading it, so the line is used as typed;
-- a plain read cut short asks again.
local function guarded(read, stdout)
  return function(prompt)
    while true do
      local line
      local co = co_create(function() line = read(prompt) end)
      local ok, resumed, err = pcall(co_resume, co)
      if ok then
        if not resumed then error(err, 0) end -- the read itself failed
        return line
      end
      if not tostring(resumed):find("interrupted!", 1, true) then error(resumed, 0) end
      if line ~= nil then return line end
      stdout:write("\n")
    end
  end
end

-- Reads lines: readline on a terminal when available, else the plain stream.
local function reader(cx, interactive)
  local stdin, stdout = cx.stdin or io.stdin, cx.stdout or io.stdout
  if interactive then
    local ok, rl = pcall(require, "readline")
    if ok and type(rl) == "table" and rl.readline then
      pcall(rl.set_options, { histfile = "~/.clinch_history", keeplines = 1000 })
      return guarded(rl.readline, stdout), function() pcall(rl.save_history) end
    end
  end
  return guarded(function(prompt)
    if interactive then
      stdout:write(prompt)
      stdout:flush()
    end
    return stdin:read("l")
  end, stdout), function() end
end

-- Compiles one input: expression first, then statement. Returns fn, or nil and "incomplete", or nil
-- and a message.
local function compile(source, env)
  local fn = load("return " .. source, "=stdin", "t", env)
  if fn then return fn end
  local err
  fn, err = load(source, "=stdin", "t", env)
  if fn then return fn end
  if err:find("<eof>", 1, true) then return nil, "incomplete" end
  return nil, err
end

-- An error's text for stderr; control characters other than line breaks and tabs (an API message may
-- echo what a user sent) are escaped, so none reaches the terminal as a command.
local function message_of(e)
  local text = tostring(type(e) == "table" and e.kind == "usage" and e.message or e)
  return (text:gsub("[%z\1-\8\11-\31\127]", function(c) return ("\\%03d"):format(c:byte()) end))
end

--- Runs the prompt on the CLI run context (see clinch.cli) -> true, or nil and an error when a piped
-- script had failures.
function _M.run(cx)
  local stdout, stderr = cx.stdout or io.stdout, cx.stderr or io.stderr
  local interactive = cx.isatty and cx.isatty(0) or false
  local clinch = require "clinch"
  local ok, client = pcall(cx.client, cx)
  if not ok then
    stderr:write("clinch repl: no client (", message_of(client), "); `client` is nil\n")
    client = nil
  end

  local done = false
  local env = setmetatable({}, { __index = G })
  env.clinch, env.client = clinch, client
  env.pretty = pretty
  env.pp = function(v, depth) stdout:write(pretty.format(v, depth), "\n") end
  env.help = function() stdout:write(_M.HELP) end
  env.exit = function() done = true end
  env.quit = env.exit
  env.print = function(...)
    local n = select("#", ...)
    local parts = {}
    for i = 1, n do parts[i] = tostring((select(i, ...))) end
    stdout:write(concat(parts, "\t"), "\n")
  end

  local read, finish = reader(cx, interactive)
  if interactive then
    stdout:write("clinch ", clinch._VERSION, " on ", VERSION, " — help() lists what you can do, exit() leaves\n")
  end
  local failures = 0
  while not done do
    local line = read("clinch> ")
    if line == nil then break end
    local source = line
    local fn, err = compile(source, env)
    while not fn and err == "incomplete" do
      local more = read("     >> ")
      if more == nil then break end
      source = source .. "\n" .. more
      fn, err = compile(source, env)
    end
    if not fn then
      if not source:match("^%s*$") then
        failures = failures + 1
        stderr:write("error: ", err == "incomplete" and "unexpected end of input" or err, "\n")
      end
    else
      local results = table_pack(xpcall(fn, function(e)
        if type(e) ~= "table" and rawget(env, "CLINCH_TRACEBACK") then return debug.traceback(tostring(e), 2) end
        return e
      end))
      if results[1] then
        if results.n > 1 then
          env._ = results[2]
          stdout:write(pretty.format_all(nil, table_unpack(results, 2, results.n)), "\n")
        end
      else
        failures = failures + 1
        stderr:write("error: ", message_of(results[2]), "\n")
      end
    end
    stdout:flush()
  end
  finish()
  if interactive then stdout:write("\n") end
  if failures > 0 and not interactive then
    return nil, require("clinch.errors").new { kind = "repl", message = failures .. " input(s) failed" }
  end
  return true
end

return _M
