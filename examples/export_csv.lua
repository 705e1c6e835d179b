#!/usr/bin/env lua5.4
--- Exports the candidates updated since a date to a CSV file (RFC 4180), with a progress line on
-- stderr when it is a terminal.
--
--   lua5.4 examples/export_csv.lua [SINCE [FILE]]     SINCE: YYYY-MM-DD (default: 180 days ago)
--                                                     FILE: default candidates.csv
-- Configuration: CLINCH_API_KEY, CLINCH_API_SECRET, CLINCH_REGION or CLINCH_BASE_URL; without
-- CLINCH_BASE_URL/CLINCH_REGION it runs against a mock API started for the run.
do -- From a checkout, use its modules and C core (see lua/clinch/checkout.lua).
  local dir = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
  local use = loadfile(dir .. "/../lua/clinch/checkout.lua")
  if use then use()(dir .. "/..") end
end

local csv = require "clinch.cli.csv"
local progress = require "clinch.cli.progress"

local COLUMNS = { "id", "email", "first_name", "last_name", "phone_number", "tags", "updated_at" }

require("clinch.cli.examples").run(function(client, ex)
  local since = arg[1] or os.date("!%Y-%m-%d", os.time() - 180 * 86400)
  local path = arg[2] or "candidates.csv"
  local f = assert(io.open(path, "wb"))
  f:write(csv.header(COLUMNS))

  local prog = progress.new { enabled = ex.stderr_tty(), label = "candidates" }
  local page = ex.check(client.candidates:list {
    per_page = 50, filter = { updated_at = { gte = since } },
  })
  local count = 0
  while page do
    for _, cand in ipairs(page) do
      f:write(csv.record({
        cand.id, cand.email, cand.first_name, cand.last_name, cand.phone_number,
        table.concat(cand.tags or {}, "; "), cand.updated_at and tostring(cand.updated_at),
      }, #COLUMNS))
      count = count + 1
    end
    prog:page(#page, page.meta and page.meta.total_count)
    local err
    page, err = page:next() -- nil after the last page; nil, err when a page fails
    if err then error(err) end
  end
  prog:finish()
  f:close()
  ex.say(("exported %d candidates updated since %s to %s"):format(count, since, path))
end, { candidates = 120 })
