rockspec_format = "3.0"
package = "clinch-mock"
version = "0.1.0-1"
source = {
  url = "git+https://github.com/lua-clinch/lua-clinch.git",
  tag = "v0.1.0",
}
description = {
  summary = "A mock of the PageUp Recruitment Marketing (Clinch Talent) API, for tests",
  detailed = [[
bin/clinch-mock and require("clinch.mock"): a stand-in for the Recruitment Marketing API on seeded
data, which verifies every request's signature and has faults for tests (latency, 429, resets,
trickling bodies, pagination and churn faults), as stripe-mock does for Stripe.
]],
  homepage = "https://github.com/lua-clinch/lua-clinch",
  license = "MIT",
}
dependencies = {
  "lua >= 5.1",
  "clinch", -- clinch.core.verify checks every request's signature
  "lua-cjson >= 2.1",
  "luasocket >= 3.0",
}
-- Nothing to build: LuaRocks installs the files listed under install (the builtin backend would also
-- copy the checkout's lua/, the library's own files, into this rock).
build = {
  type = "none",
  install = {
    lua = {
    ["clinch.mock"] = "mock/lua/clinch/mock/init.lua",
    ["clinch.mock.api"] = "mock/lua/clinch/mock/api.lua",
    ["clinch.mock.control"] = "mock/lua/clinch/mock/control.lua",
    ["clinch.mock.faults"] = "mock/lua/clinch/mock/faults.lua",
    ["clinch.mock.http"] = "mock/lua/clinch/mock/http.lua",
    ["clinch.mock.json"] = "mock/lua/clinch/mock/json.lua",
    ["clinch.mock.process"] = "mock/lua/clinch/mock/process.lua",
    ["clinch.mock.random"] = "mock/lua/clinch/mock/random.lua",
    ["clinch.mock.render"] = "mock/lua/clinch/mock/render.lua",
    ["clinch.mock.server"] = "mock/lua/clinch/mock/server.lua",
    ["clinch.mock.store"] = "mock/lua/clinch/mock/store.lua",
    ["clinch.mock.time"] = "mock/lua/clinch/mock/time.lua",
    },
    bin = {
      ["clinch-mock"] = "bin/clinch-mock",
    },
  },
}
