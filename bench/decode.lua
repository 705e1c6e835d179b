--- Decode benchmark (not a test): a 100-candidate compound page (bench/fixture.lua) decoded by
--   A. bare lua-cjson:            cjson.decode(text)
--   B. lua-clinch:                jsonapi.decode(text)  (what users call: cjson, then the linker jsonapi
--                                 uses on this VM, raw map included: the C core's core.decode on PUC Lua,
--                                 the Lua linker clinch.link on LuaJIT)
--   C. cjson + a pure-Lua linker: bench/lua_linker.lua, the obvious Lua code
--   D. the other linker, for the record: the one jsonapi does not use on this VM, raw map included
--   and, to show the floor of any linker that runs after cjson, cjson.decode followed by a C walk that
--   visits every value and does nothing (bench/walk_floor.c, built by `make bench`).
-- Each round times every contender back to back (order rotated, a full GC before each), so the
-- per-round ratios are measured under the same machine conditions; the printed ratios are the medians
-- over the rounds, the times the best and the median.
-- Targets: Lua 5.4: B/A <= 1.2 and C/B > 1.0; LuaJIT: C/B >= 1.0.
--
-- Run through `make bench` (scripts/bench.sh sets the paths), or from the repository root:
--   LUA_PATH='lua/?.lua;bench/?.lua;;' LUA_CPATH='build/5.4/?.so;;' lua5.4 bench/decode.lua [rounds] [candidates]
local cjson = require "cjson"
local jsonapi = require "clinch.jsonapi"
local core = require "clinch.core"
local link = require "clinch.link"
local fixture = require "fixture"
local lua_linker = require "lua_linker"
local has_walk, walk_floor = pcall(require, "walk_floor")

local clock, format, sort = os.clock, string.format, table.sort

local ROUNDS = tonumber(arg and arg[1]) or 15
local CANDIDATES = tonumber(arg and arg[2]) or 100
local MIN_TIME = 0.1 -- seconds per measurement

local text = fixture.page(CANDIDATES)

-- Both linkers must agree on the shape before their speed means anything.
local function same(a, b, seen, path)
  if type(a) ~= type(b) then error(path .. ": " .. type(a) .. " vs " .. type(b)) end
  if type(a) ~= "table" then
    if a ~= b or (math.type and math.type(a) ~= math.type(b)) then
      error(path .. ": " .. tostring(a) .. " vs " .. tostring(b))
    end
    return
  end
  if seen[a] then
    if seen[a] ~= b then error(path .. ": identity differs") end
    return
  end
  seen[a] = b
  if (getmetatable(a) == nil) ~= (getmetatable(b) == nil) then error(path .. ": metatable differs") end
  for k, v in pairs(a) do same(v, rawget(b, k), seen, path .. "." .. tostring(k)) end
  for k in pairs(b) do
    if rawget(a, k) == nil then error(path .. "." .. tostring(k) .. ": missing on the left") end
  end
end

-- In a function, so that the two documents are garbage afterwards (a dead local of the main chunk
-- would stay on its stack and inflate every GC cycle of the measurements).
local function check_same_shape()
  local c, l = assert(jsonapi.decode(text)), lua_linker.decode(text)
  same(c.data, l.data, {}, "data")
  same(c.included, l.included, {}, "included")
  same(c.meta, l.meta, {}, "meta")
end
check_same_shape()

local IS_JIT = type(rawget(_G, "jit")) == "table"
local PATH = jsonapi.linker == "lua" and "the Lua linker (clinch.link)" or "the C core (core.decode)"
-- the other linker, with a raw map as jsonapi.decode passes one
local other_raw = setmetatable({}, { __mode = "k" })
local other_name = jsonapi.linker == "lua" and "core.decode (C linker)" or "link.decode (Lua linker)"
local other_decode = jsonapi.linker == "lua" and core.decode or link.decode
local contenders = {
  { name = "cjson.decode", fn = cjson.decode },
  { name = "jsonapi.decode", fn = jsonapi.decode },
  { name = "cjson + Lua linker", fn = lua_linker.decode },
  { name = other_name, fn = function(s) return other_decode(s, other_raw) end },
}
local cjson_decode = cjson.decode
if has_walk then
  local walk = walk_floor.walk
  contenders[#contenders + 1] = { name = "cjson + bare C walk", fn = function(s) walk(cjson_decode(s)) end }
end

-- Iterations so that one measurement lasts about MIN_TIME.
local iterations
do
  local n, t0 = 0, clock()
  repeat
    lua_linker.decode(text)
    n = n + 1
  until clock() - t0 > MIN_TIME
  iterations = n
end

local function measure(fn)
  collectgarbage("collect")
  local t0 = clock()
  for _ = 1, iterations do fn(text) end
  return (clock() - t0) / iterations
end

for _, c in ipairs(contenders) do measure(c.fn) end -- warm up (and let the JIT compile)

local times, ratio_ba, ratio_cb, ratio_db, ratio_wa = {}, {}, {}, {}, {}
for _, c in ipairs(contenders) do times[c.name] = {} end
for round = 1, ROUNDS do
  local t = {}
  for k = 0, #contenders - 1 do
    local c = contenders[(round + k - 1) % #contenders + 1]
    t[c.name] = measure(c.fn)
    local list = times[c.name]
    list[#list + 1] = t[c.name]
  end
  ratio_ba[round] = t["jsonapi.decode"] / t["cjson.decode"]
  ratio_cb[round] = t["cjson + Lua linker"] / t["jsonapi.decode"]
  ratio_db[round] = t[other_name] / t["jsonapi.decode"]
  if has_walk then ratio_wa[round] = t["cjson + bare C walk"] / t["cjson.decode"] end
end

local function median(list)
  local s = {}
  for i, v in ipairs(list) do s[i] = v end
  sort(s)
  local n = #s
  return n % 2 == 1 and s[(n + 1) / 2] or (s[n / 2] + s[n / 2 + 1]) / 2
end

local function best(list)
  local m = math.huge
  for _, v in ipairs(list) do m = math.min(m, v) end
  return m
end

local function count()
  local doc = jsonapi.decode(text)
  return #doc.data, #doc.included
end
local ndata, nincluded = count()
print(format("lua-clinch decode benchmark: %s, %d candidates, %d included, %d bytes, %d rounds x %d iterations",
  rawget(_G, "jit") and jit.version or _VERSION, ndata, nincluded, #text, ROUNDS, iterations))
for _, c in ipairs(contenders) do
  print(format("  %-26s best %7.3f ms   median %7.3f ms", c.name, best(times[c.name]) * 1e3,
    median(times[c.name]) * 1e3))
end
print("jsonapi.decode links with " .. PATH .. " on this VM")
local ba, cb, db = median(ratio_ba), median(ratio_cb), median(ratio_db)
local function range(list)
  local lo, hi = math.huge, -math.huge
  for _, v in ipairs(list) do lo, hi = math.min(lo, v), math.max(hi, v) end
  return format("[%.2f-%.2f]", lo, hi)
end
if IS_JIT then
  print(format("decode+link / cjson.decode = %.3fx %s (no target on LuaJIT)", ba, range(ratio_ba)))
  print(format("cjson+Lua linker / jsonapi.decode = %.3fx %s (target >= 1.0x)%s", cb, range(ratio_cb),
    cb >= 1.0 and "" or "  MISSED"))
else
  print(format("decode+link / cjson.decode = %.3fx %s (target <= 1.2x)%s", ba, range(ratio_ba),
    ba <= 1.2 and "" or "  MISSED"))
  print(format("cjson+Lua linker / jsonapi.decode = %.3fx %s (target > 1.0x)%s", cb, range(ratio_cb),
    cb > 1.0 and "" or "  MISSED"))
end
print(format("%s / jsonapi.decode = %.3fx %s (why jsonapi uses %s here)", other_name, db, range(ratio_db), PATH))
-- What merely visiting every value after cjson costs through the Lua C API: the floor of a C linker.
if has_walk then
  print(format("floor of a C linker after cjson = (cjson + bare C walk) / cjson.decode = %.3fx", median(ratio_wa)))
end

-- For bench/run.lua: every round's ratio, so that it can report medians and ranges.
local function csv_of(list)
  local out = {}
  for i, v in ipairs(list) do out[i] = format("%.4f", v) end
  return table.concat(out, ",")
end
print("RESULT decode_vs_cjson " .. csv_of(ratio_ba))
print("RESULT lualinker_vs_decode " .. csv_of(ratio_cb))
print("RESULT other_vs_decode " .. csv_of(ratio_db))
print("PATH " .. jsonapi.linker)
