# Petrel: `make run` starts the gateway on its embedded default; `make test` runs every test.
SWIFT ?= swift
RELEASE_BIN = $(shell $(SWIFT) build -c release --show-bin-path 2>/dev/null)
export SWIFT_BACKTRACE = enable=no

.PHONY: run deps build test quick-test unit-tests e2e-tests asan tsan fuzz bench clean

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
# with independent clients (Python websockets, raw-socket RFC 6455 conformance cases), then the
# whole suite again under AddressSanitizer and the multi-loop tests under ThreadSanitizer (issue 6).
# `make quick-test` is the first half alone.
test: quick-test asan tsan

quick-test: build unit-tests e2e-tests

unit-tests: deps
	$(SWIFT) test

e2e-tests: build
	PETREL_BIN=$(RELEASE_BIN)/petrel Tests/run-python-tests.sh

# The whole suite under AddressSanitizer (debug build with -sanitize=address). A report aborts
# the process: a unit test fails, and a gateway that dies is a failed e2e teardown (exit code).
SANITIZER_ENV = SWIFT_BACKTRACE=enable=no
asan: deps
	$(SWIFT) build --sanitize=address --scratch-path .build-asan
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 $(SWIFT) test --sanitize=address --scratch-path .build-asan
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:quarantine_size_mb=16 $(SANITIZER_ENV) PETREL_SANITIZER=address \
	  PETREL_BIN=$$($(SWIFT) build --sanitize=address --scratch-path .build-asan --show-bin-path)/petrel \
	  LOADTEST_BIN=$$($(SWIFT) build --sanitize=address --scratch-path .build-asan --show-bin-path)/petrel-loadtest \
	  Tests/run-python-tests.sh

# The multi-loop tests under ThreadSanitizer: the unit tests, and the e2e files whose servers run
# two loops and cross them (mailboxes, @connections, node-wide caps, drain). A race report stops
# the gateway with exit code 66, which the e2e teardown turns into a failure. scripts/tsan.supp
# explains the one suppression (Synchronization.Mutex is invisible to TSan on Linux).
TSAN_E2E = Tests/e2e/test_concurrency.py Tests/e2e/test_connections_api.py Tests/e2e/test_hardening.py \
           Tests/e2e/test_lifecycle.py
tsan: deps
	$(SWIFT) build --sanitize=thread --scratch-path .build-tsan
	TSAN_OPTIONS=halt_on_error=1:suppressions=$(CURDIR)/scripts/tsan.supp $(SWIFT) test --sanitize=thread --scratch-path .build-tsan
	scripts/python-venv.sh
	TSAN_OPTIONS=halt_on_error=1:exitcode=66:suppressions=$(CURDIR)/scripts/tsan.supp $(SANITIZER_ENV) \
	  PETREL_BIN=$$($(SWIFT) build --sanitize=thread --scratch-path .build-tsan --show-bin-path)/petrel \
	  .venv/bin/pytest -q -p no:cacheprovider $(TSAN_E2E)

# libFuzzer targets for every parser: `make fuzz SECONDS=600`.
SECONDS ?= 60
fuzz: deps
	scripts/fuzz.sh all $(SECONDS)

# Side-by-side WebSocket benchmarks (see docs/benchmarks.md).
bench: build
	Benchmarks/ws-compare.sh

clean:
	rm -rf .build .build-* Fuzz/.build-*
