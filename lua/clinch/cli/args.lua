--- Command-line option parsing for bin/clinch: GNU-style long options (`--name value`, `--name=value`,
-- `--flag`), options anywhere among the positionals, `--` to end options. An option spec:
--   { "per-page", arg = "N", type = "integer", help = "..." }   -- takes a value
--   { "all", help = "..." }                                      -- a flag (true when given)
--   { "tag", arg = "NAME", multi = true, help = "..." }          -- repeatable: a list of values
--   { "secret", reject = "message" }                             -- refused with that message
-- Parsed values are keyed by the option name with dashes turned into underscores (per_page).
-- Failures return nil and a one-line message (a usage error: exit code 2).
local ipairs, tonumber, math_type = ipairs, tonumber, math.type
local concat, unpack, format, rep = table.concat, table.unpack, string.format, string.rep

local _M = {}

local function key_of(name)
  return (name:gsub("%-", "_"))
end

local function index(specs_lists)
  local by_name = {}
  for _, specs in ipairs(specs_lists) do
    for _, s in ipairs(specs) do by_name[s[1]] = s end
  end
  return by_name
end

local function convert(spec, value)
  if spec.type == "integer" then
    local n = tonumber(value)
    if not n or math_type(n) ~= "integer" or n < (spec.min or 1) then
      return nil, format("--%s expects a whole number%s, got '%s'", spec[1],
        (spec.min or 1) >= 1 and " of at least " .. (spec.min or 1) or "", value)
    end
    return n
  elseif spec.type == "number" then
    local n = tonumber(value)
    if not n or n ~= n or n < 0 then return nil, format("--%s expects a number, got '%s'", spec[1], value) end
    return n
  elseif spec.choices then
    for _, c in ipairs(spec.choices) do
      if c == value then return value end
    end
    return nil, format("--%s must be one of %s, got '%s'", spec[1], concat(spec.choices, ", "), value)
  end
  return value
end

--- Parses argv[first..] against the option spec lists. Returns opts (with opts._args, the
-- positionals) or nil, message.
function _M.parse(argv, first, specs_lists, into)
  local by_name = index(specs_lists)
  local opts = into or {}
  local positionals = {}
  local i = first or 1
  while i <= #argv do
    local a = argv[i]
    if a == "--" then
      for j = i + 1, #argv do positionals[#positionals + 1] = argv[j] end
      break
    elseif a == "-h" then
      opts.help = true
    elseif a:sub(1, 2) == "--" and #a > 2 then
      local name, value = a:match("^%-%-([^=]+)=(.*)$")
      name = name or a:sub(3)
      local spec = by_name[name]
      if not spec then return nil, "unknown option --" .. name end
      if spec.reject then return nil, spec.reject end
      if spec.arg then
        if value == nil then
          i = i + 1
          value = argv[i]
          if value == nil then return nil, "--" .. name .. " needs a value (" .. spec.arg .. ")" end
        end
        local v, err = convert(spec, value)
        if v == nil then return nil, err end
        local k = key_of(name)
        if spec.multi then
          local list = opts[k] or {}
          list[#list + 1] = v
          opts[k] = list
        else
          opts[k] = v
        end
      else
        if value ~= nil then return nil, "--" .. name .. " takes no value" end
        opts[key_of(name)] = true
      end
    elseif a:sub(1, 1) == "-" and #a > 1 then
      return nil, "unknown option " .. a
    else
      positionals[#positionals + 1] = a
    end
    i = i + 1
  end
  opts._args = positionals
  return opts
end

--- Reads the leading options of argv (those before the first word) -> index of the first word, or
-- nil, message. Lets global options come before the command: `clinch --format csv candidates list`.
function _M.leading(argv, specs_lists, into)
  local by_name = index(specs_lists)
  local i = 1
  while i <= #argv and argv[i]:sub(1, 1) == "-" and argv[i] ~= "-" do
    local a = argv[i]
    if a == "--" then return i + 1 end
    local name = a:match("^%-%-([^=]+)") or a
    local spec = by_name[name]
    local stop = i
    if spec and spec.arg and not a:find("=", 1, true) then stop = i + 1 end
    local ok, err = _M.parse({ unpack(argv, i, stop) }, 1, specs_lists, into)
    if not ok then return nil, err end
    if #ok._args > 0 then return nil, "unexpected argument " .. ok._args[1] end
    i = stop + 1
  end
  into._args = nil
  return i
end

--- The help text of option specs, aligned.
function _M.describe(specs)
  local lines, width = {}, 0
  local heads = {}
  for i, s in ipairs(specs) do
    if not s.reject and s.help then
      local head = "--" .. s[1] .. (s.arg and " " .. s.arg or "")
      heads[i] = head
      if #head > width then width = #head end
    end
  end
  for i, s in ipairs(specs) do
    if heads[i] then
      lines[#lines + 1] = "  " .. heads[i] .. rep(" ", width - #heads[i] + 2) .. s.help
    end
  end
  return concat(lines, "\n")
end

return _M
