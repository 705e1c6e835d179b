#!/usr/bin/env lua5.4
--- Exports the candidates updated since a date to a CSV file (RFC 4180), with a progress line on
-- stderr when it is a terminal.
--
--   lua5.4 examples/export_csv.lua [SINCE [FILE]]     SINCE: YYYY-MM-DD (default: 180 days ago)
--                                                     FILE: default candidates.csv
-- Configuration: as clinch.new() and the CLI take it (CLINCH_API_KEY, CLINCH_API_SECRET, CLINCH_REGION or
-- CLINCH_BASE_URL, a profile); with nothing configured at all it runs against a mock API started for the run.
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
do -- From a checkout, use its modules and C core (see scripts/checkout.lua).
  local use = loadfile(here .. "/../scripts/checkout.lua")
  if use then use()(here .. "/..") end
end
-- The examples' harness (examples/support.lua): a client from the environment, or a mock API.
local examples = dofile(here .. "/support.lua")

-- One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break, quotes doubled.
local function field(v)
  v = v == nil and "" or tostring(v)
  if v:find('[,"\r\n]') then v = '"' .. v:gsub('"', '""') .. '"' end
  return v
end

-- One CSV record; values.n counts trailing nils (an absent phone number is an empty field).
local function row(values)
  local out = {}
  for i = 1, values.n or #values do out[i] = field(values[i]) end
  return table.concat(out, ",") .. "\r\n"
end

local COLUMNS = { "id", "email", "first_name", "last_name", "phone_number", "tags", "updated_at" }

examples.run(function(client, ex)
  local since = arg[1] or os.date("!%Y-%m-%d", os.time() - 180 * 86400)
  local path = arg[2] or "candidates.csv"
  local f, ferr = io.open(path, "wb")
  if not f then error("cannot write " .. tostring(ferr), 0) end
  f:write(row(COLUMNS))

  local prog = ex.progress("candidates")
  local page = ex.check(client.candidates:list {
    per_page = 50, filter = { updated_at = { gte = since } },
  })
  local count = 0
  while page do
    for _, cand in ipairs(page) do
      f:write(row {
        n = #COLUMNS, cand.id, cand.email, cand.first_name, cand.last_name, cand.phone_number,
        table.concat(cand.tags or {}, "; "), cand.updated_at and tostring(cand.updated_at),
      })
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
