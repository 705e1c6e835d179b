--- lua-clinch: the Lua client for the PageUp Recruitment Marketing (Clinch) API.
--   local clinch = require "clinch"
--   local client = clinch.new { key = ..., secret = ..., region = "us" }
--   for cand in client.candidates:each { per_page = 100 } do print(cand) end
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
