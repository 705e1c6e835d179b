--- `--columns` / `--fields`: the fields a command shows, checked against the contract. A name is an
-- attribute or relationship of the resource's schema (or `id`, `type`), or a dotted path into an
-- included relationship, `REL.FIELD` (`notes.content`, `jobs.title`): REL must be a relationship the
-- API can include, and FIELD, when the contract describes the related type, one of its attributes.
-- A dotted path includes its relationship by itself (the CLI adds REL to --include when no include
-- name covers it). For a type the contract does not describe (jobs, lists, tags), names are not
-- checked. How the values are read and shown: clinch.cli.output (lookup, cells, project).
local ipairs, pairs, require, type = ipairs, pairs, require, type
local concat, sort = table.concat, table.sort
local registry = require "clinch.registry"

local _M = {}

--- The names the user gave (--columns, or --fields, its other name), as a list; nil when neither.
function _M.chosen(opts)
  local text = opts.columns or opts.fields
  if not text then return nil end
  local list = {}
  for name in text:gmatch("[^,%s]+") do list[#list + 1] = name end
  return list
end

-- The relationships of type `t` the API can include (the first part of an include name of its
-- definition, and a relationship of its schema): a set, or nil when the contract says nothing.
local function includable(def)
  local rels = registry.relationships(def.type)
  if not rels or not def.includes then return nil end
  local set = {}
  for _, name in ipairs(def.includes) do
    local head = name:match("^[^.]+")
    if rels[head] then set[head] = true end
  end
  return set
end

-- The type a relationship of `t` points at, when the contract says (or nil).
local function related_type(t, rel)
  local def = registry.of_type(t)
  local schema = def and def.schema and require("clinch.contract").schemas[def.schema]
  local r = schema and schema.relationships and schema.relationships[rel]
  return type(r) == "table" and r.type or nil
end

local function sorted_keys(set)
  local list = {}
  for k in pairs(set) do list[#list + 1] = k end
  sort(list)
  return list
end

-- The usage message listing what is valid for `def`.
local function valid_message(name, def, attrs, rels, incl)
  local simple = { "id", "type" }
  for _, a in ipairs(attrs) do simple[#simple + 1] = a end
  for _, r in ipairs(sorted_keys(rels)) do simple[#simple + 1] = r end
  return ("unknown column '%s' for %s: valid names are %s; and REL.FIELD for a field of an included "
    .. "relationship REL (%s), e.g. notes.content"):format(name, def.name, concat(simple, ", "),
    concat(sorted_keys(incl), ", "))
end

--- Checks the names `list` for resources of definition `def` (nil: unchecked) -> true, or nil and a
-- usage message listing the valid names.
function _M.check(list, def)
  if not list or not def then return true end
  local attrs, rels, incl = registry.attributes(def.type), registry.relationships(def.type), includable(def)
  if not attrs or not rels then return true end
  local attr_set = {}
  for _, a in ipairs(attrs) do attr_set[a] = true end
  for _, name in ipairs(list) do
    local head, rest = name:match("^([^.]+)%.(.+)$")
    if not head then
      if not (name == "id" or name == "type" or attr_set[name] or rels[name]) then
        return nil, valid_message(name, def, attrs, rels, incl or {})
      end
    elseif not (incl and incl[head]) then
      return nil, valid_message(name, def, attrs, rels, incl or {})
    else
      local field = rest:match("^[^.]+")
      local rt = related_type(def.type, head)
      local fields = rt and registry.attributes(rt)
      if fields and field ~= "id" and field ~= "type" then
        local ok = false
        for _, f in ipairs(fields) do ok = ok or f == field end
        if not ok then
          return nil, ("unknown column '%s': %s (%s) has no field '%s'; valid: id, type, %s"):format(name, head,
            rt, field, concat(fields, ", "))
        end
      end
    end
  end
  return true
end

--- Checks the dotted names of `list` against the records of a first answer (a list of resources),
-- for the related types the contract does not describe: a FIELD that none of the included resources
-- of its relationship has (while some are there) is a typo -> nil and a usage message naming the fields
-- they have; true otherwise.
function _M.check_data(list, records)
  for _, name in ipairs(list or {}) do
    local head, field = name:match("^([^.]+)%.([^.]+)")
    if head and field ~= "id" and field ~= "type" then
      local seen, found, any = {}, false, false
      for _, r in ipairs(records) do
        local linked = type(r) == "table" and r[head]
        if type(linked) == "table" then
          if linked.id ~= nil then linked = { linked } end
          for _, x in ipairs(linked) do
            for k in pairs(type(x) == "table" and x or {}) do
              if k ~= "id" and k ~= "type" and type(k) == "string" then
                any, seen[k] = true, true
                found = found or k == field
              end
            end
          end
        end
      end
      if any and not found then
        return nil, ("unknown column '%s': the included %s have no field '%s'; they have id, type, %s"):format(name,
          head, field, concat(sorted_keys(seen), ", "))
      end
    end
  end
  return true
end

--- The include list `include` (a list, or nil) with the relationships that the dotted names of
-- `list` read added, when no name of it covers them (a name covers REL when it is REL or starts
-- with "REL.").
function _M.with_includes(include, list)
  local out, covered = {}, {}
  for _, name in ipairs(include or {}) do
    out[#out + 1] = name
    covered[name:match("^[^.]+")] = true
  end
  for _, name in ipairs(list or {}) do
    local head = name:match("^([^.]+)%.")
    if head and not covered[head] then
      out[#out + 1], covered[head] = head, true
    end
  end
  if #out == 0 then return include end
  return out
end

return _M
