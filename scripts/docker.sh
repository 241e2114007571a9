#!/usr/bin/env bash
# Makes a Docker engine available: installs Debian's docker.io when no daemon answers and starts
# dockerd in the background when it is not running (CI machines have no init system running it).
# Idempotent.
set -euo pipefail
sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"

if docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
  exit 0
fi
if ! command -v dockerd >/dev/null; then
  echo "docker: installing docker.io"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq docker.io >/dev/null
fi
if ! docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
  echo "docker: starting dockerd (log: /var/log/kindling-dockerd.log)"
  # A dockerd killed earlier leaves pid files behind that make the next one wait for a
  # containerd that is gone ("timeout waiting for containerd to start").
  for pidfile in /var/run/docker.pid /var/run/docker/containerd/containerd.pid; do
    if [ -f "$pidfile" ] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      $sudo_cmd rm -f "$pidfile"
    fi
  done
  # setsid: its own session, so that the end of the shell that started it does not take it along.
  # Descriptors beyond stderr are closed first: started under `flock /tmp/kindling-e2e.lock`
  # (a test restarting the daemon), the daemon would otherwise inherit the lock and hold it
  # for as long as it runs.
  $sudo_cmd bash -c 'for fd in /proc/$$/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] && eval "exec $n>&-"; done; setsid nohup dockerd >/var/log/kindling-dockerd.log 2>&1 &'
  for _ in $(seq 100); do
    docker version --format '{{.Server.Version}}' >/dev/null 2>&1 && break
    sleep 0.2
  done
fi
docker version --format 'docker: engine {{.Server.Version}} ready' || {
  echo "docker: the engine did not start; see /var/log/kindling-dockerd.log" >&2
  tail -20 /var/log/kindling-dockerd.log >&2 || true
  exit 1
}
