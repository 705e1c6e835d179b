--- Tables made at their final size: `new(narray, nhash)` is LuaJIT's table.new where there is one (the
-- request path's tables are then filled without a rehash, which LuaJIT inside nginx measured as a fifth
-- of the client's table work), and a plain empty table elsewhere (Lua 5.4 has no such call).
-- @module clinch.tables
local pcall, require = pcall, require

local _M = {}

local ok, new = pcall(require, "table.new")
_M.new = ok and new or function() return {} end

return _M
