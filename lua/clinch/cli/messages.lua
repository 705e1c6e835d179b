--- The library's messages in the CLI's terms. clinch.new, client:request and the collection methods
-- name themselves and their Lua options ("clinch.new: option 'timeout' must be positive", "add_tag: tag
-- name must not be empty", "include: unknown name"), which is right for a script's author; a user of
-- the command line typed flags and environment variables, so the CLI says those instead (`--timeout
-- must be positive`) and never shows an internal function name. Messages of the API are left alone.
local ipairs, pairs, type, require = ipairs, pairs, type, require
local gsub = string.gsub

local _M = {}

-- Rewrites of known messages, in order (Lua patterns, replacements). The first ones name what sets
-- each of clinch.new's options from the command line.
_M.REWRITES = {
  { "^clinch%.new: 'key' %(the API access id%) is required", "no API key: set CLINCH_API_KEY or use --key KEY" },
  { "^clinch%.new: 'key' ", "the API key (--key or CLINCH_API_KEY) " },
  { "^clinch%.new: 'secret' is required", "no API secret: set CLINCH_API_SECRET or use --secret-file FILE" },
  { "^clinch%.new: unknown region '([^']*)' %(([^)]*)%)", "unknown region '%1' (--region or CLINCH_REGION: %2)" },
  { "^clinch%.new: base_url ", "the base URL (--base-url or CLINCH_BASE_URL) " },
  { "^clinch%.new: option '(timeout)' ", "--%1 " },
  { "^clinch%.new: option '(retries)' ", "--%1 " },
  { "^clinch%.new: option '(max_concurrency)' ", "--concurrency " },
  { "^clinch%.new: ", "" },
  { "^request: path must start with '/' and be percent%-encoded %(use clinch%.uri%.segment for ids%)",
    "PATH must start with '/' and be percent-encoded" },
  { "^request: give the query in the path or in opts%.query, not both",
    "give the query in PATH or with --query, not both" },
  { "^request: method ", "METHOD " },
  { "^request: path ", "PATH " },
  { "^include: ", "--include: " },
  { "^filter%[updated_at%]%[gte%]: ", "--updated-since: " },
  { "^filter%[updated_at%]%[lt%]: ", "--updated-before: " },
  { "^filter%[email%]%[eq%]: ", "--email: " },
  { ", an epoch number or a date table", "" }, -- forms only a Lua caller can give
  { " %(allow_unknown = true sends it anyway%)", "" }, -- an option only a Lua caller can give
}

-- The names of the library's collection methods (clinch.resource's and each registered resource's),
-- whose "name: " opens their messages: taken from the methods themselves, not from a copy.
local method_names
local function methods()
  if method_names then return method_names end
  method_names = {}
  local tables = { require("clinch.resource").Collection }
  for _, def in ipairs(require("clinch.registry").list()) do
    tables[#tables + 1] = def.Collection
    tables[#tables + 1] = def.Object
  end
  for _, t in ipairs(tables) do
    for name, v in pairs(t or {}) do
      if type(name) == "string" and type(v) == "function" then method_names[name] = true end
    end
  end
  return method_names
end

--- `message` in the CLI's terms (see the module comment).
function _M.for_cli(message)
  if type(message) ~= "string" then return message end
  for _, r in ipairs(_M.REWRITES) do message = gsub(message, r[1], r[2]) end
  local name, rest = message:match("^([%a_][%w_]*): (.*)$")
  if name and methods()[name] then message = rest end
  return message
end

return _M
