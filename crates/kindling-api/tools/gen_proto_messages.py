#!/usr/bin/env python3
"""Generates crates/kindling-api/src/proto/messages.rs: the protobuf schema table that
`kindling_api::proto` uses to turn Kubernetes protobuf request bodies into JSON.

Inputs are plain checkouts of two upstream Go modules (not vendored here):

  * k8s.io/api          (github.com/kubernetes/api, tag v0.35.x)
  * k8s.io/apimachinery (github.com/kubernetes/apimachinery, same tag)

From each package directory it reads two things, as facts about the wire and JSON formats:

  * `generated.proto`: message names, field numbers, field names (go-to-protobuf names proto
    fields after their JSON names), scalar/message/map types, repeated or not.
  * the Go type definitions (`*.go`, not generated code): for every field, whether the Go field is
    a pointer, whether its JSON tag has `omitempty` and whether it is `,inline`. These decide which
    zero values the Go API server would keep when it re-encodes a decoded object as JSON (the
    protobuf schema cannot tell: gogo-protobuf writes every non-pointer field, zero or not).
    Go types that are slices (`type ExtraValue []string`) are marked so their one-field wrapper
    message is rendered as a JSON array.

Usage (rerun after bumping the Kubernetes version; `proto/mod.rs` declares the output module
`#[rustfmt::skip]`, so the one-line-per-field layout stays):

  git clone --depth 1 --branch v0.35.2 https://github.com/kubernetes/api /tmp/k8s-api
  git clone --depth 1 --branch v0.35.2 https://github.com/kubernetes/apimachinery /tmp/k8s-apimachinery
  python3 crates/kindling-api/tools/gen_proto_messages.py \
      --api /tmp/k8s-api --apimachinery /tmp/k8s-apimachinery \
      --version v0.35.2 > crates/kindling-api/src/proto/messages.rs

The script fails loudly on anything it does not understand (a proto construct, a message without
a Go type, a proto field without a Go field of the same number), rather than guessing.
The packages read are listed in PACKAGES below; a new API group is one line there.
"""

import argparse
import os
import re
import sys

# (module, directory inside the module). Every message of these packages is emitted.
PACKAGES = [
    ("api", "core/v1"),
    ("api", "apps/v1"),
    ("api", "batch/v1"),
    ("api", "autoscaling/v1"),
    ("api", "autoscaling/v2"),
    ("api", "coordination/v1"),
    ("api", "discovery/v1"),
    ("api", "networking/v1"),
    ("api", "storage/v1"),
    ("api", "rbac/v1"),
    ("api", "policy/v1"),
    ("api", "scheduling/v1"),
    ("api", "events/v1"),
    ("api", "certificates/v1"),
    ("api", "authentication/v1"),
    ("api", "authorization/v1"),
    ("api", "admissionregistration/v1"),
    ("api", "flowcontrol/v1"),
    ("api", "node/v1"),
    ("api", "resource/v1"),
    ("apimachinery", "pkg/apis/meta/v1"),
    ("apimachinery", "pkg/runtime"),
    ("apimachinery", "pkg/runtime/schema"),
    ("apimachinery", "pkg/util/intstr"),
    ("apimachinery", "pkg/api/resource"),
]

# Messages whose JSON form is not "an object of its fields" (custom MarshalJSON upstream).
SPECIAL = {
    "k8s.io.apimachinery.pkg.apis.meta.v1.Time": "Time",
    "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime": "MicroTime",
    "k8s.io.apimachinery.pkg.apis.meta.v1.Duration": "Duration",
    "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1": "RawJson",
    "k8s.io.apimachinery.pkg.runtime.RawExtension": "RawJson",
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": "IntOrString",
    "k8s.io.apimachinery.pkg.api.resource.Quantity": "Quantity",
    "k8s.io.apimachinery.pkg.api.resource.QuantityValue": "Quantity",
}

SCALARS = {
    "string": "Str",
    "bytes": "Bytes",
    "bool": "Bool",
    "int32": "I32",
    "int64": "I64",
    "uint32": "U32",
    "uint64": "U64",
    "double": "F64",
    "float": "F32",
}


def fail(msg):
    sys.stderr.write("gen_proto_messages: " + msg + "\n")
    sys.exit(1)


def strip_block_comments(text):
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def parse_proto(path):
    """Returns (package, [(message name, [field dicts])]) of a generated.proto."""
    text = strip_block_comments(open(path, encoding="utf-8").read())
    package = None
    messages = []
    current = None
    for raw in text.splitlines():
        line = raw.split("//", 1)[0].strip()
        if not line:
            continue
        m = re.match(r"package ([\w.]+);$", line)
        if m:
            package = m.group(1)
            continue
        if re.match(r"(syntax|import|option) ", line):
            continue
        m = re.match(r"message (\w+) \{$", line)
        if m:
            if current is not None:
                fail(f"{path}: nested message {m.group(1)}")
            current = (m.group(1), [])
            continue
        if line == "}":
            if current is None:
                fail(f"{path}: unbalanced brace")
            messages.append(current)
            current = None
            continue
        if current is None:
            fail(f"{path}: unexpected line outside a message: {line!r}")
        m = re.match(r"map<\s*([\w.]+)\s*,\s*([\w.]+)\s*>\s+(\w+)\s*=\s*(\d+)\s*;$", line)
        if m:
            current[1].append(
                {"card": "map", "key": m.group(1), "type": m.group(2), "name": m.group(3), "tag": int(m.group(4))}
            )
            continue
        m = re.match(r"(optional|repeated|required)\s+([\w.]+)\s+(\w+)\s*=\s*(\d+)\s*(\[[^\]]*\])?\s*;$", line)
        if m:
            card = "many" if m.group(1) == "repeated" else "one"
            current[1].append({"card": card, "type": m.group(2), "name": m.group(3), "tag": int(m.group(4))})
            continue
        fail(f"{path}: cannot parse {line!r}")
    if package is None:
        fail(f"{path}: no package")
    return package, messages


GO_FIELD = re.compile(r"^\s*(\w+)\s+(\S+)\s+`([^`]*)`\s*(//.*)?$")
GO_EMBEDDED = re.compile(r"^\s*([\w.*]+)\s+`([^`]*)`\s*(//.*)?$")


def tag_value(tags, key):
    m = re.search(key + r':"([^"]*)"', tags)
    return m.group(1) if m else None


def parse_go(directory):
    """Go facts of a package: {struct name: {proto tag: field facts}} and the set of slice types."""
    structs = {}
    slices = set()
    aliases = {}
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".go") or name.endswith("_test.go"):
            continue
        if name.startswith("zz_generated") or name.startswith("generated") or "swagger_doc" in name:
            continue
        current = None
        order = 0
        for line in open(os.path.join(directory, name), encoding="utf-8"):
            if current is None:
                m = re.match(r"^type (\w+) struct ?\{", line)
                if m:
                    fields = structs.setdefault(m.group(1), {})
                    if not line.rstrip().endswith("}"):  # `type Patch struct{}` has no body
                        current = fields
                        order = 0
                    continue
                m = re.match(r"^type (\w+) \[\]\w+\s*$", line)
                if m:
                    slices.add(m.group(1))
                m = re.match(r"^type (\w+) (?:(\w+)\.)?([A-Z]\w*)\s*$", line)
                if m:
                    aliases[m.group(1)] = (m.group(2), m.group(3))
                continue
            if line.startswith("}"):
                current = None
                continue
            if line.strip().startswith("//"):
                continue
            m = GO_FIELD.match(line)
            if m:
                go_type, tags = m.group(2), m.group(3)
            else:
                m = GO_EMBEDDED.match(line)
                if not m:
                    continue
                go_type, tags = m.group(1), m.group(2)
            proto = tag_value(tags, "protobuf")
            if proto is None or proto == "-":
                continue
            parts = proto.split(",")
            if len(parts) < 2 or not parts[1].isdigit():
                continue
            json_tag = tag_value(tags, "json")
            json_opts = (json_tag or "").split(",")
            order += 1
            current[int(parts[1])] = {
                "json": json_opts[0],
                "omitempty": "omitempty" in json_opts[1:],
                "inline": "inline" in json_opts[1:],
                "pointer": go_type.startswith("*"),
                "go_type": go_type,
                "skip": json_opts[0] == "-",
                "order": order,
            }
    return structs, slices, aliases


def group_name(directory):
    """The API group of a package (`const GroupName` in register.go, else `+groupName=` in doc.go);
    None for packages that are no API group (runtime, intstr, resource)."""
    register = os.path.join(directory, "register.go")
    if os.path.exists(register):
        m = re.search(r'^const GroupName = "([^"]*)"', open(register, encoding="utf-8").read(), re.M)
        if m:
            return m.group(1)
    doc = os.path.join(directory, "doc.go")
    if os.path.exists(doc):
        m = re.search(r"^// \+groupName=(\S*)\s*$", open(doc, encoding="utf-8").read(), re.M)
        if m:
            return m.group(1)
    return None


def const_name(directory):
    return re.sub(r"[^A-Z0-9]", "_", directory.upper()).replace("PKG_", "").replace("APIS_", "")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--api", required=True, help="checkout of k8s.io/api")
    ap.add_argument("--apimachinery", required=True, help="checkout of k8s.io/apimachinery")
    ap.add_argument("--version", required=True, help="the tag both checkouts are at, recorded in the output")
    args = ap.parse_args()
    roots = {"api": args.api, "apimachinery": args.apimachinery}

    all_aliases = []
    packages = []  # (const, proto package, definition prefix, group, version, messages, go structs, go slices)
    for module, sub in PACKAGES:
        directory = os.path.join(roots[module], sub)
        proto_package, messages = parse_proto(os.path.join(directory, "generated.proto"))
        structs, slices, aliases = parse_go(directory)
        if not proto_package.startswith("k8s.io."):
            fail(f"{directory}: unexpected proto package {proto_package}")
        # k8s.io.api.core.v1 -> io.k8s.api.core.v1, the OpenAPI definition prefix.
        definition_prefix = "io.k8s." + proto_package[len("k8s.io."):]
        group = group_name(directory)
        version = sub.rsplit("/", 1)[1] if group is not None else ""
        packages.append((const_name(sub), proto_package, definition_prefix, group, version, messages, structs, slices))
        all_aliases.append(aliases)

    # `type List metav1.List`: a named type of a struct of this or another package (metav1 only,
    # the one package these API packages define types from).
    meta_structs = next(p[6] for p in packages if p[1] == "k8s.io.apimachinery.pkg.apis.meta.v1")
    for p, aliases in zip(packages, all_aliases):
        for name, (qualifier, target) in aliases.items():
            source = meta_structs if qualifier == "metav1" else p[6] if qualifier is None else None
            if source is not None and target in source and name not in p[6]:
                p[6][name] = source[target]

    index = {p[1]: i for i, p in enumerate(packages)}
    known = {(p[1], name) for p in packages for name, _ in p[5]}

    def resolve(type_name, package):
        if type_name in SCALARS:
            return SCALARS[type_name]
        if type_name.startswith("."):
            full = type_name[1:]
        else:
            full = package + "." + type_name
        pkg, _, name = full.rpartition(".")
        if (pkg, name) not in known:
            fail(f"unknown message type {type_name} in {package}")
        return f'Msg({packages[index[pkg]][0]}, "{name}")'

    out = []
    w = out.append
    w("// @generated by crates/kindling-api/tools/gen_proto_messages.py from")
    w(f"// k8s.io/api and k8s.io/apimachinery {args.version} (generated.proto and Go type facts).")
    w("// Do not edit by hand: rerun the script (see its docstring).")
    w("")
    w("#![allow(dead_code)] // not every package constant is referred to")
    w("")
    w("use super::schema::{Card::*, Field, Message, Package, Special, Ty::*, INLINE, OMITEMPTY, POINTER};")
    w("")
    for i, p in enumerate(packages):
        w(f"pub(super) const {p[0]}: u8 = {i};")
    w("")
    w("pub(super) static PACKAGES: &[Package] = &[")
    for p in packages:
        group = "None" if p[3] is None else f'Some("{p[3]}")'
        w(f'    Package {{ definition_prefix: "{p[2]}", group: {group}, version: "{p[4]}" }},')
    w("];")
    w("")
    w("pub(super) static MESSAGES: &[Message] = &[")
    for const, proto_package, _, _, _, messages, structs, slices in packages:
        for name, fields in messages:
            full = proto_package + "." + name
            special = SPECIAL.get(full)
            go = structs.get(name)
            if special is None and name in slices:
                if len(fields) != 1 or fields[0]["card"] != "many":
                    fail(f"{full}: slice type without a single repeated field")
                special = "List"
            if special is None and go is None:
                fail(f"{full}: no Go struct found")
            rows = []
            for f in fields:
                facts = (go or {}).get(f["tag"])
                if facts is None:
                    if special is None:
                        fail(f"{full}.{f['name']}: no Go field with protobuf tag {f['tag']}")
                    facts = {"json": f["name"], "omitempty": False, "inline": False, "pointer": False,
                             "skip": False, "order": f["tag"]}
                if facts["skip"] and special is None:
                    continue
                json_name = "" if facts["inline"] else facts["json"]
                # The JSON name is the Go tag's: the proto name usually equals it, but not always
                # (IngressClassParametersReference's proto field `aPIGroup` is JSON `apiGroup`).
                flags = [k.upper() for k in ("pointer", "omitempty", "inline") if facts[k]]
                flags = " | ".join(flags) if flags else "0"
                ty = resolve(f["type"], proto_package)
                if f["card"] == "map":
                    card = f"Map({resolve(f['key'], proto_package)})"
                elif f["card"] == "many":
                    card = "Many"
                else:
                    card = "One"
                rows.append((facts["order"], f'Field {{ tag: {f["tag"]}, json: "{json_name}", ty: {ty}, card: {card}, flags: {flags} }},'))
            rows.sort(key=lambda r: r[0])
            special = special or "None"
            w(f'    Message {{ package: {const}, name: "{name}", special: Special::{special}, fields: &[')
            for _, row in rows:
                w("        " + row)
            w("    ] },")
    w("];")
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
