# catalogd — build, test and run.
#
#   make            build catalogd and catalogctl
#   make run        install what is missing, build, initialise ./var/node if needed, run it
#   make check      install what is missing, build, run every test suite
#                   (the browser tests too: Chromium, Node, `npm ci` in tests/browser)
#   make asan-check the same under AddressSanitizer + UBSan
#   make demo       a local alliance of three nodes on loopback
#   make bench      benchmarks (print figures; never pass/fail)
#   make fuzz       build the libFuzzer targets (clang)
#   make fuzz-campaign  run each libFuzzer target to issue 15's execution counts
#   make fuzz-seeds rewrite the fuzz seeds with the real encoders
#   make install    PREFIX=/usr/local DESTDIR= : binaries, man pages, systemd
#                   unit, sysusers.d and tmpfiles.d files, /etc/catalogd sample

CC      ?= cc
BUILD   ?= build
PKGS     = libuv openssl msgpack lmdb libutf8proc xlsxwriter jansson inih
DEB_PKGS = build-essential pkg-config libuv1-dev libssl-dev libmsgpack-dev liblmdb-dev \
           libcmocka-dev libutf8proc-dev libxlsxwriter-dev libcsv-dev libjansson-dev libinih-dev python3 openssl \
           libsystemd-dev systemd mandoc libh2o-dev liburiparser-dev libcrypt-dev wrk chromium fonts-ipafont-gothic \
           prometheus
# prometheus: the tests check /metrics with its promtool (Debian ships it
# only in that package, whose own server is then installed too)
# chromium and a Japanese font (else the screenshots show boxes) are for the
# browser tests (tests/browser/), which run on Node; Debian's nodejs and npm are
# installed only when no npm is on the PATH (a newer Node may be there already)
BROWSER_DEB_PKGS = nodejs npm
# `npm ci` again only when the lockfile changed (npm ci empties node_modules first)
BROWSER_STAMP = tests/browser/node_modules/.npm-ci-done

# Tests must never touch the user's node; run data lives here.
RUN_DIR  ?= var/node
RUN_CODE ?= 131059
RUN_NAME ?= 文京区
RUN_LISTEN ?= 127.0.0.1:7400
RUN_WEB ?= 127.0.0.1:7480

# pkg-config is asked only when it exists, so `make deps` works on a bare machine.
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -luv -lssl -lcrypto -lmsgpackc -llmdb -lutf8proc -lxlsxwriter -ljansson -linih)
# sd_notify: only catalogd links libsystemd
SYSTEMD_LIBS := $(shell pkg-config --libs libsystemd 2>/dev/null || echo -lsystemd)
# the web view (daemon/web*.c): libh2o on libuv, liburiparser for query strings
WEB_LIBS := $(shell pkg-config --libs libh2o liburiparser 2>/dev/null || echo -lh2o -luriparser)
# web view users (daemon/web_auth.c, cli/webuser.c): crypt(3) from libxcrypt
CRYPT_LIBS := $(shell pkg-config --libs libxcrypt 2>/dev/null || echo -lcrypt)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

WARN     = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter -Wno-format-truncation
CFLAGS  ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(EXTRA_CFLAGS) $(PKG_CFLAGS) -I.
LDLIBS   = $(PKG_LIBS) -lcsv -lpthread $(EXTRA_LDFLAGS)

LIB_SRC  = $(wildcard proto/*.c catalog/*.c store/*.c certs/*.c)
D_SRC    = $(wildcard daemon/*.c)
CLI_SRC  = $(wildcard cli/*.c)
UNIT_SRC = $(wildcard tests/unit/test_*.c)
TOOL_SRC = $(wildcard tests/tools/*.c)
BENCH_SRC = $(wildcard bench/*.c)
FUZZ_SRC = $(wildcard tests/fuzz/fuzz_*.c)

LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o)
D_OBJ    = $(D_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  = $(CLI_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_BIN = $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tools/%)
BENCH_BIN = $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
FUZZ_BIN = $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
LIB      = $(BUILD)/libcatalog.a

.PHONY: all deps install run check asan-check demo bench fuzz fuzz-seeds fuzz-campaign clean
all: $(BUILD)/catalogd $(BUILD)/catalogctl

$(BUILD)/%.o: %.c $(wildcard */*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/catalogd: $(D_OBJ) $(LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS) $(SYSTEMD_LIBS) $(WEB_LIBS) $(CRYPT_LIBS)

$(BUILD)/catalogctl: $(CLI_OBJ) $(LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS) $(CRYPT_LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB) $(LDLIBS) $(CMOCKA_LIBS)

# compile daemon/defer.c into themselves (the daemon's records set aside)
$(BUILD)/tests/test_defer: daemon/defer.c daemon/defer.h

# compiles daemon/control.c into itself (the rest of the daemon stubbed)
$(BUILD)/tests/test_control: daemon/control.c daemon/control_watch.c daemon/control_policy.c $(wildcard daemon/*.h)

$(BUILD)/tools/%: tests/tools/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# fuzz targets linked with a replay driver: `make check` runs their corpus
$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/replay.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< tests/fuzz/replay.c $(LIB) $(LDLIBS)

# compiles daemon/control.c and control_catalog.c into itself
$(BUILD)/fuzz/fuzz_control: daemon/control.c daemon/control_watch.c daemon/control_policy.c daemon/control_catalog.c $(wildcard daemon/*.h)

# the seed generator (make fuzz-seeds runs it); built with the tests so it
# keeps compiling
$(BUILD)/fuzz-seeds/gen_seeds: tests/fuzz/gen_seeds.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# compiles daemon/defer.c into itself (the daemon's records set aside)
$(BUILD)/bench/member_sync: daemon/defer.c daemon/defer.h

# Install the Debian packages we build and test with, only those missing.
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	command -v npm >/dev/null 2>&1 || missing="$$missing $(BROWSER_DEB_PKGS)"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "make deps: need root to install:$$missing" >&2; exit 1; fi; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing || \
	  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; }; \
	fi

# Install paths (docs/OPERATIONS.md).  The unit, sysusers.d and tmpfiles.d
# files go under $(PREFIX)/lib, which systemd reads for /usr and /usr/local
# alike; /etc stays /etc whatever the prefix, as Debian has it.
PREFIX     ?= /usr/local
SBINDIR    ?= $(PREFIX)/sbin
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
SYSCONFDIR ?= /etc
MAN5 = docs/man/catalogd.conf.5
MAN8 = docs/man/catalogd.8 docs/man/catalogctl.8

# Creates no user and starts nothing: under a DESTDIR (a package) that is
# systemd-sysusers' and the package scripts' work.  An existing
# catalogd.conf is the administrator's and is kept.
install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
	  $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(SYSCONFDIR)/catalogd
	install -m 0755 $(BUILD)/catalogd $(DESTDIR)$(SBINDIR)/catalogd
	install -m 0755 $(BUILD)/catalogctl $(DESTDIR)$(BINDIR)/catalogctl
	install -m 0644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/
	sed 's|@SBINDIR@|$(SBINDIR)|g' dist/catalogd.service.in > $(DESTDIR)$(UNITDIR)/catalogd.service.tmp
	chmod 0644 $(DESTDIR)$(UNITDIR)/catalogd.service.tmp
	mv $(DESTDIR)$(UNITDIR)/catalogd.service.tmp $(DESTDIR)$(UNITDIR)/catalogd.service
	install -m 0644 dist/catalogd.sysusers $(DESTDIR)$(SYSUSERSDIR)/catalogd.conf
	install -m 0644 dist/catalogd.tmpfiles $(DESTDIR)$(TMPFILESDIR)/catalogd.conf
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/catalogd/catalogd.conf ]; then \
	  echo "keeping $(DESTDIR)$(SYSCONFDIR)/catalogd/catalogd.conf"; \
	  grep -Eq '^[[:space:]]*data_dir[[:space:]]*=' $(DESTDIR)$(SYSCONFDIR)/catalogd/catalogd.conf || \
	    echo "  it has no data_dir: add 'data_dir = /var/lib/catalogd', the unit passes only --config"; \
	else install -m 0644 dist/catalogd.conf $(DESTDIR)$(SYSCONFDIR)/catalogd/catalogd.conf; fi

run: deps
	@$(MAKE) --no-print-directory all
	@if [ ! -f $(RUN_DIR)/node.key ]; then \
	  $(BUILD)/catalogctl init --data $(RUN_DIR) --code $(RUN_CODE) --name '$(RUN_NAME)' && \
	  $(BUILD)/catalogctl alliance create --data $(RUN_DIR) --name 'ファーストカスタマー・アライアンス（ローカル）' --address $(RUN_LISTEN); \
	fi
	@echo "web view: http://$(RUN_WEB)/  (open it in a browser on this machine)"
	exec $(BUILD)/catalogd --data $(RUN_DIR) --listen $(RUN_LISTEN) --web-listen $(RUN_WEB)

check: deps
	@$(MAKE) --no-print-directory all tests browser-deps
	@BUILD=$(BUILD) tests/run.sh

asan-check: deps
	@$(MAKE) --no-print-directory BUILD=build-asan CC=gcc \
	  CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined -DSTORE_CHECK_HASHES" \
	  EXTRA_LDFLAGS="-fsanitize=address,undefined" all tests browser-deps
	@BUILD=build-asan ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 CATALOGD_SLOW=1 tests/run.sh

.PHONY: tests browser-deps
tests: $(UNIT_BIN) $(TOOL_BIN) $(FUZZ_BIN) $(BUILD)/fuzz-seeds/gen_seeds

# the browser tests' packages (playwright-core; Chromium itself is Debian's),
# exactly as package-lock.json pins them; the npm cache serves them offline
browser-deps: $(BROWSER_STAMP)
$(BROWSER_STAMP): tests/browser/package.json tests/browser/package-lock.json
	cd tests/browser && npm ci --no-audit --no-fund --prefer-offline
	@touch $@

demo: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) tests/demo.sh

bench: deps
	@$(MAKE) --no-print-directory CFLAGS="-O2 -g" all tests $(BENCH_BIN)
	@BUILD=$(BUILD) bench/run.sh

fuzz:
	@$(MAKE) --no-print-directory -C tests/fuzz

# (re)write the seed_* files of tests/fuzz/corpus/ with the real encoders
fuzz-seeds: $(BUILD)/fuzz-seeds/gen_seeds
	$(BUILD)/fuzz-seeds/gen_seeds tests/fuzz/corpus

# issue 15's campaign: every target to its number of executions, one at a
# time (tests/fuzz/campaign.sh; RUNS=N or TARGETS="fuzz_msg ..." to narrow)
fuzz-campaign:
	tests/fuzz/campaign.sh $(TARGETS)

clean:
	rm -rf build build-asan
