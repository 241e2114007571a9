#!/usr/bin/env python3
"""Captures the protobuf request bodies kubectl sends, as test fixtures for `kindling_api::proto`.

For each command in COMMANDS it runs kubectl against a throwaway HTTP server started here on
127.0.0.1 (it answers discovery, serves a Deployment `web` for `kubectl autoscale`, and records the
body of every POST/PUT, answering 500), and writes to the output directory:

  NAME.pb    the body kubectl sent (Content-Type application/vnd.kubernetes.protobuf)
  NAME.json  what the same command prints with `--dry-run=client -o json`: Go's JSON encoding of
             the same object, the reference the decoder is tested against (if the command has
             a dry-run)

Usage: python3 crates/kindling-api/tools/capture_kubectl_bodies.py [--kubectl kubectl] OUTDIR
The fixtures committed under src/proto/testdata/ were made with kubectl v1.32.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# (fixture name, kubectl arguments, has --dry-run=client)
COMMANDS = [
    ("configmap", ["create", "configmap", "c", "--from-literal=a=b"], True),
    ("configmap-binary", ["create", "configmap", "bin", "--from-file=blob={blob}", "--from-literal=x=y"], True),
    ("deployment", ["create", "deployment", "web", "--image=busybox", "--replicas=2"], True),
    ("deployment-zero", ["create", "deployment", "web2", "--image=busybox", "--replicas=0", "--port=8080", "--", "sleep", "10"], True),
    ("service-clusterip", ["create", "service", "clusterip", "web", "--tcp=80:8080"], True),
    ("service-nodeport", ["create", "service", "nodeport", "np", "--tcp=80:http", "--node-port=30080"], True),
    ("service-headless", ["create", "service", "clusterip", "hl", "--clusterip=None"], True),
    ("secret", ["create", "secret", "generic", "s", "--from-literal=k=v", "--type=Opaque"], True),
    ("secret-docker", ["create", "secret", "docker-registry", "d", "--docker-username=u", "--docker-password=p", "--docker-server=r.io"], True),
    ("job", ["create", "job", "j", "--image=busybox", "--", "echo", "hi"], True),
    ("cronjob", ["create", "cronjob", "cj", "--image=busybox", "--schedule=*/1 * * * *", "--restart=OnFailure"], True),
    ("role", ["create", "role", "r", "--verb=get,list", "--resource=pods,deployments.apps", "--resource-name=x"], True),
    ("clusterrole", ["create", "clusterrole", "cr", "--verb=get", "--non-resource-url=/healthz"], True),
    ("rolebinding", ["create", "rolebinding", "rb", "--role=r", "--user=alice", "--serviceaccount=default:sa1"], True),
    ("clusterrolebinding", ["create", "clusterrolebinding", "crb", "--clusterrole=cr", "--group=g1"], True),
    ("namespace", ["create", "namespace", "n1"], True),
    ("serviceaccount", ["create", "serviceaccount", "sa1"], True),
    ("pdb", ["create", "pdb", "p", "--selector=app=web", "--min-available=50%"], True),
    ("quota", ["create", "quota", "q", "--hard=cpu=1,memory=1G,pods=2", "--scopes=BestEffort"], True),
    ("priorityclass", ["create", "priorityclass", "pc1", "--value=1000", "--description=d", "--preemption-policy=Never"], True),
    ("ingress", ["create", "ingress", "ing", "--class=nginx", "--rule=foo.com/bar*=svc1:8080,tls=my-cert", "--annotation=a=b"], True),
    ("hpa", ["autoscale", "deployment", "web", "--min=1", "--max=3", "--cpu-percent=50"], True),
    ("token", ["create", "token", "sa1"], False),
    ("selfsubjectaccessreview", ["auth", "can-i", "get", "pods", "-n", "default"], False),
    ("selfsubjectreview", ["auth", "whoami"], False),
]


def resources(group_version, items):
    out = []
    for name, kind, namespaced in items:
        out.append({"name": name, "singularName": "", "namespaced": namespaced, "kind": kind,
                    "verbs": ["create", "get", "list", "update", "patch", "delete"]})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": out}


def group(name, version="v1"):
    gv = {"groupVersion": f"{name}/{version}", "version": version}
    return {"name": name, "versions": [gv], "preferredVersion": gv}


DISCOVERY = {
    "/api": {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []},
    "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
        group("apps"), group("rbac.authorization.k8s.io"), group("autoscaling"),
    ]},
    "/api/v1": resources("v1", [("pods", "Pod", True), ("services", "Service", True), ("configmaps", "ConfigMap", True),
                                ("namespaces", "Namespace", False)]),
    "/apis/apps/v1": resources("apps/v1", [("deployments", "Deployment", True), ("deployments/scale", "Scale", True)]),
    "/apis/rbac.authorization.k8s.io/v1": resources("rbac.authorization.k8s.io/v1", [
        ("roles", "Role", True), ("rolebindings", "RoleBinding", True), ("clusterroles", "ClusterRole", False),
        ("clusterrolebindings", "ClusterRoleBinding", False)]),
    "/apis/autoscaling/v1": resources("autoscaling/v1", [("horizontalpodautoscalers", "HorizontalPodAutoscaler", True)]),
}

DEPLOYMENT = {"kind": "Deployment", "apiVersion": "apps/v1",
              "metadata": {"name": "web", "namespace": "default", "uid": "u1", "resourceVersion": "5"},
              "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                       "template": {"metadata": {"labels": {"app": "web"}},
                                    "spec": {"containers": [{"name": "busybox", "image": "busybox"}]}}}}

captured = []


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path = self.path.split("?")[0]
        if path in DISCOVERY:
            return self.reply(200, DISCOVERY[path])
        if path == "/apis/apps/v1/namespaces/default/deployments/web":
            return self.reply(200, DEPLOYMENT)
        self.reply(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404})

    def record(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        captured.append((self.command, self.path, self.headers.get("Content-Type"), body))
        self.reply(500, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": "captured",
                         "reason": "InternalError", "code": 500})

    do_POST = record
    do_PUT = record


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kubectl", default="kubectl")
    ap.add_argument("outdir")
    args = ap.parse_args()
    os.makedirs(args.outdir, exist_ok=True)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    work = tempfile.mkdtemp()
    kubeconfig = os.path.join(work, "kubeconfig")
    with open(kubeconfig, "w") as f:
        f.write(f"""apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "http://127.0.0.1:{server.server_port}"}}}}]
contexts: [{{name: c, context: {{cluster: c, user: u, namespace: default}}}}]
current-context: c
users: [{{name: u, user: {{token: x}}}}]
""")
    blob = os.path.join(work, "blob")
    with open(blob, "wb") as f:
        f.write(b"\xff\xfe\x00bin")  # not UTF-8: kubectl puts it in binaryData
    env = dict(os.environ, KUBECONFIG=kubeconfig)

    for name, argv, dry_run in COMMANDS:
        argv = [a.replace("{blob}", blob) for a in argv]
        captured.clear()
        subprocess.run([args.kubectl, *argv], env=env, capture_output=True)
        bodies = [c for c in captured if c[2] == "application/vnd.kubernetes.protobuf"]
        if not bodies:
            sys.stderr.write(f"{name}: kubectl sent no protobuf body ({[c[:3] for c in captured]})\n")
            continue
        with open(os.path.join(args.outdir, name + ".pb"), "wb") as f:
            f.write(bodies[-1][3])
        if dry_run:
            # Flags go before `--` so they are not taken as the container's command.
            cut = argv.index("--") if "--" in argv else len(argv)
            out = subprocess.run([args.kubectl, *argv[:cut], "--dry-run=client", "-o", "json", *argv[cut:]],
                                 env=env, capture_output=True, check=True, text=True).stdout
            json.loads(out)
            with open(os.path.join(args.outdir, name + ".json"), "w") as f:
                f.write(out)
        print(f"{name}: {bodies[-1][0]} {bodies[-1][1]} ({len(bodies[-1][3])} bytes)")
    server.shutdown()


if __name__ == "__main__":
    main()
