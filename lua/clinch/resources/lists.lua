--- The lists resource (`client.lists`, `clinch lists list|get`) and its List objects: the List
-- operations the contract's tags name without describing them.
--
--    for list in client.lists:each() do print(list) end   -- list 4320a7... Talent Community
--    local list = assert(client.lists:get(list_id))
--    assert(cand.static_lists[1]:reload())                 -- a candidate's static lists are List objects
--
-- The contract gives lists no path, no attributes and no include names: the path is the project's
-- choice, one list's path takes the contract's listId parameter, and the type is the one its Candidate
-- `static_lists` relationship example names (company_lists).
-- @module clinch.resources.lists
local contract = require "clinch.contract"
local resource = require "clinch.resource"

return resource.define {
  name = "lists", label = "list", path = "/lists",
  item_path = "/lists/{" .. contract.path_parameters.listId.name .. "}",
  type = contract.schemas.Candidate.relationships.static_lists.type,
  -- The CLI's default csv and table columns: the contract describes no List attributes, so these are
  -- what the mock serves (spec/lists_spec.lua checks them against it).
  columns = { "id", "name", "list_type", "updated_at" },
}
