--- Tab completion for `clinch repl`: the names that can end the word before the cursor, found in the
-- live values of the session (its globals, a table's fields, the methods its metatable's __index
-- tables give), never by calling anything: `client.cand` -> client.candidates, `client.candidates:`
-- -> its methods, `cand.` -> the candidate's attributes and relationships.
local type, next, ipairs, getmetatable, rawget, pcall = type, next, ipairs, getmetatable, rawget, pcall
local sort = table.sort

local _M = {}

local KEYWORDS = { "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if",
                   "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while" }

local function is_name(s) return s:match("^[%a_][%w_]*$") ~= nil end

local function index(v, k) return v[k] end

-- The value `chain` ("client.candidates") names in env, or nil. Indexing may run an __index function
-- (the client's collections are plain fields, but a user's object may compute fields): an error there
-- is no completion, not a failure.
local function resolve(env, chain)
  local v = env
  for name in chain:gmatch("[^.]+") do
    if not is_name(name) then return nil end
    local ok, x = pcall(index, v, name)
    if not ok or x == nil then return nil end
    v = x
  end
  return v
end

-- Adds the string keys of v (and of the tables its metatables' __index lead to, as a method lookup
-- would go) to `into`; with `methods`, only those that hold functions. next, not pairs: no __pairs runs.
local function collect(v, into, methods)
  local seen = {}
  for _ = 1, 16 do
    if v == nil or seen[v] then return end
    seen[v] = true
    if type(v) == "table" then
      for k, x in next, v do
        if type(k) == "string" and is_name(k) and (not methods or type(x) == "function") then into[k] = true end
      end
    end
    local mt = getmetatable(v)
    if type(mt) ~= "table" then return end
    v = rawget(mt, "__index")
    if type(v) ~= "table" then return end
  end
end

--- The completions of `word` (the text readline would replace: it breaks words at spaces, brackets
-- and operators other than `.` and `:`) in the session environment `env` -> a sorted list of whole
-- words. Names starting with `_` (internal fields) are offered only when the word's last part does.
function _M.matches(env, word)
  local names, head, partial = {}, nil, nil -- luacheck: ignore 311
  local before, chain, sep, last = word:match("^(.-)([%a_][%w_%.]*)([%.:])([%w_]*)$")
  if chain then
    local v = resolve(env, chain)
    if v == nil then return {} end
    collect(v, names, sep == ":")
    head, partial = before .. chain .. sep, last
  else
    head, partial = word:match("^(.-)([%w_]*)$")
    -- After a `.` or `:` that did not resolve (`x[1].na`), or inside a number, nothing is known.
    if head:match("[%w_%.:]$") or partial:match("^%d") then return {} end
    collect(env, names)
    for _, k in ipairs(KEYWORDS) do names[k] = true end
  end
  local hidden = partial:sub(1, 1) ~= "_"
  local list = {}
  for name in next, names do
    if name:sub(1, #partial) == partial and not (hidden and name:sub(1, 1) == "_") then
      list[#list + 1] = head .. name
    end
  end
  sort(list)
  return list
end

return _M
