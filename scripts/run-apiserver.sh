#!/usr/bin/env bash
# The main job until clusters exist: set up, build, start an API server on 127.0.0.1:6443 with its
# data in ./kindling-data, and drive it with kubectl.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --locked -p kindling
data="${KINDLING_DATA:-$PWD/kindling-data}"
./target/release/kindling apiserver --data-dir "$data" --bind 127.0.0.1:6443 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
export KUBECONFIG="$data/admin.kubeconfig"
for _ in $(seq 50); do kubectl get --raw /readyz >/dev/null 2>&1 && break; sleep 0.1; done
kubectl get namespaces
kubectl create deployment hello --image=busybox --replicas=2 --dry-run=client -o yaml | kubectl apply -f -
kubectl get deployments -o wide
echo
echo "The server keeps running; in another shell: export KUBECONFIG=$KUBECONFIG"
wait $server
