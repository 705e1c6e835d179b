--- Checks run on user input before a request is sent. Every check returns true (or the cleaned value) on
-- success and `nil, err` with a validation error (lua/clinch/errors.lua, kind "validation", `field` set
-- where one attribute is at fault) otherwise, so nothing malformed ever reaches the wire.
local type, pairs, ipairs, tostring, next, floor, require = type, pairs, ipairs, tostring, next, math.floor, require
local sort, concat, byte, find, format = table.sort, table.concat, string.byte, string.find, string.format
local HUGE = math.huge
local utf8_len = rawget(_G, "utf8") and utf8.len -- Lua 5.3+; LuaJIT uses the loop in _M.utf8
local errors = require "clinch.errors"

local _M = {}

--- Returns nil and a validation error.
function _M.fail(message, field)
  return nil, errors.new { kind = "validation", message = message, field = field, sent = false }
end
local fail = _M.fail

--- The sorted keys of a set-like or the values of a list, joined for messages.
local function listing(names)
  local copy = {}
  for i, n in ipairs(names) do copy[i] = n end
  sort(copy)
  return concat(copy, ", ")
end
_M.listing = listing

--- True when `s` is valid UTF-8 (cjson passes invalid bytes through, and the server may reject or
-- mangle them). Overlong forms, surrogates and code points above U+10FFFF are rejected.
function _M.utf8(s)
  if not find(s, "[\128-\255]") then return true end
  if utf8_len then return utf8_len(s) ~= nil end -- Lua 5.3+: strict, as below
  local i, n = 1, #s
  while i <= n do
    local c = byte(s, i)
    if c < 0x80 then
      i = i + 1
    else
      local len, min, cp
      if c >= 0xC2 and c <= 0xDF then len, min, cp = 2, 0x80, c - 0xC0
      elseif c >= 0xE0 and c <= 0xEF then len, min, cp = 3, 0x800, c - 0xE0
      elseif c >= 0xF0 and c <= 0xF4 then len, min, cp = 4, 0x10000, c - 0xF0
      else return false end
      if i + len - 1 > n then return false end
      for j = i + 1, i + len - 1 do
        local cc = byte(s, j)
        if cc < 0x80 or cc > 0xBF then return false end
        cp = cp * 64 + (cc - 0x80)
      end
      if cp < min or cp > 0x10FFFF or (cp >= 0xD800 and cp <= 0xDFFF) then return false end
      i = i + len
    end
  end
  return true
end

--- True when `t` is a proper list: only the keys 1..n (an empty table counts as an empty list).
function _M.is_list(t)
  if type(t) ~= "table" then return false end
  local n = #t
  local count = 0
  for k in pairs(t) do
    if type(k) ~= "number" or k < 1 or k > n or k ~= floor(k) then return false end
    count = count + 1
  end
  return count == n
end

-- Characters an unquoted local part may hold (RFC 5322 atext plus dots; bytes >= 0x80 for RFC 6531).
local LOCAL_CHARS = "^[%w!#%$%%&'%*%+/=%?%^_`{|}~%.%-\128-\255]+$"
local LABEL_CHARS = "^[%w%-\128-\255]+$"

--- Whether `s` is a plausible email address: one @, a dot-atom local part of at most 64 bytes and a
-- domain of at least two DNS labels, at most 254 bytes in all, valid UTF-8, no spaces. Quoted local
-- parts and address literals are refused: they are legal but never what a candidate record means.
-- Returns true, or nil and the reason.
function _M.email(s)
  if type(s) ~= "string" then return nil, "must be a string" end
  if s == "" then return nil, "must not be empty" end
  if #s > 254 then return nil, "is longer than 254 bytes" end
  if not _M.utf8(s) then return nil, "is not valid UTF-8" end
  if s:find("[%s%c]") then return nil, "must not contain spaces or control characters" end
  local at = s:find("@", 1, true)
  if not at then return nil, "has no @" end
  if s:find("@", at + 1, true) then return nil, "has more than one @" end
  local loc, domain = s:sub(1, at - 1), s:sub(at + 1)
  if loc == "" then return nil, "has nothing before the @" end
  if #loc > 64 then return nil, "has a local part longer than 64 bytes" end
  if not loc:find(LOCAL_CHARS) then return nil, "has a character not allowed before the @" end
  if loc:find("^%.") or loc:find("%.$") or loc:find("..", 1, true) then
    return nil, "has a misplaced dot before the @"
  end
  if domain == "" then return nil, "has no domain" end
  local labels = {}
  for label in (domain .. "."):gmatch("([^.]*)%.") do labels[#labels + 1] = label end
  if #labels < 2 then return nil, "has a domain without a dot" end
  for _, label in ipairs(labels) do
    if label == "" then return nil, "has an empty domain label" end
    if #label > 63 then return nil, "has a domain label longer than 63 bytes" end
    if not label:find(LABEL_CHARS) or label:find("^%-") or label:find("%-$") then
      return nil, "has an invalid domain label " .. format("%q", label)
    end
  end
  if labels[#labels]:find("^%d+$") then return nil, "has a numeric top-level domain" end
  return true
end

--- Checks one value against an attribute schema ({type=, items=, format=}); returns true or nil, reason.
local function check_value(value, spec)
  if spec.type == "string" then
    if type(value) ~= "string" then return nil, "must be a string, got " .. type(value) end
    if spec.format == "email" then
      local ok, why = _M.email(value)
      if not ok then return nil, "is not a plausible email address (" .. why .. ")" end
    end
    if not _M.utf8(value) then return nil, "is not valid UTF-8" end
    if spec.nonblank and value:match("^%s*$") then return nil, "must not be blank" end
  elseif spec.type == "array" then
    if not _M.is_list(value) then return nil, "must be a list, got " .. type(value) end
    if spec.items then
      for i, item in ipairs(value) do
        local ok, why = check_value(item, { type = spec.items, nonblank = spec.nonblank_items })
        if not ok then return nil, "item " .. i .. " " .. why end
      end
    end
  end
  return true
end

--- Checks a table of request attributes against one of schema.requests: names known (unless
-- opts.allow_unknown), value types, required attributes present. `what` names the operation in messages.
-- Returns true or nil, err.
function _M.attributes(attrs, request, what, opts)
  local allow_unknown = opts and opts.allow_unknown
  local known = {}
  for name in pairs(request.attributes) do known[#known + 1] = name end
  -- Sorted so that the first offending name is the same on every run.
  local names = {}
  for name in pairs(attrs) do
    if type(name) ~= "string" then
      return fail(what .. ": attribute names must be strings, got " .. type(name) .. " " .. tostring(name))
    end
    names[#names + 1] = name
  end
  sort(names)
  for _, name in ipairs(names) do
    local spec = request.attributes[name]
    if spec then
      local ok, why = check_value(attrs[name], spec)
      if not ok then return fail(what .. ": attribute '" .. name .. "' " .. why, name) end
    elseif not allow_unknown then
      return fail(what .. ": unknown attribute '" .. name .. "'; valid attributes: " .. listing(known)
        .. " (allow_unknown = true sends it anyway)", name)
    end
  end
  for _, name in ipairs(request.required) do
    if attrs[name] == nil then return fail(what .. ": attribute '" .. name .. "' is required", name) end
  end
  return true
end

--- Normalises an `include` option (a list of names, or one string of comma-separated names) to a list,
-- checking each name against `valid` (a list) when given. Returns the list or nil, err.
function _M.include(include, valid)
  local list = {}
  if type(include) == "string" then
    for name in include:gmatch("[^,]+") do list[#list + 1] = name end
  elseif _M.is_list(include) then
    for i, name in ipairs(include) do
      if type(name) ~= "string" then
        return fail("include: item " .. i .. " must be a string, got " .. type(name), "include")
      end
      list[i] = name
    end
  else
    return fail("include must be a list of names, got " .. type(include), "include")
  end
  local set = {}
  if valid then
    for _, name in ipairs(valid) do set[name] = true end
  end
  for _, name in ipairs(list) do
    if name == "" or name:find("[,%s%c]") then
      return fail("include: invalid name " .. format("%q", name), "include")
    end
    if valid and not set[name] then
      return fail("include: unknown name '" .. name .. "'; valid names: " .. listing(valid), "include")
    end
  end
  return list
end

-- The CLI's checks, in the nil, message form -------------------------------------------------------
-- clinch.new and client:request raise these messages at the caller's line (they are programming
-- mistakes there); the CLI, whose user typed the values, checks them here first and reports the same
-- message as a usage error. spec/validate_spec.lua holds both to the same answers.

local OPTION_TYPES = {
  string = { "base_url", "region", "api_version", "proxy", "ca_file", "ca_path", "user_agent", "shared_limit" },
  number = { "timeout", "connect_timeout", "retries", "max_retry_wait", "max_response_bytes", "max_concurrency",
             "backoff_base", "backoff_cap", "write_reuse_idle", "max_rate" },
  ["function"] = { "sleep", "logger", "random" },
  boolean = { "verify_tls", "retry_unsafe" },
}
local POSITIVE = { "timeout", "connect_timeout", "max_response_bytes", "max_concurrency", "max_rate" }
local SIGNING = { digest = { "sha1", "sha256" }, content_hash = { "none", "md5", "sha256" },
                  date_header = { "Date", "X-HMAC-Date", "both" } }
local SIGNING_NAMES = { "content_hash", "date_header", "digest", "with_method" }

-- Every option clinch.new takes: a misspelt one is a mistake to report, not a setting to drop.
local OPTION_NAMES = { "key", "secret", "secret_file", "profile", "signing", "transport" }
for _, names in pairs(OPTION_TYPES) do
  for _, name in ipairs(names) do OPTION_NAMES[#OPTION_NAMES + 1] = name end
end
sort(OPTION_NAMES)

-- nil, or the message for the first name of `t` that `names` does not list (`what`: how to call them).
local function unknown_name(t, names, what)
  for name in pairs(t) do
    local known = false
    for _, n in ipairs(names) do known = known or n == name end
    if not known then
      return "clinch.new: unknown " .. what .. " '" .. tostring(name) .. "' (" .. what .. "s: " .. concat(names, ", ")
        .. ")"
    end
  end
  return nil
end

local function option_types(opts)
  for _, want in ipairs { "string", "number", "function", "boolean" } do
    for _, name in ipairs(OPTION_TYPES[want]) do
      local v = opts[name]
      if v ~= nil and type(v) ~= want then return nil, "clinch.new: option '" .. name .. "' must be a " .. want end
      if want == "number" and v ~= nil and (v ~= v or v == HUGE or v == -HUGE) then
        return nil, "clinch.new: option '" .. name .. "' must be a finite number"
      end
      if want == "number" and v ~= nil and v < 0 then
        return nil, "clinch.new: option '" .. name .. "' must not be negative"
      end
    end
  end
  for _, name in ipairs(POSITIVE) do
    if opts[name] ~= nil and opts[name] <= 0 then return nil, "clinch.new: option '" .. name .. "' must be positive" end
  end
  if opts.write_reuse_idle ~= nil and opts.write_reuse_idle % 1 ~= 0 then
    return nil, "clinch.new: option 'write_reuse_idle' must be a whole number of seconds"
  end
  return true
end

local function signing_options(signing)
  if signing == nil then return true end
  if type(signing) ~= "table" then return nil, "clinch.new: option 'signing' must be a table" end
  local unknown = unknown_name(signing, SIGNING_NAMES, "signing option")
  if unknown then return nil, unknown end
  for _, name in ipairs { "digest", "content_hash", "date_header" } do
    local v, allowed = signing[name], SIGNING[name]
    local ok = v == nil
    for _, a in ipairs(allowed) do ok = ok or v == a end
    if not ok then
      return nil, "clinch.new: signing option '" .. name .. "' must be one of " .. concat(allowed, ", ")
    end
  end
  if signing.with_method ~= nil and type(signing.with_method) ~= "boolean" then
    return nil, "clinch.new: signing option 'with_method' must be a boolean"
  end
  return true
end

local function base_url_option(opts)
  local url = opts.base_url
  if url == nil then
    local region = opts.region or "us"
    url = require("clinch.client").REGIONS[region]
    if not url then return nil, "clinch.new: unknown region '" .. tostring(region) .. "' (us, eu, au)" end
    if opts.api_version then url = url:gsub("/v1$", "/" .. opts.api_version) end
  end
  local shown = url:gsub("^(%a[%w+.-]*://)[^/?#]*@", "%1[user info]@")
  if shown ~= url then return nil, "clinch.new: base_url must not hold user info (user:password@): " .. shown end
  if not url:match("^https?://[^/?#]+/?[^?#]*$") then
    return nil, "clinch.new: base_url must be an http(s) URL without query: " .. url
  end
  return url
end

--- The checks clinch.new makes of its options -> the base URL they name, or nil and the message it
-- raises.
function _M.client_options(opts)
  if type(opts) ~= "table" then return nil, "clinch.new expects a table of options" end
  local unknown = unknown_name(opts, OPTION_NAMES, "option")
  if unknown then return nil, unknown end
  if type(opts.key) ~= "string" or opts.key == "" then
    return nil, "clinch.new: 'key' (the API access id) is required"
  end
  -- The Authorization header carries "key:signature": visible ASCII without ':' (as core.sign checks).
  if opts.key:find("[^!-9;-~]") then return nil, "clinch.new: 'key' must be visible ASCII without ':' or spaces" end
  if type(opts.secret) ~= "string" or opts.secret == "" then return nil, "clinch.new: 'secret' is required" end
  local ok, why = option_types(opts)
  if not ok then return nil, why end
  -- It goes on the wire as a header: a control character could end it and add headers of its own.
  if opts.user_agent ~= nil and not require("clinch.defaults").is_header_value(opts.user_agent) then
    return nil, "clinch.new: option 'user_agent' must not hold CR, LF, NUL or other control characters"
  end
  ok, why = signing_options(opts.signing)
  if not ok then return nil, why end
  return base_url_option(opts)
end

-- Characters allowed in a request path given by the caller (RFC 3986 pchar, "/", "?", "%").
local PATH_OK = "^/[%w%-%._~!%$&'%(%)%*%+,;=:@/%%]*$"
local QUERY_OK = "^[%w%-%._~!%$&'%(%)%*%+,;=:@/%?%%]*$"

--- The checks client:request makes of a method and a path (and whether a query table comes too)
-- -> true, or nil and the message it raises.
function _M.request_target(method, path, with_query)
  if type(method) ~= "string" or not method:match("^%u+$") then
    return nil, "request: method must be an upper-case HTTP method such as 'GET'"
  end
  if type(path) ~= "string" then return nil, "request: path must be a string" end
  local p, q = path:match("^([^?]*)%??(.*)$")
  if not p:match(PATH_OK) or not q:match(QUERY_OK) then
    return nil, "request: path must start with '/' and be percent-encoded (use clinch.uri.segment for ids): " .. path
  end
  if with_query and path:find("?", 1, true) then
    return nil, "request: give the query in the path or in opts.query, not both"
  end
  return true
end

--- True when `t` has no entries.
function _M.empty(t)
  return next(t) == nil
end

return _M
