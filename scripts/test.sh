#!/bin/sh
# Runs the whole test suite (unit, reference and CLI tests) against build/. Test data is read from
# $LATENT_TESTDATA (default: ../shared/testdata beside the repository).
set -eu
cd "$(dirname "$0")/.."
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j"$(nproc)" --timeout 600
