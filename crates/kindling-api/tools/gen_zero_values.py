#!/usr/bin/env python3
"""Generates crates/kindling-api/src/managed/zero_values.rs: which fields the JSON of a Go
zero value of each built-in type has, and with what value.

Upstream's field manager compares typed Go objects: a create is compared against the zero value
of the type, and every object is seen as Go serializes it, where struct fields that are not
pointers are always present (`spec: {}`, `strategy: {}`, `resources: {}`, `creationTimestamp:
null`) and fields without `omitempty` are present with their zero value (`containers: null`,
`selector: null`). That decides, for instance, that a created Deployment's `Update` entry has
`f:spec` without `.` (the zero Deployment already had a `spec`) but `f:rollingUpdate` with `.`
(a pointer, absent from the zero value). The OpenAPI document does not tell pointers from
values, so this script reads the Go types.

For every struct of k8s.io/api and k8s.io/apimachinery/pkg/apis/meta/v1, each field present in
the JSON of the zero value is listed with that value: `{}` for a nested struct (its own fields
are looked up in turn), or a JSON literal (`null`, `""`, `0`, `false`, and the zero values of
the types with their own JSON form: `null` for Time, `"0"` for Quantity, `0` for IntOrString).

Input: the k8s.io/api and k8s.io/apimachinery sources of the release kindling serves (tag
v0.35.2 of kubernetes/api and kubernetes/apimachinery), e.g. unpacked with

    git -C api archive v0.35.2 | tar -x -C /tmp/goapi/api
    git -C apimachinery archive v0.35.2 pkg/apis/meta/v1 pkg/types | tar -x -C /tmp/goapi/apimachinery

Usage:

    python3 crates/kindling-api/tools/gen_zero_values.py /tmp/goapi/api /tmp/goapi/apimachinery \
        crates/kindling-api/src/managed/zero_values.rs "<description of the input>"
"""

import json
import os
import re
import sys

API = "k8s.io/api/"
META = "k8s.io/apimachinery/pkg/apis/meta/v1"

# Types with their own JSON form, by import path and name: the JSON of their zero value.
SPECIAL = {
    (META, "Time"): "null",
    (META, "MicroTime"): "null",
    (META, "Duration"): '"0s"',
    ("k8s.io/apimachinery/pkg/api/resource", "Quantity"): '"0"',
    ("k8s.io/apimachinery/pkg/util/intstr", "IntOrString"): "0",
    ("k8s.io/apimachinery/pkg/runtime", "RawExtension"): "null",
}
STRING_TYPES = {("k8s.io/apimachinery/pkg/types", "UID"), ("k8s.io/apimachinery/pkg/types", "NodeName")}
NUMBERS = {"int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64",
           "float32", "float64", "byte"}

FIELD = re.compile(r'^\s*(\w+)\s+([^\s`]+)\s+`[^`]*json:"([^"]*)"')
EMBEDDED = re.compile(r'^\s*([\w.*]+)\s+`[^`]*json:"([^"]*)"')
IMPORT = re.compile(r'^\s*(?:(\w+)\s+)?"([^"]+)"')


def definition_prefix(pkg):
    if pkg.startswith(API):
        return "io.k8s.api." + pkg[len(API):].replace("/", ".")
    if pkg == META:
        return "io.k8s.apimachinery.pkg.apis.meta.v1"
    return None


def parse_package(path, pkg, structs, named):
    for name in sorted(os.listdir(path)):
        if not name.endswith(".go") or name.endswith("_test.go") or "generated" in name:
            continue
        with open(os.path.join(path, name), encoding="utf-8") as f:
            lines = f.read().split("\n")
        imports = {}
        in_import = False
        i = 0
        while i < len(lines):
            line = lines[i]
            if line.startswith("import ("):
                in_import = True
            elif in_import and line.startswith(")"):
                in_import = False
            elif in_import or line.startswith("import "):
                m = IMPORT.match(line.replace("import ", "", 1) if line.startswith("import ") else line)
                if m:
                    alias = m.group(1) or m.group(2).rsplit("/", 1)[-1]
                    imports[alias] = m.group(2)
            m = re.match(r"^type (\w+) struct \{\s*$", line)
            if m:
                fields = []
                i += 1
                while not lines[i].startswith("}"):
                    code = lines[i].split("//", 1)[0] if "`" not in lines[i] else lines[i]
                    fm = FIELD.match(code)
                    em = EMBEDDED.match(code)
                    if fm:
                        fields.append((fm.group(1), fm.group(2), fm.group(3)))
                    elif em:
                        fields.append(("", em.group(1), em.group(2)))
                    i += 1
                structs[(pkg, m.group(1))] = (fields, imports)
            else:
                m = re.match(r"^type (\w+) (\S.*)$", line)
                if m and not m.group(2).startswith(("struct", "interface")):
                    named[(pkg, m.group(1))] = (m.group(2).strip(), imports)
            i += 1


def resolve(t, pkg, imports):
    """(import path, name) of a type name as written in `pkg`."""
    if "." in t:
        alias, name = t.split(".", 1)
        return imports.get(alias, alias), name
    return pkg, t


def zero_of(t, pkg, imports, structs, named, depth=0):
    """The JSON of the zero value of type `t`: a literal, "{}" for a struct, None if unknown."""
    if t.startswith(("*", "[]", "map[")):
        return "null"
    if t == "string":
        return '""'
    if t == "bool":
        return "false"
    if t in NUMBERS:
        return "0"
    key = resolve(t, pkg, imports)
    if key in SPECIAL:
        return SPECIAL[key]
    if key in STRING_TYPES:
        return '""'
    if key in structs:
        return "{}"
    if key in named and depth < 5:
        underlying, imps = named[key]
        return zero_of(underlying, key[0], imps, structs, named, depth + 1)
    return None


def struct_fields(key, structs, named):
    """The fields present in the JSON of the zero value of struct `key`: [(json name, zero)]."""
    fields, imports = structs[key]
    out = []
    for go_name, t, tag in fields:
        parts = tag.split(",")
        json_name, opts = parts[0], parts[1:]
        if json_name == "-":
            continue
        # An embedded struct is inlined unless its tag names it (`metav1.ObjectMeta
        # `json:"metadata"``); TypeMeta and the like are inlined.
        if (go_name == "" and json_name == "") or "inline" in opts:
            inner = resolve(t.lstrip("*"), key[0], imports)
            if inner in structs and not t.startswith("*"):
                out.extend(struct_fields(inner, structs, named))
            continue
        zero = zero_of(t, key[0], imports, structs, named)
        if zero is None:
            continue
        omitempty = "omitempty" in opts
        is_struct = not t.startswith(("*", "[]", "map[")) and (
            zero == "{}" or resolve(t, key[0], imports) in SPECIAL)
        # encoding/json never omits a struct; omitempty drops every other zero value.
        if omitempty and not is_struct:
            continue
        out.append((json_name, zero))
    return out


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    api_dir, apimachinery_dir, dst = sys.argv[1], sys.argv[2], sys.argv[3]
    origin = sys.argv[4] if len(sys.argv) > 4 else f"{api_dir} {apimachinery_dir}"
    structs, named = {}, {}
    for root, _, files in os.walk(api_dir):
        if any(f.endswith(".go") for f in files):
            rel = os.path.relpath(root, api_dir)
            parse_package(root, API + rel, structs, named)
    parse_package(os.path.join(apimachinery_dir, "pkg/apis/meta/v1"), META, structs, named)
    rows = []
    for key in structs:
        prefix = definition_prefix(key[0])
        if prefix is None:
            continue
        for json_name, zero in struct_fields(key, structs, named):
            rows.append((f"{prefix}.{key[1]}", json_name, zero))
    rows.sort()
    out = [
        "// @generated by crates/kindling-api/tools/gen_zero_values.py — do not edit by hand.",
        f"// Source: {origin}",
        "",
        "/// The fields the JSON of a Go zero value has: (definition, JSON field, zero value as JSON,",
        "/// `{}` meaning the zero value of the field's own definition).",
        "#[rustfmt::skip]",
        "pub static ZERO_FIELDS: &[(&str, &str, &str)] = &[",
    ]
    for d, f, z in rows:
        out.append(f"    ({json.dumps(d)}, {json.dumps(f)}, {json.dumps(z)}),")
    out.append("];")
    with open(dst, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    print(f"wrote {len(rows)} rows to {dst}")


if __name__ == "__main__":
    main()
