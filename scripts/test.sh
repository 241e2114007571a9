#!/usr/bin/env bash
# Every test of the project: unit tests and in-process API server tests driven by the real kubectl.
# One build profile for everything, so that nothing is compiled twice.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CARGO_TERM_COLOR=never
cargo build --workspace --all-targets --locked
cargo test --workspace --locked -- --test-threads=2
