--- Aligned plain-text tables for a terminal: a header, a rule, then one line per row. Cells are made
-- one-line (control characters shown as spaces) and cut at a maximum width with an ellipsis; widths
-- count UTF-8 characters, not bytes.
local ipairs, concat, rep, utf8_len, utf8_offset = ipairs, table.concat, string.rep, utf8.len, utf8.offset

local _M = {}

_M.MAX_WIDTH = 40

local function width(s)
  return utf8_len(s) or #s
end

--- A cell as shown: one line, at most `max` characters.
function _M.cell(s, max)
  s = (s or ""):gsub("[%c]", " ")
  max = max or _M.MAX_WIDTH
  if width(s) > max then
    local cut = utf8_len(s) and utf8_offset(s, max) or max
    s = s:sub(1, cut - 1) .. "…"
  end
  return s
end

--- Renders rows (lists of strings) under `headers` -> text ending in a newline.
function _M.render(headers, rows, max)
  local cells, widths = {}, {}
  local all = { headers }
  for _, r in ipairs(rows) do all[#all + 1] = r end
  for i, r in ipairs(all) do
    local line = {}
    for c = 1, #headers do
      local s = _M.cell(r[c], max)
      line[c] = s
      local w = width(s)
      if not widths[c] or w > widths[c] then widths[c] = w end
    end
    cells[i] = line
  end
  local out = {}
  local function emit(line)
    local parts = {}
    for c = 1, #headers do
      if c == #headers then
        parts[c] = line[c]
      else
        parts[c] = line[c] .. rep(" ", widths[c] - width(line[c]))
      end
    end
    out[#out + 1] = (concat(parts, "  "):gsub("%s+$", ""))
  end
  emit(cells[1])
  local rule = {}
  for c = 1, #headers do rule[c] = rep("-", widths[c]) end
  out[#out + 1] = concat(rule, "  ")
  for i = 2, #cells do emit(cells[i]) end
  return concat(out, "\n") .. "\n"
end

--- A two-column field/value listing (one resource in table format).
function _M.vertical(pairs_list, max)
  local w = 0
  for _, p in ipairs(pairs_list) do
    if width(p[1]) > w then w = width(p[1]) end
  end
  local out = {}
  for _, p in ipairs(pairs_list) do
    out[#out + 1] = (p[1] .. rep(" ", w - width(p[1]) + 2) .. _M.cell(p[2], max or 100)):gsub("%s+$", "")
  end
  return concat(out, "\n") .. "\n"
end

return _M
