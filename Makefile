# lua-clinch build.  `make` builds the C core for Lua 5.4, `make LUA=luajit` for LuaJIT,
# `make test` installs what is missing, builds both and runs every suite.

LUA       ?= lua5.4
PREFIX    ?= /usr/local
CFLAGS    ?= -O2 -g
CC        ?= cc
PKG_CONFIG ?= pkg-config

ifneq ($(findstring luajit,$(LUA)),)
LUA_VERSION ?= 5.1
LUA_INCDIR  ?= $(or $(shell $(PKG_CONFIG) --variable=includedir luajit 2>/dev/null),/usr/include/luajit-2.1)
else
LUA_VERSION ?= $(or $(shell $(LUA) -e 'io.write((_VERSION:gsub("Lua ","")))' 2>/dev/null),5.4)
LUA_INCDIR  ?= /usr/include/lua$(LUA_VERSION)
endif

BUILD     ?= build/$(LUA_VERSION)
LIBDIR    ?= $(PREFIX)/lib/lua/$(LUA_VERSION)
LUADIR    ?= $(PREFIX)/share/lua/$(LUA_VERSION)
BINDIR    ?= $(PREFIX)/bin

# Always on, whatever CFLAGS says: the project's C is C99 and warning-free.
STRICT    := -std=c99 -Wall -Wextra -Werror -D_DEFAULT_SOURCE
CORE_SRC  := $(wildcard csrc/*.c) $(wildcard csrc/*.h)
CORE_LIBS := -lcurl -lcrypto -lm
LUA_SRC   := $(shell find lua -name '*.lua')

.PHONY: all core bench-core bench-tools asan install-mock test test-nginx check install bench bench-instructions demo deps clean

all: core
core: $(BUILD)/clinch/core.so

$(BUILD)/clinch/core.so: $(CORE_SRC)
	@mkdir -p $(dir $@)
	$(CC) $(STRICT) $(CFLAGS) -fPIC -I$(LUA_INCDIR) -shared -o $@ csrc/core.c $(LDFLAGS) $(CORE_LIBS)

# The benchmark's own C module (bench/walk_floor.c), next to the core; never installed.
bench-core: core $(BUILD)/walk_floor.so

# The benchmark's C floors (bare libcurl GET loop, bare HMAC loop); never installed. The GET loop embeds
# Lua 5.4 whatever LUA says: its --decode hands each body to that Lua's lua-cjson.
bench-tools: build/bench/curl_loop build/bench/hmac_loop

build/bench/curl_loop: bench/curl_loop.c
	@mkdir -p $(dir $@)
	$(CC) $(STRICT) $(CFLAGS) -I/usr/include/lua5.4 -o $@ $< $(LDFLAGS) -lcurl -llua5.4

build/bench/hmac_loop: bench/hmac_loop.c
	@mkdir -p $(dir $@)
	$(CC) $(STRICT) $(CFLAGS) -o $@ $< $(LDFLAGS) -lcrypto

$(BUILD)/walk_floor.so: bench/walk_floor.c csrc/compat.h
	$(CC) $(STRICT) $(CFLAGS) -fPIC -I$(LUA_INCDIR) -Icsrc -shared -o $@ bench/walk_floor.c

# The Lua 5.4 core built under AddressSanitizer and UBSan, for the sanitizer run of the suite.
asan:
	$(MAKE) core BUILD=build/asan/5.4 LUA=lua5.4 \
	  CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined"

deps:
	@scripts/deps.sh

test: deps
	@scripts/run-tests.sh

test-nginx: deps
	@scripts/run-tests.sh nginx

check: deps
	luacheck -q lua mock/lua spec bin/clinch bin/clinch-mock examples bench
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
	  --std=c99 --inline-suppr -I csrc csrc bench spec/openssl_queue.c
	@# every csrc file compiles on its own (it includes what it uses), for Lua 5.4 and LuaJIT; a file
	@# alone may leave some of its statics unused
	@for inc in /usr/include/lua5.4 \
	    $$($(PKG_CONFIG) --variable=includedir luajit 2>/dev/null || echo /usr/include/luajit-2.1); do \
	  for f in csrc/*.c csrc/*.h; do \
	    $(CC) $(STRICT) -Wno-unused-function -fsyntax-only -I$$inc $$f \
	      || { echo "$$f does not compile on its own (-I$$inc)"; exit 1; }; \
	  done; \
	done
	@# no C function over 90 lines (signature to closing brace; the aim is about 80)
	awk -v max=90 -f scripts/func-lengths.awk csrc/*.c
	lua5.4 scripts/lua-func-lengths.lua 90 $$(find lua mock/lua examples -name '*.lua') bin/clinch bin/clinch-mock

demo: deps
	@scripts/demo.sh

# The HTML API reference, from the doc comments (config.ld: which files), into build/docs/index.html.
# spec/docs_spec.lua (in `make test`) checks the comments without ldoc.
docs:
	@scripts/deps.sh docs
	@rm -rf build/docs && mkdir -p build/docs/scripts # ldoc copies custom_css to the same path
	ldoc -q --fatalwarnings .
	@echo "docs: build/docs/index.html"

bench:
	@scripts/deps.sh bench
	@scripts/bench.sh

# Instructions per request and per decode under callgrind (bench/instructions.lua), written to
# BENCHMARKS-callgrind.md: the steady companion of `make bench`'s wall-time ratios.
bench-instructions:
	@scripts/deps.sh bench
	@$(MAKE) -s LUA=lua5.4 bench-core >/dev/null
	@$(MAKE) -s LUA=luajit bench-core >/dev/null
	@$(MAKE) -s bench-tools >/dev/null
	@lua5.4 bench/instructions.lua

# The library, its C core and bin/clinch (clinch-0.1.0-1.rockspec); `make install-mock` adds the mock API
# (clinch-mock-0.1.0-1.rockspec: mock/lua and bin/clinch-mock, which need LuaSocket). bin/clinch runs on
# Lua 5.4 (its shebang is lua5.4), so it comes with the 5.4 tree only: for another Lua (LUA=luajit, for
# nginx) the library and its core are installed and the CLI is not, which a note says.
install: core
	install -d $(DESTDIR)$(LIBDIR)/clinch $(DESTDIR)$(LUADIR)
	install -m 0755 $(BUILD)/clinch/core.so $(DESTDIR)$(LIBDIR)/clinch/core.so
	cd lua && find . -name '*.lua' -exec install -D -m 0644 {} $(DESTDIR)$(LUADIR)/{} \;
ifeq ($(LUA_VERSION),5.4)
	install -d $(DESTDIR)$(BINDIR)
	@# the installed command finds the prefix's modules and core without LUA_PATH (a PREFIX off
	@# Lua's default paths, such as ~/.local)
	sed 's|^local INSTALLED_PATH, INSTALLED_CPATH = nil, nil|local INSTALLED_PATH, INSTALLED_CPATH = "$(LUADIR)/?.lua;$(LUADIR)/?/init.lua", "$(LIBDIR)/?.so"|' \
	  bin/clinch >$(DESTDIR)$(BINDIR)/clinch
	chmod 0755 $(DESTDIR)$(BINDIR)/clinch
else
	@echo "make install: bin/clinch not installed for $(LUA) (Lua $(LUA_VERSION)): the CLI runs on Lua 5.4; make install with the default LUA=lua5.4 installs it" >&2
endif

install-mock:
	install -d $(DESTDIR)$(LUADIR) $(DESTDIR)$(BINDIR)
	cd mock/lua && find . -name '*.lua' -exec install -D -m 0644 {} $(DESTDIR)$(LUADIR)/{} \;
	install -m 0755 bin/clinch-mock $(DESTDIR)$(BINDIR)/

clean:
	rm -rf build
