--- A small deterministic PRNG (Park-Miller "minimal standard", multiplier 48271) so that a seed gives
-- the same data on Lua 5.4 and LuaJIT: math.random differs between them, and every step here stays
-- exact in a double (48271 * 2^31 < 2^53).
local floor, setmetatable, string_format = math.floor, setmetatable, string.format

local _M = {}
local Random = {}
Random.__index = Random

local MOD = 2147483647

--- A generator seeded with any number.
function _M.new(seed)
  local s = floor(seed or 1) % (MOD - 1)
  if s < 0 then s = s + MOD - 1 end
  local r = setmetatable({ state = s + 1 }, Random)
  -- A few warm-up steps spread nearby seeds apart.
  for _ = 1, 8 do r:next() end
  return r
end

--- The next raw value in [1, 2^31 - 2].
function Random:next()
  local s = (self.state * 48271) % MOD
  self.state = s
  return s
end

--- An integer in [lo, hi] (or [1, lo] with one argument).
function Random:int(lo, hi)
  if not hi then lo, hi = 1, lo end
  return lo + self:next() % (hi - lo + 1)
end

--- True with probability p.
function Random:chance(p)
  return self:next() / MOD < p
end

--- A random element of a list.
function Random:pick(list)
  return list[self:int(#list)]
end

--- `n` distinct elements of a list, in random order.
function Random:sample(list, n)
  local idx = {}
  for i = 1, #list do idx[i] = i end
  local out = {}
  for i = 1, n < #list and n or #list do
    local j = self:int(i, #idx)
    idx[i], idx[j] = idx[j], idx[i]
    out[i] = list[idx[i]]
  end
  return out
end

--- A 32-character lowercase hex id, like the API's.
function Random:hex_id()
  local parts = {}
  for i = 1, 8 do parts[i] = string_format("%04x", floor(self:next() / 32768) % 65536) end
  return parts[1] .. parts[2] .. parts[3] .. parts[4] .. parts[5] .. parts[6] .. parts[7] .. parts[8]
end

return _M
