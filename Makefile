# Petrel: `make run` starts the gateway on its embedded default; `make test` runs every test.
SWIFT ?= swift
RELEASE_BIN = $(shell $(SWIFT) build -c release --show-bin-path 2>/dev/null)
export SWIFT_BACKTRACE = enable=no

.PHONY: run deps build test unit-tests e2e-tests asan fuzz bench clean

# Debian packages, then the Python venv whose independent clients (websockets, boto3, PyJWT)
# both the unit tests (token minting) and the end-to-end suites use.
deps:
	@scripts/install-deps.sh
	@scripts/python-venv.sh

build: deps
	$(SWIFT) build -c release

run: build
	$(RELEASE_BIN)/petrel serve

# Unit tests (codecs, config, core), then the black-box suites against the release binary
# with independent clients (Python websockets, raw-socket RFC 6455 conformance cases).
test: build unit-tests e2e-tests

unit-tests: deps
	$(SWIFT) test

e2e-tests: build
	PETREL_BIN=$(RELEASE_BIN)/petrel Tests/run-python-tests.sh

# The whole suite under AddressSanitizer (debug build with -sanitize=address).
asan: deps
	$(SWIFT) build --sanitize=address --scratch-path .build-asan
	$(SWIFT) test --sanitize=address --scratch-path .build-asan
	PETREL_BIN=$$($(SWIFT) build --sanitize=address --scratch-path .build-asan --show-bin-path)/petrel Tests/run-python-tests.sh

# libFuzzer targets for every parser: `make fuzz SECONDS=600`.
SECONDS ?= 60
fuzz: deps
	scripts/fuzz.sh all $(SECONDS)

# Side-by-side WebSocket benchmarks (see docs/benchmarks.md).
bench: build
	Benchmarks/ws-compare.sh

clean:
	rm -rf .build .build-* Fuzz/.build-*
