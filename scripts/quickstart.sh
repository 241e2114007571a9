#!/usr/bin/env bash
# The main job on a fresh Debian/Ubuntu machine: install what is missing (build tools, Docker),
# build kindling, create a cluster (the node image is built on first use) and use it with kubectl.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/docker.sh
cargo build --profile quick --locked -p kindling
export PATH="$PWD/target/quick:$PATH"
name="${KIND_CLUSTER_NAME:-kind}"
if kindling get clusters 2>/dev/null | grep -qx "$name"; then
  echo "cluster \"$name\" exists; delete it with: kindling delete cluster --name $name"
else
  kindling create cluster --name "$name" --wait 60s
fi
kubectl cluster-info --context "kind-$name"
kubectl get nodes -o wide
# A sample app. No registry is reachable: build the busybox stand-in image locally and load it.
bash scripts/build-test-images.sh
kindling load docker-image busybox:latest --name "$name"
kubectl run hello --image=busybox:latest --image-pull-policy=IfNotPresent \
  -- sh -c 'echo "hello from kindling" > /tmp/index.html; httpd -f -p 8080 -h /tmp'
kubectl wait --for=condition=Ready pod/hello --timeout=60s
kubectl get pods -o wide
# Into the pod and back out through the API server.
kubectl exec hello -- wget -qO- http://127.0.0.1:8080/index.html
kubectl logs hello --tail=5
kubectl get pods -A
