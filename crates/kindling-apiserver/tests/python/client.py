"""The Python `kubernetes` client against a kindling API server: list namespaces, create a
ConfigMap, watch ConfigMaps (ADDED, MODIFIED, DELETED, with the watch parameter as the client
sends it), patch (strategic merge and JSON merge), delete. Run by tests/python_client.rs with
the admin kubeconfig as its argument; prints one line per step and exits non-zero on failure."""

import queue
import sys
import threading

from kubernetes import __version__, client, config, watch
from kubernetes.client.rest import ApiException

NS = "default"

config.load_kube_config(config_file=sys.argv[1])
v1 = client.CoreV1Api()
print(f"client {__version__}")

namespaces = {n.metadata.name for n in v1.list_namespace().items}
assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= namespaces, namespaces
print("listed namespaces")

# The watch starts from the list's revision, so it misses nothing that follows.
listed = v1.list_namespaced_config_map(NS, label_selector="app=py")
assert listed.items == [], listed.items
events = queue.Queue()


def watch_configmaps():
    w = watch.Watch()
    try:
        for event in w.stream(
            v1.list_namespaced_config_map,
            NS,
            label_selector="app=py",
            resource_version=listed.metadata.resource_version,
            timeout_seconds=30,
        ):
            events.put((event["type"], event["object"]))
            if event["type"] == "DELETED":
                w.stop()
    except Exception as e:  # noqa: BLE001 - handed to the main thread
        events.put(("EXCEPTION", e))


watcher = threading.Thread(target=watch_configmaps, daemon=True)
watcher.start()


def next_event(want):
    kind, obj = events.get(timeout=20)
    if kind == "EXCEPTION":
        raise obj
    assert kind == want, (kind, want, obj)
    assert obj.metadata.name == "py", obj.metadata
    return obj


cm = client.V1ConfigMap(
    metadata=client.V1ObjectMeta(name="py", labels={"app": "py"}),
    data={"a": "1"},
)
created = v1.create_namespaced_config_map(NS, cm)
assert created.metadata.uid and created.data == {"a": "1"}, created
print("created configmap")
added = next_event("ADDED")
assert added.metadata.resource_version == created.metadata.resource_version
print("watch saw ADDED")

# A dict body is sent as a strategic merge patch by default.
patched = v1.patch_namespaced_config_map(
    "py", NS, {"metadata": {"labels": {"tier": "x"}}, "data": {"b": "2"}}
)
assert patched.data == {"a": "1", "b": "2"}, patched.data
assert patched.metadata.labels == {"app": "py", "tier": "x"}, patched.metadata.labels
print("strategic merge patch")
modified = next_event("MODIFIED")
assert modified.data == {"a": "1", "b": "2"}, modified.data
print("watch saw MODIFIED")

patched = v1.patch_namespaced_config_map(
    "py",
    NS,
    {"data": {"a": None, "c": "3"}},
    _content_type="application/merge-patch+json",
)
assert patched.data == {"b": "2", "c": "3"}, patched.data
print("merge patch")
modified = next_event("MODIFIED")
assert modified.data == {"b": "2", "c": "3"}, modified.data

got = v1.read_namespaced_config_map("py", NS)
assert got.metadata.resource_version == patched.metadata.resource_version

v1.delete_namespaced_config_map("py", NS)
print("deleted configmap")
next_event("DELETED")
print("watch saw DELETED")
watcher.join(timeout=10)
try:
    v1.read_namespaced_config_map("py", NS)
    raise AssertionError("the ConfigMap is still there")
except ApiException as e:
    assert e.status == 404, e
    assert '"reason":"NotFound"' in e.body.replace(" ", ""), e.body

# CustomObjectsApi: a definition (the first client version to run makes it), then objects.
ext = client.ApiextensionsV1Api()
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "pythings.example.com"},
    "spec": {"group": "example.com", "scope": "Namespaced",
             "names": {"plural": "pythings", "singular": "pything", "kind": "PyThing"},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "subresources": {"status": {}},
                           "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                               "spec": {"type": "object", "properties": {"size": {"type": "integer"}}},
                               "status": {"type": "object", "properties": {"ok": {"type": "boolean"}}}}}}}]}}
try:
    ext.create_custom_resource_definition(CRD)
except ApiException as e:
    assert e.status == 409, e
for _ in range(100):
    crd = ext.read_custom_resource_definition("pythings.example.com")
    if any(c.type == "Established" and c.status == "True" for c in (crd.status.conditions or [])):
        break
    threading.Event().wait(0.05)
else:
    raise AssertionError("the CRD was never established")
custom = client.CustomObjectsApi()
custom.create_namespaced_custom_object("example.com", "v1", NS, "pythings", {
    "apiVersion": "example.com/v1", "kind": "PyThing", "metadata": {"name": "t1"}, "spec": {"size": 1}})
items = custom.list_namespaced_custom_object("example.com", "v1", NS, "pythings")["items"]
assert [i["metadata"]["name"] for i in items] == ["t1"], items
custom.patch_namespaced_custom_object("example.com", "v1", NS, "pythings", "t1", {"spec": {"size": 2}})
custom.patch_namespaced_custom_object_status("example.com", "v1", NS, "pythings", "t1", {"status": {"ok": True}})
t1 = custom.get_namespaced_custom_object("example.com", "v1", NS, "pythings", "t1")
assert t1["spec"]["size"] == 2 and t1["status"]["ok"] is True, t1
custom.delete_namespaced_custom_object("example.com", "v1", NS, "pythings", "t1")
print("custom objects")
print("ok")
