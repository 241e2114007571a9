#!/usr/bin/env bash
# Builds the offline workload images into the local Docker engine, all from Debian's static busybox
# (no registry is reachable): busybox:latest and busybox:1.36 (CMD sh), nginx:latest (busybox httpd
# serving a welcome page on :80), hashicorp/http-echo:latest and :0.2.3 (`-text=foo` answers `foo`
# on :5678, any path); and kindling/testserver:latest (crate kindling-testserver, built by cargo in
# the same profile: `grpc --serving NAME` a grpc.health.v1 server, `udp-echo` a UDP echo server, both
# on :9000). Idempotent: an image already built from the same inputs is left as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"

if [ -f scripts/docker.sh ]; then bash scripts/docker.sh; fi
if ! dpkg -s busybox-static >/dev/null 2>&1; then # the dynamic `busybox` package will not do
  echo "test images: installing busybox-static"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq busybox-static >/dev/null
fi
cargo run --profile quick --locked -q -p kindling-image --example build-test-images
