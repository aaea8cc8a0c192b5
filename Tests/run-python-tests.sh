#!/usr/bin/env bash
# Runs the black-box Python suites (e2e, RFC 6455 conformance, petrel-loadtest) against the petrel binary
# (PETREL_BIN, else $(swift build -c release --show-bin-path)/petrel; LOADTEST_BIN likewise for
# petrel-loadtest). Extra args go to pytest.
# CONFORMANCE_TARGET=ws://127.0.0.1:PORT/ points the conformance suite at an external server.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/python-venv.sh || exit $?
.venv/bin/pytest -q -p no:cacheprovider Tests/e2e Tests/conformance Tests/loadtest "$@"
exit $?
