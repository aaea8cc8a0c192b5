#!/usr/bin/env bash
# Creates .venv with the independent test clients (Python websockets, pytest, PyJWT + cryptography, boto3, prometheus_client) once.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/pytest ] || ! .venv/bin/python -c 'import websockets, yaml, pytest_timeout, jwt, cryptography, boto3, prometheus_client' 2>/dev/null; then
    [ -x .venv/bin/python ] || python3 -m venv .venv
    .venv/bin/pip install -q --disable-pip-version-check 'websockets>=13,<18' 'pytest>=8' 'PyYAML>=6' 'pytest-timeout>=2.3' 'pyjwt>=2.8' 'cryptography>=42' 'boto3>=1.34' 'prometheus_client>=0.20'
fi
