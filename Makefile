# Build and install sidecar like any daemon. See README, "Installation".
#
#   make                    release binary (Swift runtime linked in), man pages, completions, SELinux module
#   sudo make install       into PREFIX (default /usr/local); DESTDIR for a staging directory
#   sudo make uninstall     removes what `make install` put there, nothing else
#
# `make` needs Swift 6 (swift on PATH, or SWIFT=/opt/swift/usr/bin/swift), libssl-dev, libsystemd-dev,
# pkg-config and, unless SELINUX=no, the SELinux policy development files (Debian: selinux-policy-dev,
# Fedora: selinux-policy-devel). `make install` builds nothing: it installs what `make` built, so it can run
# as root without compiling as root.

PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
DATADIR     ?= $(PREFIX)/share
MANDIR      ?= $(DATADIR)/man
DOCDIR      ?= $(DATADIR)/doc/sidecar
# The units read /etc/sidecar/conf.d and /etc/sidecar/reverse.d; installed units name $(SYSCONFDIR)/sidecar.
SYSCONFDIR  ?= /etc
UNITDIR     ?= $(PREFIX)/lib/systemd/system
# systemd-sysusers and systemd-tmpfiles read /usr/lib, never /usr/local/lib: these do not follow PREFIX.
SYSUSERSDIR ?= /usr/lib/sysusers.d
TMPFILESDIR ?= /usr/lib/tmpfiles.d
SELINUXDIR  ?= $(DATADIR)/selinux/packages
SELINUXIFDIR ?= $(SELINUXDIR)
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
ZSHCOMPDIR  ?= $(DATADIR)/zsh/site-functions
FISHCOMPDIR ?= $(DATADIR)/fish/vendor_completions.d

# yes: the .pp is built and installed; no: neither (no SELinux development files needed).
SELINUX     ?= yes
# yes: `make` strips the binary and keeps its debug information in sidecar.debug (with a .gnu_debuglink);
# no: the binary keeps it, for packaging tools that split it themselves (dh_strip, find-debuginfo).
SPLIT_DEBUG ?= yes

SWIFT       ?= swift
OBJCOPY     ?= objcopy
INSTALL     ?= install
SCRATCH     ?= .build
OUT         := $(SCRATCH)/dist
# The release flags that change the binary, in one place: Benchmarks/run.sh builds with them too
# (`make -s print-release-flags`). What each buys is in README, "Performance" (at rest).
# -z now: full RELRO, the hardening Debian and Fedora link their packages with.
# -use-ld=lld, --symbol-ordering-file: the sections holding the functions start-up runs (scripts/sidecar.order,
#   from scripts/startup-order.sh) placed together at the start of .text, so that the kernel's 64 KiB
#   fault-around maps 4.8 MiB of code at rest instead of 8.7 MiB. Only lld (in the Swift toolchain) orders
#   sections by symbol; a stale name in the file is skipped (--no-warn-symbol-ordering).
# --no-export-dynamic: the Swift driver exports every symbol of the program's own modules (1.3 MB of dynamic
#   symbol table that nothing loads symbols from); crash backtraces name functions from sidecar.debug.
# -z pack-relative-relocs: the 55,000 relative relocations as DT_RELR (11 KB instead of 1.3 MB read at every
#   start), where the C library is glibc 2.36 or newer (it refuses such a binary otherwise; RHEL 9 has 2.34).
# Run-time exclusivity checks stay on (they cost 13 % of the instructions per relayed message, but they are a
# memory-safety check in a process that faces the network: README, "Performance").
GLIBC_RELR  := $(shell getconf GNU_LIBC_VERSION 2>/dev/null | awk '{ split($$2, v, "."); print (v[1] > 2 || v[2] >= 36) ? "yes" : "no" }')
RELEASE_FLAGS := --static-swift-stdlib -Xlinker -z -Xlinker now \
    -Xswiftc -use-ld=lld \
    -Xlinker --symbol-ordering-file=$(CURDIR)/scripts/sidecar.order -Xlinker --no-warn-symbol-ordering \
    -Xlinker --no-export-dynamic $(if $(filter yes,$(GLIBC_RELR)),-Xlinker -z -Xlinker pack-relative-relocs)
SWIFTFLAGS  := -c release --scratch-path $(SCRATCH) $(RELEASE_FLAGS)
BUILD_CMD   := make   # what `make install` tells you to run when nothing is built

# The build stamp `sidecar --version` shows (read by Package.swift). Only this checkout's own git counts (not
# that of a directory a tarball was unpacked in); a tarball says unknown, unless the packager passes GIT_COMMIT=.
IN_GIT      := $(shell test "$$(git rev-parse --show-toplevel 2>/dev/null)" = "$(CURDIR)" && echo yes)
GIT_COMMIT  ?= $(if $(IN_GIT),$(shell git rev-parse --short=12 HEAD)$(shell git diff --quiet HEAD -- || echo -modified))
export SIDECAR_GIT_COMMIT := $(GIT_COMMIT)
export SIDECAR_SWIFT_VERSION := $(shell $(SWIFT) --version 2>/dev/null | grep -m1 -o 'Swift version.*')

# The man page's date: the commit's (or SOURCE_DATE_EPOCH, which dpkg-buildpackage and rpmbuild set), so
# that two builds of one commit give the same page.
MAN_DATE := $(shell date -u -d @$${SOURCE_DATE_EPOCH:-$$(git log -1 --format=%ct 2>/dev/null || date +%s)} +%Y-%m-%d)

BUILT := $(OUT)/sidecar $(OUT)/sidecar.8 $(OUT)/completions/sidecar.bash $(OUT)/completions/_sidecar \
         $(OUT)/completions/sidecar.fish
ifeq ($(SELINUX),yes)
BUILT += $(OUT)/sidecar.pp
endif

.PHONY: all swift-build install uninstall clean check-built print-release-flags
all: $(BUILT)

# For scripts that build a release binary of their own (Benchmarks/run.sh): the flags above, nothing else.
print-release-flags:
	@echo $(RELEASE_FLAGS)

# SwiftPM knows what changed; make only asks it every time. It does not know the order file (a linker input
# it is not told about): a newer one relinks by removing the binary.
swift-build:
	@if [ scripts/sidecar.order -nt $(SCRATCH)/release/sidecar ]; then rm -f $(SCRATCH)/release/sidecar; fi
	$(SWIFT) build $(SWIFTFLAGS) --product sidecar
	$(SWIFT) build $(SWIFTFLAGS) --product generate-manual

$(OUT)/sidecar: swift-build
	@mkdir -p $(OUT)
	cp $(SCRATCH)/release/sidecar $@.tmp
ifeq ($(SPLIT_DEBUG),yes)
	$(OBJCOPY) --only-keep-debug $@.tmp $(OUT)/sidecar.debug
	$(OBJCOPY) --strip-debug --strip-unneeded --add-gnu-debuglink=$(OUT)/sidecar.debug $@.tmp
else
	rm -f $(OUT)/sidecar.debug
endif
	mv $@.tmp $@

# sidecar(8) from the argument parser (swift-argument-parser's generate-manual, the tool behind its
# generate-manual plugin), so it lists every subcommand and option the binary has; manual-fixup.awk
# tidies what mandoc and groff would warn about.
$(OUT)/sidecar.8: $(OUT)/sidecar scripts/manual-fixup.awk
	$(SCRATCH)/release/generate-manual $(OUT)/sidecar --section 8 --date $(MAN_DATE) \
	    --authors 'the sidecar authors' --output-directory - > $@.raw
	awk -f scripts/manual-fixup.awk $@.raw > $@.tmp
	rm $@.raw && mv $@.tmp $@

# The bash completion is sourced, not run: without the generator's #! line (lintian: bash-completion-with-hashbang).
$(OUT)/completions/sidecar.bash $(OUT)/completions/_sidecar $(OUT)/completions/sidecar.fish: $(OUT)/sidecar
	@mkdir -p $(OUT)/completions
	$(OUT)/sidecar --generate-completion-script bash | sed '1{/^#!/d;}' > $(OUT)/completions/sidecar.bash
	$(OUT)/sidecar --generate-completion-script zsh > $(OUT)/completions/_sidecar
	$(OUT)/sidecar --generate-completion-script fish > $(OUT)/completions/sidecar.fish

$(OUT)/sidecar.pp: selinux/sidecar.te selinux/sidecar.fc selinux/sidecar.if
	@test -f /usr/share/selinux/devel/Makefile || { echo "make: the SELinux module needs" \
	    "/usr/share/selinux/devel/Makefile: install selinux-policy-dev (Debian) or selinux-policy-devel" \
	    "(Fedora), or run make SELINUX=no" >&2; exit 1; }
	@mkdir -p $(OUT)
	scripts/selinux-build.sh $@

check-built:
	@for f in $(BUILT); do test -f $$f || { echo "make install: $$f is missing: build it first with" \
	    "'$(strip $(BUILD_CMD))' (swift build $(SWIFTFLAGS)), as a user, then run make install again" >&2; \
	    exit 1; }; done

# Paths inside the units and the tmpfiles line follow BINDIR, SYSCONFDIR and DOCDIR.
SUBST := sed -e 's|/usr/bin/sidecar|$(BINDIR)/sidecar|g' -e 's|/etc/sidecar|$(SYSCONFDIR)/sidecar|g' \
             -e 's|/usr/share/doc/sidecar|$(DOCDIR)|g'
UNITS := sidecar.service sidecar.socket sidecar-reverse.service sidecar-reverse.socket
# Example configurations: repository path, installed path (relative to SYSCONFDIR/sidecar).
EXAMPLES := conf.d/forward/bluechi-agent.cfg:conf.d/bluechi-agent.cfg \
            conf.d/reverse/bluechi-controller.cfg:reverse.d/bluechi-controller.cfg

install: check-built
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(DOCDIR) $(DESTDIR)$(BASHCOMPDIR) \
	    $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR) \
	    $(DESTDIR)$(SYSCONFDIR)/sidecar/conf.d $(DESTDIR)$(SYSCONFDIR)/sidecar/reverse.d
	$(INSTALL) -m 0755 $(OUT)/sidecar $(DESTDIR)$(BINDIR)/sidecar
	for u in $(UNITS); do $(SUBST) systemd/$$u > $(DESTDIR)$(UNITDIR)/$$u && chmod 0644 $(DESTDIR)$(UNITDIR)/$$u; done
	$(INSTALL) -m 0644 systemd/sidecar.sysusers $(DESTDIR)$(SYSUSERSDIR)/sidecar.conf
	$(INSTALL) -m 0644 systemd/sidecar.tmpfiles $(DESTDIR)$(TMPFILESDIR)/sidecar.conf
	$(INSTALL) -m 0644 $(OUT)/sidecar.8 $(DESTDIR)$(MANDIR)/man8/sidecar.8
	$(INSTALL) -m 0644 man/sidecar.cfg.5 $(DESTDIR)$(MANDIR)/man5/sidecar.cfg.5
	$(INSTALL) -m 0644 $(OUT)/completions/sidecar.bash $(DESTDIR)$(BASHCOMPDIR)/sidecar
	$(INSTALL) -m 0644 $(OUT)/completions/_sidecar $(DESTDIR)$(ZSHCOMPDIR)/_sidecar
	$(INSTALL) -m 0644 $(OUT)/completions/sidecar.fish $(DESTDIR)$(FISHCOMPDIR)/sidecar.fish
	$(INSTALL) -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
ifeq ($(SELINUX),yes)
	$(INSTALL) -d $(DESTDIR)$(SELINUXDIR) $(DESTDIR)$(SELINUXIFDIR)
	$(INSTALL) -m 0644 $(OUT)/sidecar.pp $(DESTDIR)$(SELINUXDIR)/sidecar.pp
	$(INSTALL) -m 0644 selinux/sidecar.if $(DESTDIR)$(SELINUXIFDIR)/sidecar.if
endif
	@for e in $(EXAMPLES); do src=$${e%%:*}; dst=$(DESTDIR)$(SYSCONFDIR)/sidecar/$${e#*:}; \
	    if [ -e "$$dst" ]; then echo "kept $$dst (exists; the example is $$src)"; \
	    else echo "$(INSTALL) -m 0644 $$src $$dst"; $(INSTALL) -m 0644 "$$src" "$$dst" || exit 1; fi; done

# Removes every file `make install` installs. An example configuration goes only while it is still the
# shipped example: an edited or pre-existing one is the operator's and stays. Directories go only if empty
# and sidecar's own.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/sidecar $(addprefix $(DESTDIR)$(UNITDIR)/,$(UNITS)) \
	    $(DESTDIR)$(SYSUSERSDIR)/sidecar.conf $(DESTDIR)$(TMPFILESDIR)/sidecar.conf \
	    $(DESTDIR)$(MANDIR)/man8/sidecar.8 $(DESTDIR)$(MANDIR)/man5/sidecar.cfg.5 \
	    $(DESTDIR)$(BASHCOMPDIR)/sidecar $(DESTDIR)$(ZSHCOMPDIR)/_sidecar $(DESTDIR)$(FISHCOMPDIR)/sidecar.fish \
	    $(DESTDIR)$(DOCDIR)/README.md $(DESTDIR)$(SELINUXDIR)/sidecar.pp $(DESTDIR)$(SELINUXIFDIR)/sidecar.if
	@for e in $(EXAMPLES); do src=$${e%%:*}; dst=$(DESTDIR)$(SYSCONFDIR)/sidecar/$${e#*:}; \
	    if [ -e "$$dst" ] && ! cmp -s "$$src" "$$dst"; then echo "kept $$dst (not the shipped example)"; \
	    else rm -f "$$dst"; fi; done
	-rmdir $(DESTDIR)$(DOCDIR) $(DESTDIR)$(SYSCONFDIR)/sidecar/conf.d $(DESTDIR)$(SYSCONFDIR)/sidecar/reverse.d \
	    $(DESTDIR)$(SYSCONFDIR)/sidecar 2>/dev/null

# The generated files only; the Swift build stays (swift package clean removes it).
clean:
	rm -rf $(OUT)
