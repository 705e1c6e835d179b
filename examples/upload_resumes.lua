#!/usr/bin/env lua5.4
--- Uploads a folder of PDF resumes, matching each file to a candidate by email: a file named
-- jane.smith@example.com.pdf goes to the candidate with that email address. Files without a matching
-- candidate are reported and skipped.
--
--   lua5.4 examples/upload_resumes.lua [FOLDER]
-- Without FOLDER it makes a sample folder: PDFs for three existing candidates and one unknown address.
-- Configuration: as the other examples (environment, or a mock API started for the run).
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
do -- From a checkout, use its modules and C core (see scripts/checkout.lua).
  local use = loadfile(here .. "/../scripts/checkout.lua")
  if use then use()(here .. "/..") end
end
-- The examples' harness (examples/support.lua): a client from the environment, or a mock API.
local examples = dofile(here .. "/support.lua")

local q = examples.shell_quote

-- A minimal valid-looking PDF, for the sample folder.
local SAMPLE_PDF = "%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

local function pdf_files(folder)
  if os.execute("test -d " .. q(folder)) ~= true then error("no folder " .. folder, 0) end
  local files = {}
  local p = assert(io.popen("find " .. q(folder) .. " -maxdepth 1 -type f -iname '*.pdf' | LC_ALL=C sort"))
  for line in p:lines() do files[#files + 1] = line end
  p:close()
  return files
end

local function sample_folder(client, ex)
  local folder = assert(io.popen("mktemp -d")):read("l")
  local page = ex.check(client.candidates:list { per_page = 3 })
  local emails = {}
  for _, cand in ipairs(page) do emails[#emails + 1] = cand.email end
  emails[#emails + 1] = "nobody.here@example.invalid"
  for _, email in ipairs(emails) do
    local f = assert(io.open(folder .. "/" .. email .. ".pdf", "wb"))
    f:write(SAMPLE_PDF)
    f:close()
  end
  ex.say(("made a sample folder %s with %d PDFs"):format(folder, #emails))
  return folder, true
end

examples.run(function(client, ex)
  local folder, temporary = arg[1], false
  if not folder then folder, temporary = sample_folder(client, ex) end
  local uploaded, skipped = 0, 0
  for _, path in ipairs(pdf_files(folder)) do
    local name = path:match("([^/]+)$")
    local email = name:gsub("%.[pP][dD][fF]$", "")
    local page = ex.check(client.candidates:list { filter = { email = { eq = email } }, per_page = 1 })
    local cand = page[1]
    if cand then
      local file = ex.check(cand:upload_resume { path = path })
      uploaded = uploaded + 1
      local id = type(file) == "table" and file.id or "?"
      ex.say(("uploaded %s to %s (file %s)"):format(name, tostring(cand), id))
    else
      skipped = skipped + 1
      ex.say(("no candidate with email %s: skipped %s"):format(email, name))
    end
  end
  if temporary then os.execute("rm -rf " .. q(folder)) end
  ex.say(("%d resumes uploaded, %d skipped"):format(uploaded, skipped))
end)
