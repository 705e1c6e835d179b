--- lua-clinch: the Lua client for the PageUp Recruitment Marketing (Clinch) API.
--    local clinch = require "clinch"
--    local client = clinch.new { key = ..., secret = ..., region = "us" }
--    for cand in client.candidates:each { per_page = 100 } do print(cand) end
--
-- Its fields: `new` (@{clinch.client.new}: creates a client), `errors` (@{clinch.errors}), `uri`
-- (@{clinch.uri}), `REGIONS` (region name -> the API's base URL), `core` (the C core: signing,
-- transports, decoding; README "Signing") and `_VERSION`. The methods of a client, its collections and
-- their objects are in @{clinch.client}, @{clinch.resource} and @{clinch.resources.candidates}.
-- @module clinch
local core = require "clinch.core"
local client = require "clinch.client"

local _M = {
  _VERSION = require("clinch.defaults").VERSION,
  new = client.new,
  errors = require "clinch.errors",
  uri = require "clinch.uri",
  REGIONS = client.REGIONS,
  core = core,
}

return _M
