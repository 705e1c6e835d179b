--- Where a client's settings come from: one rule for clinch.new, the `clinch` command (and its REPL) and
-- the examples. For each setting, the first of these that gives it wins:
--   1. explicit values: clinch.new's arguments, the CLI's flags (--key, --secret-file, --region,
--      --base-url);
--   2. the environment: CLINCH_API_KEY, CLINCH_API_SECRET, CLINCH_REGION, CLINCH_BASE_URL;
--   3. a profile of the configuration file, $XDG_CONFIG_HOME/clinch/config (else
--      ~/.config/clinch/config): the profile named (clinch.new{ profile = }, --profile), else
--      $CLINCH_PROFILE, else "default" (which need not exist).
-- The region and the base URL are one setting, the endpoint: the first layer that gives either decides
-- (a base URL beats a region in the same layer); with none at all it is the API's default region, us.
--
-- The file is a small INI file:
--   # comment
--   [default]
--   key = ACCESS_ID
--   secret_file = ~/.config/clinch/default.secret
--   region = eu
--   [acme]
--   key = ...
--   secret = ...
--   base_url = https://api.rec-marketing.dc2.pageuppeople.com/v1
-- Failures are structured errors of kind "config" (with `file` and `line` where a file is at fault);
-- no message ever holds a secret, nor a line of the file (which could be one).
local core = require "clinch.core"
local errors = require "clinch.errors"
local validate = require "clinch.validate"
local type, pairs, ipairs, next, tostring, require = type, pairs, ipairs, next, tostring, require
local format, concat, sort, open, getenv = string.format, table.concat, table.sort, io.open, os.getenv

local _M = {}

_M.ENV = { key = "CLINCH_API_KEY", secret = "CLINCH_API_SECRET", region = "CLINCH_REGION",
           base_url = "CLINCH_BASE_URL", profile = "CLINCH_PROFILE" }

--- The region used when no layer names a region or a base URL: the API's own default.
_M.DEFAULT_REGION = "us"
--- The profile used when none is named.
_M.DEFAULT_PROFILE = "default"

-- What a profile may set.
local SETTINGS = { "key", "secret", "secret_file", "region", "base_url" }
local IS_SETTING = {}
for _, s in ipairs(SETTINGS) do IS_SETTING[s] = true end

local function fail(message, fields)
  fields = fields or {}
  fields.kind, fields.message = "config", message
  return nil, errors.new(fields)
end

local function nonempty(v)
  if type(v) == "string" and v ~= "" then return v end
  return nil
end

local function region_list()
  local names = {}
  for name in pairs(require("clinch.client").REGIONS) do names[#names + 1] = name end
  sort(names)
  return concat(names, ", ")
end

--- The configuration file's path from the environment (`getenv`, default os.getenv), or nil when
-- neither XDG_CONFIG_HOME nor HOME is set.
function _M.path(env)
  env = env or getenv
  local base = nonempty(env("XDG_CONFIG_HOME"))
  if not base then
    local home = nonempty(env("HOME"))
    if not home then return nil end
    base = home .. "/.config"
  end
  return base .. "/clinch/config"
end

-- One line of the file -> "section", name; "setting", name, value; "blank"; or nil.
local function classify(line)
  line = line:match("^%s*(.-)%s*$")
  if line == "" or line:find("^[#;]") then return "blank" end
  local section = line:match("^%[%s*([%w_.%-]+)%s*%]$")
  if section then return "section", section end
  local name, value = line:match("^([%a_][%w_]*)%s*=%s*(.-)$")
  if name then return "setting", name, value end
  return nil
end

--- Parses the text of a configuration file -> { [profile] = { setting = value, _line = { setting = n },
-- _at = n } }, or nil and a config error naming the file and line. `path` names the file in messages.
function _M.parse(text, path)
  local profiles, current, n = {}, nil, 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    local what, name, value = classify((line:gsub("\r$", "")))
    local where = { file = path, line = n }
    local at = path .. ":" .. n .. ": "
    if what == "section" then
      if profiles[name] then
        return fail(at .. "profile '" .. name .. "' is defined twice (first at line " .. profiles[name]._at .. ")",
          where)
      end
      current = { _line = {}, _at = n }
      profiles[name] = current
    elseif what == "setting" then
      if not current then return fail(at .. "a setting before the first [profile] line", where) end
      if not IS_SETTING[name] then
        -- A Base64 secret pasted on a line of its own can end in "=" and read as "name =": the name is
        -- shown only when it looks like a misspelt setting, short and in lower case.
        local shown = (#name <= 20 and name:find("^[%l_][%l%d_]*$")) and (" '" .. name .. "'") or ""
        return fail(at .. "unknown setting" .. shown .. " (settings: " .. concat(SETTINGS, ", ") .. ")", where)
      end
      if current[name] then return fail(at .. "'" .. name .. "' is set twice in this profile", where) end
      if value == "" then return fail(at .. "'" .. name .. "' has no value", where) end
      current[name], current._line[name] = value, n
    elseif what ~= "blank" then
      -- The line itself is not shown: it could be a secret pasted on a line of its own.
      return fail(at .. "expected '[profile]', 'setting = value' or a # comment", where)
    end
  end
  for name, p in pairs(profiles) do
    if p.secret and p.secret_file then
      return fail(path .. ":" .. p._line.secret_file .. ": profile '" .. name .. "' sets both secret and "
        .. "secret_file (give one)", { file = path, line = p._line.secret_file })
    end
  end
  return profiles
end

-- A warning when `mode` lets the group or others read the file that holds a secret.
local function mode_warning(what, path, mode)
  if mode and mode % 64 ~= 0 then -- any of the group's or others' bits (0077)
    return format("%s %s is readable by other users (mode %04o): chmod 600 %s", what, path, mode % 512, path)
  end
  return nil
end

--- Reads a configuration file -> profiles (see `parse`), and a warning when the file holds a secret and
-- others may read it; an empty table, nil and true when the file does not exist; or nil, a config error.
function _M.load(path)
  local f, oerr, code = open(path, "rb")
  if not f then
    if code == 2 then return {}, nil, true end -- ENOENT: no file is no profile
    return fail("cannot read the configuration file: " .. tostring(oerr), { file = path })
  end
  local mode = core.mode(f)
  local text = f:read("a") or ""
  f:close()
  local profiles, err = _M.parse(text, path)
  if not profiles then return nil, err end
  local holds_secret = false
  for _, p in pairs(profiles) do holds_secret = holds_secret or p.secret ~= nil end
  return profiles, holds_secret and mode_warning("the configuration file", path, mode) or nil
end

--- The secret in the first line of a file, without surrounding white space -> secret, and a warning
-- when others may read the file; or nil, a config error. `label` says where the path came from.
function _M.read_secret(path, label)
  local f, oerr = open(path, "rb")
  local where = label and (label .. ": ") or ""
  if not f then return fail(where .. "cannot read the secret file: " .. tostring(oerr), { file = path }) end
  local mode = core.mode(f)
  local line = f:read("l")
  f:close()
  line = line and line:match("^%s*(.-)%s*$")
  if not line or line == "" then return fail(where .. "the secret file " .. path .. " is empty", { file = path }) end
  return line, mode_warning("the secret file", path, mode)
end

-- A profile's secret_file as a path: ~/ is the home directory, a relative path is relative to the
-- configuration file's directory.
local function secret_path(value, config_path, env)
  local home = nonempty(env("HOME"))
  if value:sub(1, 2) == "~/" and home then return home .. value:sub(2) end
  if value:sub(1, 1) == "/" then return value end
  return (config_path:match("^(.*)/[^/]*$") or ".") .. "/" .. value
end

-- The first two layers, explicit values and the environment, each { name =, values = { setting = v },
-- source = { setting = where it came from } } (the profile's is profile_layer's).
local function layers(opts, env)
  local explicit = opts.explicit or {}
  local ex = { name = "explicit", values = {}, source = {} }
  for _, s in ipairs { "key", "secret", "secret_file", "region", "base_url" } do
    ex.values[s] = nonempty(explicit[s])
    ex.source[s] = opts.explicit_label and opts.explicit_label(s) or ("option '" .. s .. "'")
  end
  local en = { name = "environment", values = {}, source = {} }
  for _, s in ipairs { "key", "secret", "region", "base_url" } do
    en.values[s] = nonempty(env(_M.ENV[s]))
    en.source[s] = _M.ENV[s]
  end
  return ex, en
end

-- The profile layer (as `layers` makes them, plus `profile`, its name, `named`, whether it was asked
-- for, and `file_warning`, the configuration file's mode warning) -> layer, false (no profile), or nil, err.
local function profile_layer(opts, env)
  local named = nonempty(opts.profile) or nonempty(env(_M.ENV.profile))
  local name = named or _M.DEFAULT_PROFILE
  local path = opts.config_path or _M.path(env)
  if not path then
    if named then return fail("profile '" .. named .. "' asked for, but neither XDG_CONFIG_HOME nor HOME is set") end
    return false
  end
  local profiles, warning, absent = _M.load(path)
  if not profiles then return nil, warning end
  local p = profiles[name]
  if not p then
    if not named then return false end
    if absent then
      return fail("unknown profile '" .. named .. "': there is no configuration file " .. path, { file = path })
    end
    local names = {}
    for n in pairs(profiles) do names[#names + 1] = n end
    sort(names)
    local known = #names > 0 and ("profiles: " .. concat(names, ", ")) or "the file defines none"
    return fail("unknown profile '" .. named .. "' in " .. path .. " (" .. known .. ")", { file = path })
  end
  local layer = { name = "profile", values = {}, source = {}, profile = name, named = named ~= nil, path = path }
  for _, s in ipairs(SETTINGS) do
    if p[s] then
      layer.values[s] = p[s]
      layer.source[s] = path .. ":" .. p._line[s]
    end
  end
  if p.secret_file then layer.values.secret_file = secret_path(p.secret_file, path, env) end
  -- The file's mode matters only when its own secret is the one used (see resolve).
  layer.file_warning = warning
  return layer
end

-- The first layer giving the endpoint -> base_url or nil, region or nil, their source.
local function endpoint(list)
  for _, l in ipairs(list) do
    if l.values.base_url then return l.values.base_url, nil, l.source.base_url end
    if l.values.region then return nil, l.values.region, l.source.region end
  end
  return nil, _M.DEFAULT_REGION, "the default region"
end

-- The first layer giving the secret -> secret, warning, source; or nil, err; or false (none).
local function secret_of(list)
  for _, l in ipairs(list) do
    if l.values.secret then
      return l.values.secret, l.name == "profile" and l.file_warning or nil, l.source.secret
    end
    if l.values.secret_file then
      local s, w = _M.read_secret(l.values.secret_file, l.source.secret_file)
      if not s then return nil, w end
      return s, w, l.source.secret_file
    end
  end
  return false
end

-- The checks clinch.new makes of a value that came from the environment or a file, in the words of
-- where it came from: a usage problem of the configuration, not a programming mistake.
local function check_value(setting, value, source)
  if setting == "region" then
    if require("clinch.client").REGIONS[value] then return true end
    return fail(source .. ": unknown region '" .. value .. "' (regions: " .. region_list()
      .. "; or give a base URL instead)")
  end
  local probe = { key = "k", secret = "s", base_url = "http://127.0.0.1/" }
  probe[setting] = value
  local ok, why = validate.client_options(probe)
  if ok then return true end
  return fail(source .. ": " .. tostring(why):gsub("^clinch%.new: ", ""))
end

-- The message for missing credentials.
local function missing(what, explicit_hint, profile)
  local env = what == "key" and _M.ENV.key or _M.ENV.secret
  local file = what == "key" and "key" or "secret_file"
  return "no API " .. what .. ": set " .. env .. (explicit_hint and (", " .. explicit_hint) or "") .. " or give "
    .. file .. " in " .. (profile and ("profile '" .. profile .. "'") or "a profile of the configuration file")
end

--- Resolves the settings -> { key, secret, region or base_url, profile (the profile's name, when one
-- was used), source = { key =, secret =, endpoint = } (where each came from, for messages) }, and a
-- list of warnings (a secret others may read, an environment variable overriding a named profile); or
-- nil, a config error. opts: `explicit` (values given by the caller: key, secret, secret_file, region,
-- base_url; they are left to clinch.new's own checks), `explicit_label(setting)` (how to name them in
-- messages: "--key"), `environment_checked` (the caller checks the environment's values itself, in its
-- own words: the CLI), `profile` (a name), `getenv`, `hints` ({ key =, secret = }: how the caller can give them, for
-- messages), `config_path` (instead of the standard path).
function _M.resolve(opts)
  opts = opts or {}
  local env = opts.getenv or getenv
  local ex, en = layers(opts, env)
  local pl, perr = profile_layer(opts, env)
  if pl == nil then return nil, perr end
  local list = { ex, en, pl or nil }
  local warnings = {}
  if pl and pl.named then
    local function overrides(env_setting, profile_setting)
      warnings[#warnings + 1] = _M.ENV[env_setting] .. " overrides the " .. profile_setting .. " of profile '"
        .. pl.profile .. "'"
    end
    for _, s in ipairs { "key", "secret" } do
      if en.values[s] and (pl.values[s] or (s == "secret" and pl.values.secret_file)) and not ex.values[s] then
        overrides(s, s)
      end
    end
    -- region and base_url are one setting, the endpoint: either in the environment overrides either
    -- in the profile (within a layer, base_url wins)
    local function given(l) return l.values.base_url and "base_url" or l.values.region and "region" or nil end
    local env_s, profile_s = given(en), given(pl)
    if env_s and profile_s and not given(ex) then overrides(env_s, profile_s) end
  end
  local out = { source = {}, profile = pl and pl.profile or nil }
  for _, l in ipairs(list) do
    if l.values.key then out.key, out.source.key = l.values.key, l.source.key break end
  end
  local hints = opts.hints or {}
  if not out.key then return fail(missing("key", hints.key, pl and pl.profile)) end
  local secret, warning, ssource = secret_of(list)
  if secret == nil then return nil, warning end
  if not secret then return fail(missing("secret", hints.secret, pl and pl.profile)) end
  out.secret, out.source.secret = secret, ssource
  warnings[#warnings + 1] = warning
  out.base_url, out.region, out.source.endpoint = endpoint(list)
  for _, s in ipairs { "key", "region", "base_url" } do
    local src = s == "key" and out.source.key or out.source.endpoint
    local given = ex.values[s] and src == ex.source[s]
    local from_env = src == _M.ENV[s]
    if out[s] and src ~= "the default region" and not given and not (from_env and opts.environment_checked) then
      local ok, err = check_value(s, out[s], src)
      if not ok then return nil, err end
    end
  end
  return out, warnings
end

--- Whether anything is configured at all (a key, a secret, a region or a base URL in the environment
-- or in the profile that would be used) -> boolean; or nil, a config error (a broken file).
function _M.configured(opts)
  opts = opts or {}
  local env = opts.getenv or getenv
  local _, en = layers(opts, env)
  local pl, perr = profile_layer(opts, env)
  if pl == nil then return nil, perr end
  for _, l in ipairs { en, pl or { values = {} } } do
    if next(l.values) ~= nil then return true end
  end
  return false
end

return _M
