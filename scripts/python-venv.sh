#!/usr/bin/env bash
# Creates .venv with the independent test clients (Python websockets, pytest) once.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/pytest ] || ! .venv/bin/python -c 'import websockets, yaml, pytest_timeout' 2>/dev/null; then
    [ -x .venv/bin/python ] || python3 -m venv .venv
    .venv/bin/pip install -q --disable-pip-version-check 'websockets>=13,<18' 'pytest>=8' 'PyYAML>=6' 'pytest-timeout>=2.3'
fi
