#!/usr/bin/env bash
# Every test of the project: unit tests, in-process API server tests driven by the real kubectl,
# and end-to-end tests that create clusters in Docker. One build profile for everything, so that
# nothing is compiled twice.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/docker.sh
export CARGO_TERM_COLOR=never
# A test run builds everything once, from scratch in CI: incremental state would only add
# gigabytes of disk (a CI machine once ran out of it while linking).
export CARGO_INCREMENTAL=0
# Docker-backed tests must run here, not skip; so must the tests of the clients in tools/
# (kubectl 1.35, the Python client) that scripts/tools.sh installs.
export KINDLING_REQUIRE_DOCKER=1
export KINDLING_REQUIRE_TOOLS=1
# Habits are checked like tests: formatting, then lints (warnings are errors).
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo build --workspace --all-targets --locked
cargo test --workspace --locked --no-fail-fast -- --test-threads=2
