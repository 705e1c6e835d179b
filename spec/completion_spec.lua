-- `clinch completion bash|zsh`: the generated scripts, sourced by real shells. The bash script is
-- loaded in `bash -c`, `complete -p clinch` must show it, and its function is called with COMP_WORDS and
-- COMP_CWORD set as bash sets them, so what a Tab offers is asserted; the zsh one is checked with
-- `zsh -n` and run with compadd and compdef stood in by functions that print what they are given
-- (skipped when zsh is not installed). The expected words come from the CLI's own tables (commands,
-- registry, contract), not from a copy. bin/clinch is a Lua 5.4 program: skipped under LuaJIT.
local support = require "support"

if support.is_luajit then
  describe("clinch completion", function()
    pending("runs on Lua 5.4 only: covered by the Lua 5.4 suite")
  end)
  return
end

local q = support.shell_quote
local tmp = support.tmpdir()
teardown(function() os.execute("rm -rf " .. q(tmp)) end)

-- Runs a shell command -> exit code, stdout (stderr joined).
local function sh(cmd)
  local p = assert(io.popen(support.child_env .. cmd .. " 2>&1"))
  local out = p:read("a")
  local _, _, code = p:close()
  return code, out
end

local function script(shell)
  local path = tmp .. "/clinch." .. shell
  local code, out = sh(support.lua .. " bin/clinch completion " .. shell .. " >" .. q(path))
  assert.are.equal(0, code, out)
  return path
end

local function split(s)
  local out = {}
  for w in s:gmatch("%S+") do out[#out + 1] = w end
  table.sort(out)
  return out
end

local function sorted(list)
  local out = {}
  for i, v in ipairs(list) do out[i] = v end
  table.sort(out)
  return out
end

-- The subcommands of a group, from the command table.
local function subcommands(group)
  local out = {}
  for _, cmd in ipairs(require("clinch.cli.commands").list) do
    if cmd.words[1] == group and cmd.words[2] then out[#out + 1] = cmd.words[2] end
  end
  return sorted(out)
end

describe("clinch completion bash", function()
  local path

  setup(function() path = script("bash") end)

  -- What completing `words` (the last one being the word under the cursor) offers.
  local function complete(words)
    local quoted = {}
    for i, w in ipairs(words) do quoted[i] = q(w) end
    local code, out = sh("bash -c " .. q("source " .. q(path) .. "; COMP_WORDS=(clinch " .. table.concat(quoted, " ")
      .. "); COMP_CWORD=" .. #words .. "; _clinch; printf '%s\\n' \"${COMPREPLY[@]}\""))
    assert.are.equal(0, code, out)
    return split(out)
  end

  it("registers the completion function for clinch", function()
    local code, out = sh("bash -c " .. q("source " .. q(path) .. " && complete -p clinch"))
    assert.are.equal(0, code, out)
    assert.are.equal("complete -o default -F _clinch clinch\n", out)
  end)

  it("offers the commands, each group's subcommands and each command's options", function()
    local top = { "help" }
    local seen = {}
    for _, cmd in ipairs(require("clinch.cli.commands").list) do
      if not seen[cmd.words[1]] then top[#top + 1], seen[cmd.words[1]] = cmd.words[1], true end
    end
    assert.are.same(sorted(top), complete { "" })
    assert.is_truthy(seen.completion)
    assert.are.same(subcommands("candidates"), complete { "candidates", "" })
    assert.are.same(subcommands("tags"), complete { "tags", "" })
    assert.are.same({ "list" }, complete { "tags", "l" })
    assert.are.same(subcommands("jobs"), complete { "--format", "csv", "jobs", "" })
    assert.are.same(subcommands("candidates"), complete { "help", "candidates", "" })
    -- Options: the command's and the global ones; a value after an option is skipped.
    local opts = complete { "candidates", "list", "--" }
    for _, o in ipairs { "--all", "--per-page", "--include", "--columns", "--fields", "--envelope", "--format",
                         "--verbose", "--updated-since" } do
      assert.is_truthy(table.concat(opts, " "):find(o, 1, true), o)
    end
    assert.are.same({ "--all" }, complete { "candidates", "list", "--a" })
    assert.are.same({ "--all" }, complete { "--format", "csv", "candidates", "list", "--page", "2", "--a" })
    assert.is_falsy(table.concat(opts, " "):find("--secret ", 1, true))
    assert.are.same({ "bash", "zsh" }, complete { "completion", "" })
  end)

  it("offers the values of options: formats, regions, include names and columns", function()
    assert.are.same(sorted(require("clinch.cli.output").FORMATS), complete { "candidates", "list", "--format", "" })
    assert.are.same({ "au", "eu", "us" }, complete { "--region", "" })
    local includes = require("clinch.registry").get("candidates").includes
    assert.are.same(sorted(includes), complete { "candidates", "get", "x", "--include", "" })
    assert.are.same({ "notes,job_applications", "notes,jobs" },
      complete { "candidates", "list", "--include", "notes,j" })
    assert.are.same({ "categories" }, complete { "jobs", "list", "--include", "" })
    assert.are.same({ "id,email" }, complete { "candidates", "list", "--columns", "id,em" })
    -- --opt=value, which bash splits at the "=" (COMP_WORDBREAKS): the value after it completes
    assert.are.same(sorted(includes), complete { "candidates", "get", "x", "--include", "=" })
    assert.are.same({ "notes" }, complete { "candidates", "list", "--include", "=", "not" })
    assert.are.same({ "id,email" }, complete { "candidates", "list", "--columns", "=", "id,em" })
    assert.are.same(subcommands("jobs"), complete { "--format", "=", "csv", "jobs", "" })
    -- each name once (a resource's own columns name id too)
    local cols = complete { "jobs", "list", "--columns", "" }
    local count = {}
    for _, c in ipairs(cols) do count[c] = (count[c] or 0) + 1 end
    assert.are.equal(1, count.id)
    assert.is_true(#cols > 2)
    -- FILE values complete to file names.
    local f = io.open(tmp .. "/people.csv", "w")
    f:close()
    assert.are.same({ tmp .. "/people.csv" }, complete { "candidates", "create", "--from", tmp .. "/peo" })
  end)

  it("refuses another shell with a usage error", function()
    local code, out = sh(support.lua .. " bin/clinch completion fish")
    assert.are.equal(2, code)
    assert.matches("^clinch: completion: the shell must be one of bash, zsh, got 'fish'\n$", out)
  end)
end)

local has_zsh = os.execute("command -v zsh >/dev/null 2>&1") == true

describe("clinch completion zsh", function()
  if not has_zsh then
    pending("zsh is not installed")
    return
  end
  local path

  setup(function() path = script("zsh") end)

  -- What _clinch hands compadd for `words` (the last one under the cursor): compadd and compdef are
  -- functions here that print their arguments, one call a line.
  local function complete(words)
    local quoted = {}
    for i, w in ipairs(words) do quoted[i] = q(w) end
    local code, out = sh("zsh -f -c " .. q("compdef() { print -r -- compdef $@; }; compadd() { print -r -- $@; }; "
      .. "source " .. q(path) .. " >/dev/null; words=(clinch " .. table.concat(quoted, " ") .. "); CURRENT="
      .. (#words + 1) .. "; _clinch"))
    assert.are.equal(0, code, out)
    return out
  end

  it("parses, registers itself with compdef when sourced, and completes like the bash one", function()
    local code, out = sh("zsh -n " .. q(path))
    assert.are.equal(0, code, out)
    code, out = sh("zsh -f -c " .. q("compdef() { print -r -- compdef $@; }; source " .. q(path)))
    assert.are.equal(0, code, out)
    assert.are.equal("compdef _clinch clinch\n", out)
    assert.are.same(subcommands("candidates"), split((complete { "candidates", "" }):gsub("^%-%- ", "")))
    assert.are.same(sorted(require("clinch.cli.output").FORMATS),
      split((complete { "candidates", "list", "--format", "" }):gsub("^%-%- ", "")))
    assert.matches("^%-P notes, %-%- [^\n]*jobs", complete { "candidates", "list", "--include", "notes,j" })
    assert.matches("%-%-envelope", complete { "candidates", "list", "--e" })
    -- --opt=value in one word, as zsh keeps it
    assert.matches("^%-P %-%-include=notes, %-%- [^\n]*jobs", complete { "candidates", "list", "--include=notes,j" })
    assert.matches("^%-P %-%-format= %-%- [^\n]*csv", complete { "candidates", "list", "--format=" })
  end)
end)
