--- Aligned plain-text tables for a terminal: a header, a rule, then one line per row. Cells are made
-- one-line (control characters shown as spaces) and cut at a maximum width with an ellipsis; widths
-- are the columns a terminal gives the text: East Asian wide characters (山田, 한국어, full-width
-- forms, most emoji) take two, combining marks and zero-width characters none, the others one.
local ipairs, concat, rep, utf8_len, utf8_codes = ipairs, table.concat, string.rep, utf8.len, utf8.codes

local _M = {}

_M.MAX_WIDTH = 40

-- Code point ranges of width 2 and of width 0 (from Unicode's East Asian Width and general categories,
-- the blocks names and data hold).
local WIDE = { 0x1100, 0x115F, 0x2E80, 0x303E, 0x3041, 0x33FF, 0x3400, 0x4DBF, 0x4E00, 0x9FFF, 0xA000, 0xA4CF,
               0xAC00, 0xD7A3, 0xF900, 0xFAFF, 0xFE30, 0xFE4F, 0xFF00, 0xFF60, 0xFFE0, 0xFFE6, 0x1F300, 0x1F64F,
               0x1F900, 0x1F9FF, 0x20000, 0x3FFFD }
local ZERO = { 0x0300, 0x036F, 0x200B, 0x200F, 0x20D0, 0x20FF, 0xFE00, 0xFE0F, 0xFE20, 0xFE2F }

local function in_ranges(ranges, c)
  for i = 1, #ranges, 2 do
    if c < ranges[i] then return false end
    if c <= ranges[i + 1] then return true end
  end
  return false
end

local function char_width(c)
  if c < 0x300 then return 1 end
  if in_ranges(ZERO, c) then return 0 end
  return in_ranges(WIDE, c) and 2 or 1
end

local function width(s)
  if not utf8_len(s) then return #s end
  local w = 0
  for _, c in utf8_codes(s) do w = w + char_width(c) end
  return w
end

--- A cell as shown: one line, at most `max` columns.
function _M.cell(s, max)
  s = (s or ""):gsub("[%c]", " ")
  max = max or _M.MAX_WIDTH
  if width(s) > max then
    if not utf8_len(s) then return s:sub(1, max - 1) .. "…" end
    local w, cut = 0, #s + 1
    for p, c in utf8_codes(s) do
      local cw = char_width(c)
      if w + cw > max - 1 then -- the ellipsis takes the last column
        cut = p
        break
      end
      w = w + cw
    end
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
