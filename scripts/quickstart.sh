#!/usr/bin/env bash
# The main job on a fresh Debian/Ubuntu machine: install what is missing (build tools, Docker),
# build kindling, create a cluster (the node image is built on first use) and use it with kubectl.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/docker.sh
cargo build --release --locked -p kindling
export PATH="$PWD/target/release:$PATH"
name="${KIND_CLUSTER_NAME:-kind}"
if kindling get clusters 2>/dev/null | grep -qx "$name"; then
  echo "cluster \"$name\" exists; delete it with: kindling delete cluster --name $name"
else
  kindling create cluster --name "$name" --wait 60s
fi
kubectl cluster-info --context "kind-$name"
kubectl get nodes -o wide
# A sample app: the API objects are real; pods run once the node agent runs them (issue 4).
kubectl create deployment hello --image=busybox --replicas=2 --dry-run=client -o yaml | kubectl apply -f -
kubectl get deployments -o wide
