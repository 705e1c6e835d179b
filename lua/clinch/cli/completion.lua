--- `clinch completion bash|zsh`: a shell completion script made from the CLI's own tables — the command
-- list (clinch.cli.commands), each command's options and the global ones (clinch.cli), the values an
-- option takes (its `choices`: formats, regions), the include names and the columns (the resource's
-- definition and the contract, through clinch.registry), and file or directory names for options whose
-- value is a FILE or DIR. Nothing is copied by hand: a new command, option or include name is completed
-- the next time the script is generated.
--
-- Both shells' scripts share the same data functions (plain POSIX `case` statements, which bash and
-- zsh both read); each shell has its own small driver around them.
local ipairs, pairs, type, require, tostring = ipairs, pairs, type, require, tostring
local concat, sort = table.concat, table.sort

local _M = {}

_M.SHELLS = { "bash", "zsh" }

-- A word list as a shell-quoted string of words separated by spaces (every word we emit is safe in
-- single quotes: names of commands, options and attributes).
local function words(list)
  return "'" .. concat(list, " "):gsub("'", "") .. "'"
end

local function options_of(cmd)
  local o = cmd.options
  if type(o) == "function" then o = o() end
  return o or {}
end

-- Every option a command accepts that a user types (the rejected ones, such as --secret, left out).
local function option_names(specs)
  local out = {}
  for _, s in ipairs(specs) do
    if not s.reject then out[#out + 1] = "--" .. s[1] end
  end
  return out
end

-- What the value of an option completes to: a word list, "__files__" or "__dirs__", or nil.
local function values_of(spec, def)
  if spec.choices then return spec.choices end
  if spec[1] == "include" and def and def.includes then return def.includes end
  if (spec[1] == "columns" or spec[1] == "fields") and def then
    local registry = require "clinch.registry"
    local list, seen = { "id", "type" }, { id = true, type = true }
    for _, a in ipairs(registry.attributes(def.type) or def.columns or {}) do
      if not seen[a] then list[#list + 1], seen[a] = a, true end -- (a resource's columns name id too)
    end
    local rels = registry.relationships(def.type)
    if rels then
      local names = {}
      for r in pairs(rels) do names[#names + 1] = r end
      sort(names)
      for _, r in ipairs(names) do list[#list + 1] = r end
    end
    return list
  end
  if spec.arg == "FILE" then return "__files__" end
  if spec.arg == "DIR" then return "__dirs__" end
  return nil
end

-- The data of the CLI, as shell functions:
--   _clinch_top                 the first words (commands and groups, help, completion)
--   _clinch_group WORD          the subcommands of a group, or nothing
--   _clinch_is_command WORDS    true when WORDS ("candidates list") name a whole command
--   _clinch_options WORDS       the options of that command (and the global ones); WORDS "" : globals
--   _clinch_takes_value OPT     true when OPT (--format) takes a value
--   _clinch_values WORDS OPT    the values of OPT for that command, or __files__ / __dirs__
local function data_functions()
  local cli = require "clinch.cli"
  local commands = require("clinch.cli.commands").list
  local registry = require "clinch.registry"
  local top, seen, groups, group_order = {}, {}, {}, {}
  for _, cmd in ipairs(commands) do
    local w1 = cmd.words[1]
    if not seen[w1] then
      seen[w1] = true
      top[#top + 1] = w1
    end
    if cmd.words[2] then
      if not groups[w1] then groups[w1], group_order[#group_order + 1] = {}, w1 end
      local g = groups[w1]
      g[#g + 1] = cmd.words[2]
    end
  end
  top[#top + 1] = "help"
  local globals = cli.GLOBAL_OPTIONS
  local out = { "_clinch_top() { echo " .. words(top) .. "; }", "_clinch_group() {", '  case "$1" in' }
  for _, g in ipairs(group_order) do out[#out + 1] = "    " .. g .. ") echo " .. words(groups[g]) .. " ;;" end
  out[#out + 1] = "  esac"
  out[#out + 1] = "}"
  local names, takes, opts_lines, values_lines = {}, {}, {}, {}
  local function add_values(key, spec, def)
    local v = values_of(spec, def)
    if v then
      values_lines[#values_lines + 1] = "    '" .. key .. ":--" .. spec[1] .. "') echo "
        .. (type(v) == "table" and words(v) or v) .. "; return ;;"
    end
  end
  for _, s in ipairs(globals) do
    if s.arg and not s.reject then takes["--" .. s[1]] = true end
  end
  for _, cmd in ipairs(commands) do
    local name = concat(cmd.words, " ")
    names[#names + 1] = "'" .. name .. "'"
    local def = registry.get(cmd.words[1])
    local specs = options_of(cmd)
    opts_lines[#opts_lines + 1] = "    '" .. name .. "') echo " .. words(option_names(specs)) .. " ;;"
    for _, s in ipairs(specs) do
      if s.arg and not s.reject then takes["--" .. s[1]] = true end
      add_values(name, s, def)
    end
  end
  local take_list = {}
  for k in pairs(takes) do take_list[#take_list + 1] = k end
  sort(take_list)
  out[#out + 1] = '_clinch_is_command() { case "$1" in ' .. concat(names, "|") .. ") return 0 ;; esac; return 1; }"
  out[#out + 1] = '_clinch_takes_value() { case "$1" in ' .. concat(take_list, "|") .. ") return 0 ;; esac; return 1; }"
  out[#out + 1] = "_clinch_options() {"
  out[#out + 1] = "  echo " .. words(option_names(globals))
  out[#out + 1] = '  case "$1" in'
  for _, l in ipairs(opts_lines) do out[#out + 1] = l end
  out[#out + 1] = "  esac"
  out[#out + 1] = "}"
  out[#out + 1] = "_clinch_values() {"
  out[#out + 1] = '  case "$1:$2" in'
  for _, l in ipairs(values_lines) do out[#out + 1] = l end
  out[#out + 1] = "  esac"
  -- The global options' values, whatever the command.
  out[#out + 1] = '  case "$2" in'
  for _, s in ipairs(globals) do
    local v = values_of(s, nil)
    if v and not s.reject then
      out[#out + 1] = "    --" .. s[1] .. ") echo " .. (type(v) == "table" and words(v) or v) .. " ;;"
    end
  end
  out[#out + 1] = "  esac"
  out[#out + 1] = "}"
  -- The words typed so far: the command they name (or the group, or ""), options and their values
  -- skipped; sets _clinch_cmd. Arguments: the words before the cursor, without the program name.
  out[#out + 1] = [[
_clinch_command_of() {
  _clinch_cmd=""
  local _w _skip=0
  for _w in "$@"; do
    # bash splits --opt=value at the "=": the word after a lone "=" is that option's value
    if [ "$_w" = "=" ]; then _skip=1; continue; fi
    if [ "$_skip" = 1 ]; then _skip=0; continue; fi
    case "$_w" in
      --*=*) ;;
      --*) if _clinch_takes_value "$_w"; then _skip=1; fi ;;
      -*) ;;
      *) if ! _clinch_is_command "$_clinch_cmd"; then _clinch_cmd="${_clinch_cmd:+$_clinch_cmd }$_w"; fi ;;
    esac
  done
}]]
  return concat(out, "\n")
end

local BASH_DRIVER = [==[
_clinch() {
  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
  COMPREPLY=()
  # --opt=value: bash makes "=" a word of its own; what is completed is the text after it
  if [ "$cur" = "=" ]; then cur=""
  elif [ "$prev" = "=" ] && [ "$COMP_CWORD" -gt 2 ]; then prev="${COMP_WORDS[COMP_CWORD-2]}"; fi
  _clinch_command_of "${COMP_WORDS[@]:1:COMP_CWORD-1}"
  local cmd="$_clinch_cmd"
  if [ "$COMP_CWORD" -gt 1 ] && _clinch_takes_value "$prev"; then
    local values
    values="$(_clinch_values "$cmd" "$prev")"
    case "$values" in
      __files__) COMPREPLY=($(compgen -f -- "$cur")) ;;
      __dirs__) COMPREPLY=($(compgen -d -- "$cur")) ;;
      *) # a comma-separated list (--include a,b, --columns id,email): complete its last item
        local prefix=""
        case "$cur" in *,*) prefix="${cur%,*},"; esac
        COMPREPLY=($(compgen -P "$prefix" -W "$values" -- "${cur##*,}")) ;;
    esac
    return 0
  fi
  case "$cur" in
    -*) COMPREPLY=($(compgen -W "$(_clinch_options "$cmd")" -- "$cur")); return 0 ;;
  esac
  if [ -z "$cmd" ]; then
    COMPREPLY=($(compgen -W "$(_clinch_top)" -- "$cur"))
  elif [ "$cmd" = completion ]; then
    COMPREPLY=($(compgen -W "bash zsh" -- "$cur"))
  elif [ "$cmd" = help ]; then
    COMPREPLY=($(compgen -W "$(_clinch_top)" -- "$cur"))
  elif ! _clinch_is_command "$cmd"; then
    local group="${cmd#help }"
    COMPREPLY=($(compgen -W "$(_clinch_group "$group")" -- "$cur"))
  fi
  return 0
}
complete -o default -F _clinch clinch]==]

local ZSH_DRIVER = [==[
_clinch() {
  local cur="${words[CURRENT]}" prev="${words[CURRENT-1]}" eq=""
  _clinch_command_of "${(@)words[2,CURRENT-1]}"
  local cmd="$_clinch_cmd"
  # --opt=value in one word: complete the value, keeping "--opt=" in front
  if [[ "$cur" == --*=* ]] && _clinch_takes_value "${cur%%=*}"; then
    prev="${cur%%=*}"; eq="${cur%%=*}="; cur="${cur#*=}"
  fi
  if [[ -n "$eq" ]] || { (( CURRENT > 2 )) && _clinch_takes_value "$prev"; }; then
    local values="$(_clinch_values "$cmd" "$prev")"
    case "$values" in
      __files__) _files ;;
      __dirs__) _files -/ ;;
      *) local -a list; list=(${=values})
         if [[ "$cur" == *,* ]]; then compadd -P "$eq${cur%,*}," -- $list
         elif [[ -n "$eq" ]]; then compadd -P "$eq" -- $list
         else compadd -- $list; fi ;;
    esac
    return
  fi
  if [[ "$cur" == -* ]]; then
    local -a opts; opts=(${=$(_clinch_options "$cmd")}); compadd -- $opts; return
  fi
  local -a list
  if [[ -z "$cmd" || "$cmd" == help ]]; then list=(${=$(_clinch_top)})
  elif [[ "$cmd" == completion ]]; then list=(bash zsh)
  elif ! _clinch_is_command "$cmd"; then list=(${=$(_clinch_group "${cmd#help }")})
  fi
  (( ${#list} )) && compadd -- $list
}
if [ "$funcstack[1]" = "_clinch" ]; then _clinch "$@"; else compdef _clinch clinch; fi]==]

--- The completion script for `shell` ("bash" or "zsh") -> text, or nil and a message.
function _M.script(shell)
  if shell == "bash" then
    return "# bash completion for clinch (generated by `clinch completion bash`)\n" .. data_functions() .. "\n"
      .. BASH_DRIVER .. "\n"
  elseif shell == "zsh" then
    return "#compdef clinch\n# zsh completion for clinch (generated by `clinch completion zsh`)\n"
      .. data_functions() .. "\n" .. ZSH_DRIVER .. "\n"
  end
  return nil, "completion: the shell must be one of " .. concat(_M.SHELLS, ", ") .. ", got '" .. tostring(shell) .. "'"
end

return _M
