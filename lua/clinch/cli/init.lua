--- The `clinch` command line: `require("clinch.cli").main(argv) -> exit code`. bin/clinch is a thin
-- launcher around it. Exit codes (EXIT_CODES): 0 success (also when the reader of a pipe left), 1 API or
-- network error or output that cannot be written, 2 usage error (or a state file sync cannot use);
-- every error is one line on stderr.
-- Output goes to stdout as an aligned table when it is a terminal, JSON otherwise, or as --format
-- says. Text that is not valid UTF-8 is written mended (see clinch.cli.output) and counted in a warning.
local type, ipairs, pairs, tostring, setmetatable, getmetatable, xpcall, require, error, rawget =
  type, ipairs, pairs, tostring, setmetatable, getmetatable, xpcall, require, error, rawget
local io, os, debug, concat = io, os, debug, table.concat
local args = require "clinch.cli.args"
local config = require "clinch.cli.config"
local errors = require "clinch.errors"
local output = require "clinch.cli.output"
local progress = require "clinch.cli.progress"
local trace = require "clinch.cli.trace"
local one_line = require("clinch.text").one_line

local _M = {}

_M.EXIT_OK, _M.EXIT_API, _M.EXIT_USAGE = 0, 1, 2

--- The exit code of each error kind; every kind not named (API, network and transport errors) is 1.
_M.EXIT_CODES = {
  usage = _M.EXIT_USAGE,      -- a bad option or argument
  validation = _M.EXIT_USAGE, -- input refused before sending (with an HTTP status it is the API's answer: 1)
  state = _M.EXIT_USAGE,      -- a sync state file that is corrupted, or that another output belongs to
  io = _M.EXIT_API,           -- output or state that cannot be written (a full disk; a closed pipe is 0)
  partial = _M.EXIT_API,      -- rows of a bulk command that failed at the API (their results say why)
  busy = _M.EXIT_API,         -- another sync holds the state file's lock
}

-- Kinds whose message is the whole line (the others keep their kind: "http error (HTTP 500) ...").
local PLAIN = { usage = true, repl = true, io = true, state = true, busy = true, partial = true }

_M.GLOBAL_OPTIONS = {
  { "key", arg = "KEY", help = "API access id (default: $CLINCH_API_KEY)" },
  { "secret-file", arg = "FILE",
    help = "read the API secret from the first line of FILE (default: $CLINCH_API_SECRET)" },
  { "secret", arg = "SECRET", reject = config.SECRET_ON_COMMAND_LINE },
  { "region", arg = "REGION", choices = { "us", "eu", "au" }, help = "us, eu or au (default: $CLINCH_REGION, us)" },
  { "base-url", arg = "URL", help = "API base URL, e.g. http://127.0.0.1:8080/v1 (default: $CLINCH_BASE_URL)" },
  { "profile", arg = "NAME", help = "profile of ~/.config/clinch/config to use (default: $CLINCH_PROFILE, default)" },
  { "format", arg = "FORMAT", choices = output.FORMATS,
    help = "table, json, jsonl or csv (default: table on a terminal, json otherwise)" },
  { "verbose", help = "log requests, responses and retry waits to stderr (secrets redacted)" },
  { "dry-run", help = "print each request as a signed curl command instead of sending it" },
  { "timeout", arg = "SECONDS", type = "number", help = "total time allowed per request (default 60)" },
  { "retries", arg = "N", type = "integer", min = 0,
    help = "further attempts after a failure that may pass (default 2)" },
  { "help", help = "show help (also -h)" },
  { "version", help = "show the versions of clinch, its C core, libcurl and OpenSSL" },
}

local function commands()
  return require("clinch.cli.commands").list
end

-- What a command group is, where its name does not say it.
local GROUP_LABELS = { tags = "a candidate's tags", resume = "resumes" }

-- The command groups (the first word of commands of two words), each as "label: sub, sub, ...".
local GROUPS = setmetatable({}, { __index = function(groups, word)
  local subs = {}
  for _, cmd in ipairs(commands()) do
    if cmd.words[1] == word and cmd.words[2] then subs[#subs + 1] = cmd.words[2] end
  end
  if #subs == 0 then return nil end
  local line = (GROUP_LABELS[word] or word) .. ": " .. concat(subs, ", ")
  groups[word] = line
  return line
end })

local function options_of(cmd)
  local o = cmd.options
  if type(o) == "function" then o = o() end
  return o
end

local function overview()
  local lines = {
    "usage: clinch [global options] COMMAND [options]",
    "",
    "The command-line client of the PageUp Recruitment Marketing (Clinch) API.",
    "",
    "Commands:",
  }
  local width = 0
  for _, cmd in ipairs(commands()) do
    local w = #concat(cmd.words, " ")
    if w > width then width = w end
  end
  for _, cmd in ipairs(commands()) do
    local name = concat(cmd.words, " ")
    lines[#lines + 1] = "  " .. name .. (" "):rep(width - #name + 2) .. cmd.summary
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "Global options:"
  lines[#lines + 1] = args.describe(_M.GLOBAL_OPTIONS)
  lines[#lines + 1] = ""
  lines[#lines + 1] = "Configuration: the flags above, then CLINCH_API_KEY, CLINCH_API_SECRET, CLINCH_REGION and"
  lines[#lines + 1] = "CLINCH_BASE_URL, then the profile (--profile, $CLINCH_PROFILE or default) of"
  lines[#lines + 1] = "~/.config/clinch/config. Run 'clinch COMMAND --help' for a command's options."
  lines[#lines + 1] = "Exit codes: 0 success, 1 API or network error or output that cannot be written, 2 usage"
  lines[#lines + 1] = "error (or a sync state file that cannot be used)."
  return concat(lines, "\n") .. "\n"
end

local function command_help(cmd)
  local lines = { "usage: " .. cmd.usage, "", cmd.summary .. "." }
  local opts = options_of(cmd)
  if #opts > 0 then
    lines[#lines + 1] = ""
    lines[#lines + 1] = "Options:"
    lines[#lines + 1] = args.describe(opts)
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "Example:"
  lines[#lines + 1] = "  " .. cmd.example
  lines[#lines + 1] = ""
  local globals = {}
  for _, o in ipairs(_M.GLOBAL_OPTIONS) do
    if o.help and not o.reject and o[1] ~= "help" and o[1] ~= "version" then globals[#globals + 1] = "--" .. o[1] end
  end
  local line = "Global options (see clinch --help):"
  for i, g in ipairs(globals) do
    local word = " " .. g .. (i < #globals and "," or ".")
    if #line + #word > 100 then
      lines[#lines + 1], line = line, word:sub(2)
    else
      line = line .. word
    end
  end
  lines[#lines + 1] = line
  return concat(lines, "\n") .. "\n"
end

local function group_help(group)
  local lines = { "usage: clinch " .. group .. " SUBCOMMAND [options]", "", GROUPS[group] .. "", "" }
  for _, cmd in ipairs(commands()) do
    if cmd.words[1] == group then
      lines[#lines + 1] = "  " .. cmd.usage
      lines[#lines + 1] = "      " .. cmd.summary
    end
  end
  return concat(lines, "\n") .. "\n"
end

-- Finds the command named by argv[i], argv[i+1] -> cmd, index after its words.
local function find_command(argv, i)
  for _, cmd in ipairs(commands()) do
    local ok = true
    for k, w in ipairs(cmd.words) do
      if argv[i + k - 1] ~= w then ok = false break end
    end
    if ok then return cmd, i + #cmd.words end
  end
  return nil
end

--- The run context handed to commands: streams, options, and the client made on first use.
local Context = {}
Context.__index = Context

function Context:client()
  if self._client then return self._client end
  local o, err = config.options(self.opts, self.getenv, function(m) self:warn(m) end)
  if not o then error(errors.new { kind = "usage", message = err }, 0) end
  local stderr = self.stderr
  if self.opts.verbose then
    o.logger = trace.logger(stderr)
  end
  -- --concurrency above the client's default budget raises the budget (and the transport's) with it.
  local concurrency = self.opts.concurrency
  if concurrency and concurrency > require("clinch.defaults").CONCURRENCY then o.max_concurrency = concurrency end
  local transport
  if self.opts.dry_run then
    transport = trace.dry_run_transport(self.stdout)
  end
  if self.opts.verbose then
    transport = trace.verbose_transport(transport or require("clinch.transport").default {
      timeout = o.timeout, max_concurrency = o.max_concurrency }, stderr)
  end
  o.transport = transport
  local client, cerr = config.client(o)
  if not client then error(errors.new { kind = "usage", message = cerr }, 0) end
  self._client = client
  return client
end

--- An output writer in the chosen format on stdout (see clinch.cli.output); JSON and JSON Lines
-- records are projected on the columns when the user chose them (--columns, --fields).
function Context:writer(opts)
  opts.format, opts.stream = opts.format or self.format, self.stdout
  if opts.project == nil then opts.project = self.opts.columns ~= nil or self.opts.fields ~= nil end
  local w = output.new(opts)
  self._writers[#self._writers + 1] = w
  return w
end

--- A warning on stderr (one line, after any progress line).
function Context:warn(message)
  if self._progress then self._progress:clear() end
  self.stderr:write("clinch: warning: ", message, "\n")
end

--- The warning for `n` ill-formed UTF-8 sequences replaced in `where`.
function _M.replaced_warning(n, where)
  return ("%d invalid UTF-8 sequence%s in the data replaced by U+FFFD in %s"):format(n, n == 1 and "" or "s", where)
end

--- A progress line on stderr, drawn only when stderr is a terminal (and not under --verbose); with
-- `rows`, of a bulk command's rows (see clinch.cli.progress).
function Context:progress(label, rows)
  local p = progress.new { enabled = self.stderr_tty and not self.opts.verbose, stream = self.stderr, label = label,
                           rows = rows }
  self._progress = p -- cleared before an error message, which then starts at column one
  return p
end

-- stdout as commands see it: a write or flush that fails raises an io error, so the command stops at
-- once instead of fetching every page for nobody. A pipe whose reader left (`clinch ... | head -1`;
-- SIGPIPE is ignored, see _M.main) is the conventional end of a command that printed enough: the error
-- is marked `closed_pipe` and ends the run quietly with exit code 0. Any other failure (a full disk) is
-- exit code 1 with a message.
local function checked(stream, epipe)
  local function check(ok, err, code)
    if not ok then
      error(errors.new { kind = "io", message = "cannot write the output: " .. tostring(err),
                         closed_pipe = code ~= nil and code == epipe or nil }, 0)
    end
  end
  local w = {}
  function w.write(self, ...)
    check(stream:write(...))
    return self
  end
  function w.flush(self)
    check(stream:flush())
    return self
  end
  return w
end

--- The exit code for an error value (see EXIT_CODES): 0 for the end of a dry run and for output to a
-- pipe whose reader left.
function _M.exit_code(err)
  if trace.is_dry_run(err) then return _M.EXIT_OK end
  if not errors.is(err) then return _M.EXIT_API end
  if err.kind == "io" and err.closed_pipe then return _M.EXIT_OK end -- the reader has what it wanted
  if err.kind == "validation" and err.status then return _M.EXIT_API end
  return _M.EXIT_CODES[err.kind] or _M.EXIT_API
end

-- One line for stderr (clinch.text.one_line): a server message (which may echo what a user sent) must
-- neither break it nor reach the terminal. Usage errors are their message; the others keep their kind
-- ("not_found error (HTTP 404) GET ...: ...").
-- What the CLI's user did not type (the library's function and option names) is said in its terms
-- (clinch.cli.messages) for the errors made here, before sending; the API's answers stay as they came.
local function message_line(err)
  local text
  local for_cli = require("clinch.cli.messages").for_cli
  if errors.is(err) and PLAIN[err.kind] then
    text = for_cli(tostring(err.message))
  elseif errors.is(err) and not err.status and err.message then
    local copy = {}
    for k, v in pairs(err) do copy[k] = v end
    copy.message = for_cli(err.message)
    text = tostring(setmetatable(copy, getmetatable(err))):gsub("^clinch%.", "")
  else
    text = tostring(err):gsub("^clinch%.", "")
  end
  return one_line(text)
end
--- The one line an error is on stderr (a bulk command's row results carry it too).
_M.message_line = message_line

-- The command argv names from index i on: cmd, the index after its words; or nil and the exit code
-- once help or a usage mistake was written (fail writes the message).
local function find_or_answer(argv, i, globals, stdout, fail)
  local word = argv[i]
  if word == nil then
    if globals.help then stdout:write(overview()) return nil, _M.EXIT_OK end
    return nil, fail(_M.EXIT_USAGE, "no command given (see clinch --help)")
  end
  if word == "help" then
    local cmd = find_command(argv, i + 1)
    if cmd then stdout:write(command_help(cmd))
    elseif GROUPS[argv[i + 1]] then stdout:write(group_help(argv[i + 1]))
    else stdout:write(overview()) end
    return nil, _M.EXIT_OK
  end
  local cmd, rest = find_command(argv, i)
  if cmd then return cmd, rest end
  if not GROUPS[word] then return nil, fail(_M.EXIT_USAGE, "unknown command '" .. word .. "' (see clinch --help)") end
  local sub = argv[i + 1]
  if sub == "--help" or sub == "-h" or globals.help then
    stdout:write(group_help(word))
    return nil, _M.EXIT_OK
  end
  if sub == nil then
    return nil, fail(_M.EXIT_USAGE, word .. " needs a subcommand: " .. GROUPS[word]:match(": (.*)$")
      .. " (see clinch " .. word .. " --help)")
  end
  return nil, fail(_M.EXIT_USAGE, "unknown command '" .. word .. " " .. sub .. "' (see clinch " .. word .. " --help)")
end

-- A command's options and arguments: opts, positionals; or nil and the exit code once --help or a
-- usage mistake was written.
local function parse_command(cmd, argv, rest, globals, stdout, fail)
  local name = concat(cmd.words, " ")
  local opts, oerr = args.parse(argv, rest, { options_of(cmd), _M.GLOBAL_OPTIONS }, globals)
  if not opts then return nil, fail(_M.EXIT_USAGE, oerr .. " (see clinch " .. name .. " --help)") end
  if opts.help then
    stdout:write(command_help(cmd))
    return nil, _M.EXIT_OK
  end
  local positionals = opts._args
  -- The positionals a command takes may depend on its options (tags add ID NAME, or --ids-from FILE NAME).
  local want = type(cmd.args) == "function" and cmd.args(opts) or cmd.args
  if #positionals < #want then
    return nil, fail(_M.EXIT_USAGE, name .. " needs " .. concat(want, " ", #positionals + 1)
      .. " (usage: " .. cmd.usage .. ")")
  elseif #positionals > #want then
    return nil, fail(_M.EXIT_USAGE, "unexpected argument '" .. positionals[#want + 1] .. "' (usage: "
      .. cmd.usage .. ")")
  end
  for k, v in ipairs(positionals) do
    if v == "" then return nil, fail(_M.EXIT_USAGE, name .. ": " .. want[k] .. " must not be empty") end
  end
  return opts, positionals
end

-- Runs a parsed command; returns the exit code. A Lua error that is not an error object is an
-- internal error (its traceback with CLINCH_DEBUG set), Ctrl-C exit 130.
local function run_command(cmd, cx, positionals, fail)
  local traceback
  local function handler(e)
    if not errors.is(e) then traceback = debug.traceback(tostring(e), 2) end
    return e
  end
  local ok, res, err = xpcall(cmd.run, handler, cx, cx.opts, positionals)
  if cx._client then cx._client:close() end
  local replaced = 0
  for _, w in ipairs(cx._writers) do replaced = replaced + w.replaced end
  if replaced > 0 then cx:warn(_M.replaced_warning(replaced, "the output")) end
  if not ok then err = res end
  if ok and res then return _M.EXIT_OK end
  if cx._progress then cx._progress:clear() end
  if traceback then
    -- Ctrl-C arrives as lua.c's "interrupted!" error; what sync recorded so far stays valid.
    if tostring(err):find("interrupted!", 1, true) then return fail(130, "interrupted") end
    if cx.getenv("CLINCH_DEBUG") then cx.stderr:write(traceback, "\n") end
    return fail(_M.EXIT_API, "internal error: " .. message_line(err))
  end
  local code = _M.exit_code(err)
  if code == _M.EXIT_OK then return code end
  return fail(code, message_line(err))
end

--- What `clinch --version` prints: the library's version, then those of the C core (and the Lua it was
-- built for), of libcurl (with its TLS library) and of the OpenSSL the core signs with, a line each.
function _M.version_text()
  local core = require "clinch.core"
  local curl, tls = core.curl_version()
  local lua = type(rawget(_G, "jit")) == "table" and rawget(_G, "jit").version or _VERSION
  return concat({
    "clinch " .. require("clinch")._VERSION,
    "core " .. tostring(core._VERSION) .. " (" .. lua .. ")",
    "libcurl " .. curl .. (tls and " (" .. tls .. ")" or ""),
    core.openssl_version(),
  }, "\n") .. "\n"
end

local function main(argv, ctx, stdout, stderr)
  local isatty = ctx.isatty or require("clinch.cli.tty").isatty
  local function fail(code, message)
    stderr:write("clinch: ", message, "\n")
    return code
  end
  local globals = {}
  local i, perr = args.leading(argv, { _M.GLOBAL_OPTIONS }, globals)
  if not i then return fail(_M.EXIT_USAGE, perr .. " (see clinch --help)") end
  if globals.version then
    stdout:write(_M.version_text())
    return _M.EXIT_OK
  end
  local cmd, rest = find_or_answer(argv, i, globals, stdout, fail)
  if not cmd then return rest end
  local opts, positionals = parse_command(cmd, argv, rest, globals, stdout, fail)
  if not opts then return positionals end
  -- An interactive command (the REPL) runs what its user types, child processes too: they get the
  -- default SIGPIPE action back, as in any shell.
  if cmd.interactive and not ctx.stdout then require("clinch.core").ignore_sigpipe(false) end
  local stdout_tty = isatty(1)
  local cx = setmetatable({
    opts = opts, name = concat(cmd.words, " "), stdout = stdout, stderr = stderr, stdin = ctx.stdin or io.stdin,
    getenv = ctx.getenv or os.getenv, isatty = isatty, stdout_tty = stdout_tty, stderr_tty = isatty(2),
    format = opts.format or (stdout_tty and "table" or "json"), _writers = {},
  }, Context)
  return run_command(cmd, cx, positionals, fail)
end

--- Runs the CLI. `argv` is the argument list (arg), `ctx` optionally overrides stdout, stderr, stdin,
-- getenv and isatty(fd) (tests). Returns the exit code.
function _M.main(argv, ctx)
  ctx = ctx or {}
  local core = require "clinch.core"
  -- On the process's own stdout, a closed pipe is a write error (EPIPE) rather than death by SIGPIPE
  -- (exit status 141), so the run ends at a point of its choosing: quietly, exit code 0.
  if not ctx.stdout then core.ignore_sigpipe() end
  local stdout, stderr = checked(ctx.stdout or io.stdout, core.EPIPE), ctx.stderr or io.stderr
  local ok, code = pcall(function()
    local c = main(argv, ctx, stdout, stderr)
    -- What is still buffered must reach its destination before success is reported.
    if c == _M.EXIT_OK then stdout:flush() end
    return c
  end)
  if ok then return code end
  if errors.is(code) and code.kind == "io" then
    local exit = _M.exit_code(code)
    if exit ~= _M.EXIT_OK then stderr:write("clinch: ", code.message, "\n") end
    return exit
  end
  error(code, 0)
end

return _M
