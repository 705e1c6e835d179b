--- For scripts run from a source checkout (bin/, examples/): puts the checkout's Lua modules (the
-- library's lua/ and the mock's mock/lua/) and the C core built for this interpreter first on the
-- search paths, unless LUA_PATH/LUA_CPATH are set (tests and installs set them). Scripts load it with
-- loadfile before anything can be required:
--   local dir = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
--   local use = loadfile(dir .. "/../scripts/checkout.lua"); if use then use()(dir .. "/..") end
-- It is never installed: installed copies find no such file and use the standard paths.
local os, package = os, package

return function(root)
  local version = _VERSION:match("%d+%.%d+")
  local suffix = "_" .. version:gsub("%.", "_")
  if not (os.getenv("LUA_PATH") or os.getenv("LUA_PATH" .. suffix)) then
    package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. root .. "/mock/lua/?.lua;"
      .. root .. "/mock/lua/?/init.lua;" .. package.path
  end
  if not (os.getenv("LUA_CPATH") or os.getenv("LUA_CPATH" .. suffix)) then
    package.cpath = root .. "/build/" .. version .. "/?.so;" .. package.cpath
  end
end
