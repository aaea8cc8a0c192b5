#!/usr/bin/env bash
# Builds the peer servers used by Benchmarks/ws-compare.sh (release).
# The Hummingbird peer is its own SwiftPM package; its build folder is .build (gitignored).
# The first build resolves and compiles SwiftNIO + Hummingbird: several minutes on 2 cores.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

swift build -c release --package-path "$here/hummingbird-echo" "$@"
echo "hummingbird-echo: $(swift build -c release --package-path "$here/hummingbird-echo" --show-bin-path)/hummingbird-echo"

# node-ws-echo.js needs no build, only Debian's node-ws (apt-get install node-ws).
if [ ! -e /usr/share/nodejs/ws ]; then
    echo "note: /usr/share/nodejs/ws missing; install Debian's node-ws for the node peer" >&2
fi
