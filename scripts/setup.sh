#!/bin/sh
# Installs latent's build and test dependencies from Debian 12's apt and builds build/latent.
# Works as root on a fresh Debian 12 (uses sudo otherwise). Safe to re-run.
set -eu
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
PACKAGES="g++ make cmake ninja-build ccache git ca-certificates \
  libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev nlohmann-json3-dev libpcre2-dev \
  libcpp-httplib-dev python3 python3-numpy python3-sentencepiece python3-jinja2 nodejs npm"
missing=""
for p in $PACKAGES; do
  # NodeSource's nodejs package bundles npm (and conflicts with Debian's npm package).
  [ "$p" = npm ] && command -v npm >/dev/null 2>&1 && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends $missing
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
# The tokenizer differential test's reference (a tokenizer no one here wrote), from the npm registry.
[ -d build/npm/node_modules/@lenml/tokenizers ] ||
  npm install --no-audit --no-fund --prefix build/npm @lenml/tokenizers@3.7.2
# The server's black-box client tests (tests/server_js) drive latent serve with OpenAI's own SDK.
[ -d build/npm/node_modules/openai ] ||
  npm install --no-audit --no-fund --prefix build/npm openai@4.95.0
# Structured-output tests validate constrained samples with a JSON-schema validator no one here wrote.
[ -d build/npm/node_modules/ajv-formats ] ||
  npm install --no-audit --no-fund --prefix build/npm ajv@8.17.1 ajv-formats@3.0.1
