-- clinch.check: programming mistakes raise at the user's line, however deep in lua-clinch they are
-- found (nested helpers, tail calls), and runtime failures never raise.
local clinch = require "clinch"
local uri = require "clinch.uri"
local unpack = table.unpack or unpack

-- Calls f(...) under pcall from this line and returns the message and the line it should name.
local function blamed(f, ...)
  local line = debug.getinfo(1, "l").currentline + 1
  local ok, err = pcall(f, ...)
  return (not ok) and tostring(err) or nil, line
end

describe("clinch.check", function()
  local client = clinch.new { key = "k", secret = "s", base_url = "http://127.0.0.1:9/v1" }

  it("blames the caller's line for mistakes found deep in the library", function()
    for _, case in ipairs {
      { uri.build, "/x", { filter = { a = { b = function() end } } } }, -- found three helpers down
      { uri.build, "/x", { a = 0 / 0 } },
      { uri.segment, "" },
      { client.request, client, "get", "/x" },
      { client.request, client, "GET", "/x", { query = { a = { [true] = 1 } } } }, -- client -> uri
      { client.request_many, client, { { "GET", "/x" }, 7 } },
      { clinch.new, { key = "k", secret = "s", region = "mars" } },
    } do
      local err, line = blamed(unpack(case))
      assert.is_string(err)
      assert.matches("check_spec%.lua:" .. line .. ": ", err)
    end
  end)

  it("blames the caller through a tail call", function()
    local function wrapper(v) return uri.segment(v) end -- a tail call: wrapper's frame is gone
    local err, line = blamed(wrapper, {})
    assert.matches("check_spec%.lua:" .. line .. ": uri.segment: expected a string", err)
  end)

  it("raises nothing for runtime failures", function()
    local res, err = client:request("GET", "/x", { retries = 0 })
    assert.is_nil(res)
    assert.equal("network", err.kind)
  end)
end)
