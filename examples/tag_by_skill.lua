#!/usr/bin/env lua5.4
--- Tags every candidate who lists a skill: walks all candidates page by page (the next page is fetched
-- while this one is processed) and adds the tag where it is missing, so a second run changes nothing.
--
--   lua5.4 examples/tag_by_skill.lua [SKILL [TAG]]    default: sql "Skill: SQL"
-- Configuration: as the other examples (environment, or a mock API started for the run).
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
do -- From a checkout, use its modules and C core (see scripts/checkout.lua).
  local use = loadfile(here .. "/../scripts/checkout.lua")
  if use then use()(here .. "/..") end
end
-- The examples' harness (examples/support.lua): a client from the environment, or a mock API.
local examples = dofile(here .. "/support.lua")

local function has(list, wanted)
  for _, v in ipairs(list or {}) do
    if type(v) == "string" and v:lower() == wanted:lower() then return true end
  end
  return false
end

examples.run(function(client, ex)
  local skill = arg[1] or "sql"
  local tag = arg[2] or ("Skill: " .. skill:upper())
  local seen, matching, tagged = 0, 0, 0
  -- each() raises the error object if a page fails after the client's retries.
  for cand in client.candidates:each { per_page = 100, prefetch = true } do
    seen = seen + 1
    if has(cand.skills, skill) then
      matching = matching + 1
      if not has(cand.tags, tag) then
        ex.check(cand:add_tag(tag))
        tagged = tagged + 1
        ex.say(("tagged %s with %q"):format(tostring(cand), tag))
      end
    end
  end
  ex.say(("%d of %d candidates list the skill %q: %d newly tagged %q, %d already were"):format(
    matching, seen, skill, tagged, tag, matching - tagged))
end)
