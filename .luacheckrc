std = "max"
max_line_length = 120
files["spec"] = { std = "+busted" }
files["lua/clinch/transport/cosocket.lua"] = { read_globals = { "ngx" } }
exclude_files = { "build", "luarocks-tree", ".tmp" }
files["examples/openresty"] = { globals = { "ngx" } }
