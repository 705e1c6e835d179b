--- The progress line of long work (`--all`, exports, sync) on stderr: pages and records done, the
-- total when the API reports one, the rate and the time left. It is redrawn in place (carriage
-- return, erase to end of line) at most every `interval` seconds, and only when enabled — the CLI
-- enables it when stderr is a terminal, so logs and pipes never see it.
local setmetatable, type, require, io = setmetatable, type, require, io
local format, concat, floor, max = string.format, table.concat, math.floor, math.max

local _M = {}

local Progress = {}
Progress.__index = Progress

--- new{ enabled = bool, stream = io.stderr, label = "candidates", clock = core.monotime, interval = 0.2 }.
-- With rows = N (a bulk command's), it counts rows done of N and those that failed (Progress:row)
-- instead of pages.
function _M.new(opts)
  local clock = opts.clock or require("clinch.core").monotime
  return setmetatable({
    enabled = opts.enabled and true or false, stream = opts.stream or io.stderr, label = opts.label or "records",
    clock = clock, started = clock(), interval = opts.interval or 0.2, last = nil,
    pages = 0, records = 0, total = opts.rows, rows = opts.rows ~= nil, failed = 0, drawn = false,
  }, Progress)
end

local function duration(s)
  s = floor(s + 0.5)
  if s >= 3600 then return format("%d:%02d:%02d", floor(s / 3600), floor(s % 3600 / 60), s % 60) end
  return format("%d:%02d", floor(s / 60), s % 60)
end

--- The text of the line as it stands.
function Progress:text()
  local elapsed = max(self.clock() - self.started, 1e-6)
  local parts = { format("%d page%s", self.pages, self.pages == 1 and "" or "s") }
  if self.rows then
    parts[1] = format("%d/%d %s", self.records, self.total, self.label)
    if self.failed > 0 then parts[2] = format("%d failed", self.failed) end
  elseif self.total then
    parts[#parts + 1] = format("%d/%d %s", self.records, self.total, self.label)
  else
    parts[#parts + 1] = format("%d %s", self.records, self.label)
  end
  local rate = self.records / elapsed
  parts[#parts + 1] = format("%.0f/s", rate)
  if self.total and rate > 0 and self.records < self.total then
    parts[#parts + 1] = "ETA " .. duration((self.total - self.records) / rate)
  else
    parts[#parts + 1] = duration(elapsed)
  end
  return concat(parts, ", ")
end

function Progress:_draw(force)
  if not self.enabled then return end
  local now = self.clock()
  if not force and self.last and now - self.last < self.interval then return end
  self.last = now
  self.stream:write("\r", self:text(), "\27[K")
  self.stream:flush()
  self.drawn = true
end

--- Counts one page of `n` records; `total` is the API's total count when it gives one.
function Progress:page(n, total)
  self.pages = self.pages + 1
  self.records = self.records + n
  if total then self.total = total end
  self:_draw(false)
end

--- Counts one row of a bulk command done (`failed`: at the API).
function Progress:row(failed)
  self.records = self.records + 1
  if failed then self.failed = self.failed + 1 end
  self:_draw(false)
end

--- Draws the final state and ends the line.
function Progress:finish()
  if not self.enabled then return end
  self:_draw(true)
  self.stream:write("\n")
  self.stream:flush()
end

--- Clears the line (before an error message, so the message starts at column one).
function Progress:clear()
  if self.enabled and self.drawn then
    self.stream:write("\r\27[K")
    self.stream:flush()
  end
end

--- The total count in a page's meta, when the API reports one.
function _M.total_of(page)
  local meta = page and page.meta
  if type(meta) == "table" then
    local t = meta.total_count or meta.total or meta["record-count"]
    if type(t) == "number" then return floor(t) end
  end
  return nil
end

return _M
