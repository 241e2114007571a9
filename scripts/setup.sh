#!/usr/bin/env bash
# Installs what building and testing kindling needs on a fresh Debian/Ubuntu machine. Idempotent:
# each step checks first and does nothing when already satisfied.
set -euo pipefail

need_apt=()
command -v cc >/dev/null || need_apt+=(build-essential)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
command -v python3 >/dev/null || need_apt+=(python3)
python3 -m pip --version >/dev/null 2>&1 || need_apt+=(python3-pip)
# tools.sh makes virtual environments for the Python client.
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need_apt+=(python3-venv)
command -v curl >/dev/null || need_apt+=(curl)
command -v debootstrap >/dev/null || need_apt+=(debootstrap)
dpkg -s busybox-static >/dev/null 2>&1 || need_apt+=(busybox-static)
dpkg -s libc6-dev >/dev/null 2>&1 || need_apt+=(libc6-dev)
# protoc: the k8s-cri crate compiles the CRI protos at build time.
command -v protoc >/dev/null || need_apt+=(protobuf-compiler)
# etcd: the store's test suite runs against a real etcd as well as SQLite (the HA backend).
command -v etcd >/dev/null || need_apt+=(etcd-server)
if ((${#need_apt[@]})); then
  echo "setup: installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq "${need_apt[@]}"
fi

bash "$(dirname "$0")/tools.sh"

if ! command -v cargo >/dev/null; then
  echo "setup: cargo is missing; install Rust with rustup (https://rustup.rs) and re-run" >&2
  exit 1
fi
if ! command -v kubectl >/dev/null; then
  echo "setup: kubectl is missing; the tests drive the real kubectl (1.32 or newer) — install it and re-run" >&2
  exit 1
fi
for component in rustfmt clippy; do
  rustup component list --installed 2>/dev/null | grep -q "^$component" || rustup component add "$component"
done
echo "setup: ok ($(cargo --version); kubectl $(kubectl version --client -o json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["clientVersion"]["gitVersion"])'))"
