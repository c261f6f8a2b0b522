"""Build the simulator's compact request-body schemas from the official Azure OpenAPI documents.

Usage (from the repository root)::

    python tests/simulator/build_schema.py [--specs ../shared/specs] [--out tests/simulator/azsim/specdata]

Every Swagger 2.0 document under ``<specs>/specification`` that declares ``paths`` is read offline.
For each operation the script records the HTTP method, a normalised path template, the api-version
and (when the operation takes a JSON body) a compact schema of that body.  The output is one JSON
document, ``specdata/azure_specs.json``, consumed by ``azsim/schema.py``.  The build is deterministic:
no timestamps, sorted keys, names assigned after everything was collected.

What is translated, and how (see docs/dev/architecture.md, "The simulator"):

* ``$ref`` to files and JSON pointers are resolved; every ``#/definitions/X`` becomes one *named*
  definition (so shared and recursive types are stored once).  ``$ref`` to a file that is not present
  (the Network documents reference files deliberately not copied, see specs/MANIFEST.md) become an
  open object.  ``x-ms-examples`` are never read.
* ``allOf`` is flattened into the child (properties, required, readOnly, additionalProperties).
* ``discriminator`` on a base type becomes a value -> sub-type map (``x-ms-discriminator-value`` or
  the definition name), collected from every definition that ``allOf``-derives from the base.
* ``readOnly`` (and ``x-ms-mutability: ["read"]``) properties are listed per object; the validator
  accepts and ignores them (ARM ignores read-only values a client echoes back from a GET).
* ``x-ms-enum.modelAsString`` is kept as a flag (``x``): the validator treats such enums as closed in
  strict mode (the default) because resource providers validate them server-side; the few enums the
  specs themselves declare non-exhaustive (``OPEN_ENUMS``) keep no values at all.
* ``x-ms-client-flatten`` is a client-code hint: properties stay nested on the wire and here.
* ``type``, ``format``, ``required``, ``enum``, ``additionalProperties``, ``items``, ``x-nullable``,
  ``minimum``/``maximum`` (and exclusive), ``minLength``/``maxLength``, ``pattern``,
  ``minItems``/``maxItems`` are kept; descriptions, examples and client hints are dropped.

Compact node keys: t=type f=format p=properties r=required ro=readOnly props ap=additionalProperties
(node or true) i=items e=enum x=modelAsString n=nullable d/dm=discriminator property/map
mn/mx/xmn/xmx=minimum/maximum(/exclusive) mnl/mxl=min/maxLength pt=pattern mni/mxi=min/maxItems
$=reference to a named definition, nm=the definition's spec name (for messages).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys

HTTP_METHODS = ("get", "put", "post", "patch", "delete", "head")

# Enums the specs themselves declare non-exhaustive: any value is accepted.
# VirtualMachineSizeTypes: "The enum data type is currently deprecated ... The recommended way to get
# the list of available sizes is using these APIs" - confidential sizes (DCasv5, ECesv6...) are not in it.
OPEN_ENUMS = frozenset({"VirtualMachineSizeTypes"})

# Generic resource operations of Microsoft.Resources (PUT /{resourceId}, .../{resourceType}/{resourceName}):
# their api-version is the *target* provider's, so they say nothing about a concrete resource type and
# would only shadow unknown paths.  They are left out on purpose.
SKIPPED_OPERATION_PREFIXES = ("Resources_",)

OUTPUT_NAME = "azure_specs.json"
FORMAT_VERSION = 1

_VERSION_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")
_PARAM = re.compile(r"\{([^}]+)\}")


class SpecSet(object):
    """Loads spec files lazily and resolves references between them."""

    def __init__(self, root):
        self.root = os.path.abspath(root)
        self._files = {}
        self.missing_refs = set()

    def rel(self, path):
        return os.path.relpath(path, self.root).replace(os.sep, "/")

    def doc(self, path):
        path = os.path.normpath(path)
        if path not in self._files:
            if not os.path.isfile(path):
                self._files[path] = None
            else:
                with open(path, encoding="utf-8-sig") as fh:
                    self._files[path] = json.load(fh)
        return self._files[path]

    def split_ref(self, ref, base_file):
        """Return (absolute file, json pointer) for a $ref string seen in base_file."""
        file_part, pointer = ref.partition("#")[::2]
        target = base_file if not file_part else os.path.normpath(
            os.path.join(os.path.dirname(base_file), file_part))
        return target, pointer

    def lookup(self, path, pointer):
        node = self.doc(path)
        if node is None:
            return None
        for token in [t for t in pointer.split("/") if t != ""]:
            token = token.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                return None
        return node

    def deref(self, obj, base_file, _depth=0):
        """Follow $ref chains on non-schema objects (parameters). Returns (obj, file) or (None, file)."""
        while isinstance(obj, dict) and "$ref" in obj and _depth < 50:
            target, pointer = self.split_ref(obj["$ref"], base_file)
            obj, base_file = self.lookup(target, pointer), target
            _depth += 1
        return obj, base_file


def _api_version_of(spec_path, doc):
    parts = spec_path.replace(os.sep, "/").split("/")
    for part in reversed(parts[:-1]):
        if _VERSION_DIR.match(part):
            return part
    return str(doc.get("info", {}).get("version", ""))


def normalize_template(path, multi_params):
    """'/subscriptions/{subscriptionId}/x/{a}:reset' -> '/subscriptions/{}/x/{}:reset'.

    Path parameters marked x-ms-skip-url-encoding (scopes, resource ids) span several segments: '{*}'
    (except '...Name' parameters such as roleAssignmentName: a name is one segment).
    """
    path = path.split("?", 1)[0]
    if len(path) > 1:
        path = path.rstrip("/")

    def repl(match):
        return "{*}" if match.group(1) in multi_params else "{}"

    return _PARAM.sub(repl, path)


def resource_type_of(template, method="GET"):
    """'/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/virtualMachines/{}/start'
    -> 'Microsoft.Compute/virtualMachines'.  None for data-plane and generic paths."""
    segs = [s for s in template.split("/") if s]
    lower = [s.lower() for s in segs]
    if "providers" not in lower:
        if len(segs) >= 3 and lower[0] == "subscriptions" and lower[2] == "resourcegroups":
            return "Microsoft.Resources/resourceGroups"
        return None
    idx = len(lower) - 1 - lower[::-1].index("providers")
    rest = segs[idx + 1:]
    if not rest or "{" in rest[0]:
        return None
    types = rest[1::2]
    if any("{" in t for t in types):
        return None
    if method.upper() == "POST" and len(rest) >= 4 and len(rest) % 2 == 0:
        types = types[:-1]  # '.../virtualMachines/{}/start': an action on the resource, not a type
    return "/".join([rest[0]] + types)


def _short_tag(relpath):
    """'specification/compute/resource-manager/Microsoft.Compute/Compute/stable/2026-04-01/ComputeRP.json'
    -> 'compute/Microsoft.Compute/Compute/2026-04-01/ComputeRP' (unique, shorter)."""
    parts = relpath[:-5].split("/")
    drop = {"specification", "resource-manager", "stable"}
    return "/".join(p for p in parts if p not in drop)


class Builder(object):
    def __init__(self, specs_root):
        self.specs = SpecSet(specs_root)
        self.defs = {}          # key (relfile#pointer) -> compact node (filled by _build_def)
        self.def_names = {}     # key -> spec name
        self._building = set()
        self._flat_cache = {}
        self._subtypes = None
        self.operations = []
        self.sources = {}

    # ---------- discovery
    def spec_files(self):
        root = os.path.join(self.specs.root, "specification")
        found = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            if "/examples" in dirpath.replace(os.sep, "/"):
                continue
            for name in sorted(filenames):
                if name.endswith(".json"):
                    path = os.path.join(dirpath, name)
                    doc = self.specs.doc(path)
                    if isinstance(doc, dict) and (doc.get("paths") or doc.get("x-ms-paths")):
                        found.append(path)
        return sorted(found, key=self.specs.rel)

    def all_definition_files(self):
        root = os.path.join(self.specs.root, "specification")
        out = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            if "/examples" in dirpath.replace(os.sep, "/"):
                continue
            for name in sorted(filenames):
                if name.endswith(".json"):
                    out.append(os.path.join(dirpath, name))
        return sorted(out, key=self.specs.rel)

    # ---------- schema compaction
    def key_of(self, path, pointer):
        return "%s#%s" % (self.specs.rel(path), pointer)

    def ref_node(self, ref, base_file):
        """Compact node for a $ref: a named definition, an inline resolution, or an open object."""
        target, pointer = self.specs.split_ref(ref, base_file)
        obj = self.specs.lookup(target, pointer)
        if obj is None:
            self.specs.missing_refs.add("%s#%s" % (self.specs.rel(target), pointer))
            return {"t": "object"}  # open object: referenced file not present
        if re.match(r"^/definitions/[^/]+$", pointer):
            key = self.key_of(target, pointer)
            if key not in self.defs and key not in self._building:
                self._build_def(target, pointer)
            return {"$": key}
        return self.compact(obj, target)

    def _build_def(self, path, pointer):
        key = self.key_of(path, pointer)
        self._building.add(key)
        obj = self.specs.lookup(path, pointer)
        node = self.compact(obj, path)
        node["nm"] = pointer.rsplit("/", 1)[-1]
        sub = self.subtypes().get(key)
        if sub and node.get("d"):
            mapping = {}
            for value, (spath, spointer) in sorted(sub.items()):
                skey = self.key_of(spath, spointer)
                if skey not in self.defs and skey not in self._building:
                    self._build_def(spath, spointer)
                mapping[value] = skey
            node["dm"] = mapping
        self.defs[key] = node
        self.def_names[key] = node["nm"]
        self._building.discard(key)

    def subtypes(self):
        """base key -> {discriminator value: (file, pointer)} for every allOf-derived definition."""
        if self._subtypes is None:
            self._subtypes = {}
            for path in self.all_definition_files():
                doc = self.specs.doc(path)
                if not isinstance(doc, dict):
                    continue
                for name, schema in sorted((doc.get("definitions") or {}).items()):
                    for parent in schema.get("allOf") or []:
                        if not isinstance(parent, dict) or "$ref" not in parent:
                            continue
                        ppath, ppointer = self.specs.split_ref(parent["$ref"], path)
                        base = self.specs.lookup(ppath, ppointer)
                        if isinstance(base, dict) and base.get("discriminator"):
                            value = schema.get("x-ms-discriminator-value", name)
                            self._subtypes.setdefault(self.key_of(ppath, ppointer), {})[value] = (
                                path, "/definitions/" + name)
        return self._subtypes

    def flat(self, schema, path):
        """Full (not referenced) compact node of a schema, used to merge allOf parents."""
        if isinstance(schema, dict) and "$ref" in schema:
            target, pointer = self.specs.split_ref(schema["$ref"], path)
            obj = self.specs.lookup(target, pointer)
            if obj is None:
                self.specs.missing_refs.add("%s#%s" % (self.specs.rel(target), pointer))
                return {"t": "object"}
            cache_key = self.key_of(target, pointer)
            if cache_key not in self._flat_cache:
                self._flat_cache[cache_key] = None  # cycle guard
                self._flat_cache[cache_key] = self.compact(obj, target, for_merge=True)
            return self._flat_cache[cache_key] or {}
        return self.compact(schema, path, for_merge=True)

    def compact(self, schema, path, for_merge=False):
        if not isinstance(schema, dict):
            return {}
        if "$ref" in schema:
            node = self.ref_node(schema["$ref"], path)
            if schema.get("x-nullable") is True:
                node = dict(node, n=1)
            return node
        node = {}
        props, required, readonly = {}, set(), set()
        addl = None
        discriminator = None
        for parent in schema.get("allOf") or []:
            pnode = self.flat(parent, path)
            props.update(pnode.get("p", {}))
            required.update(pnode.get("r", []))
            readonly.update(pnode.get("ro", []))
            if "ap" in pnode:
                addl = pnode["ap"]
            if pnode.get("d") and not for_merge:
                pass  # a sub-type's own discriminator value is checked by the base's map
            if pnode.get("t"):
                node["t"] = pnode["t"]
        typ = schema.get("type")
        if isinstance(typ, str):
            node["t"] = typ
        for name, pschema in sorted((schema.get("properties") or {}).items()):
            if not isinstance(pschema, dict):
                continue
            props[name] = self.compact(pschema, path)
            ro = pschema.get("readOnly") is True or pschema.get("x-ms-mutability") == ["read"]
            if not ro and "$ref" in pschema:
                target, pointer = self.specs.split_ref(pschema["$ref"], path)
                tobj = self.specs.lookup(target, pointer)
                ro = isinstance(tobj, dict) and tobj.get("readOnly") is True
            if ro:
                readonly.add(name)
            else:
                readonly.discard(name)
        for name in schema.get("required") or []:
            required.add(name)
        if "additionalProperties" in schema:
            ap = schema["additionalProperties"]
            if ap is True or ap == {}:
                addl = True
            elif ap is False:
                addl = None
            elif isinstance(ap, dict):
                addl = self.compact(ap, path)
        if schema.get("discriminator"):
            discriminator = schema["discriminator"]
        if props:
            node["p"] = props
            node.setdefault("t", "object")
        if addl is not None:
            node["ap"] = addl
            node.setdefault("t", "object")
        req = sorted(r for r in required if r not in readonly)
        if req:
            node["r"] = req
        ro_list = sorted(r for r in readonly if r in props)
        if ro_list:
            node["ro"] = ro_list
        if discriminator:
            node["d"] = discriminator
        if "items" in schema:
            node["i"] = self.compact(schema["items"], path)
        if isinstance(schema.get("enum"), list):
            xenum = schema.get("x-ms-enum") or {}
            if xenum.get("name") not in OPEN_ENUMS:
                node["e"] = list(schema["enum"])
                if xenum.get("modelAsString") is True:
                    node["x"] = 1
        if isinstance(schema.get("format"), str):
            node["f"] = schema["format"]
        if schema.get("x-nullable") is True:
            node["n"] = 1
        for src, dst in (("minimum", "mn"), ("maximum", "mx"), ("minLength", "mnl"),
                         ("maxLength", "mxl"), ("pattern", "pt"), ("minItems", "mni"),
                         ("maxItems", "mxi")):
            if src in schema:
                node[dst] = schema[src]
        if schema.get("exclusiveMinimum") is True and "mn" in node:
            node["xmn"] = 1
        if schema.get("exclusiveMaximum") is True and "mx" in node:
            node["xmx"] = 1
        return node

    # ---------- operations
    def collect(self):
        for path in self.spec_files():
            doc = self.specs.doc(path)
            rel = self.specs.rel(path)
            with open(path, "rb") as fh:
                self.sources[rel] = hashlib.sha256(fh.read()).hexdigest()
            version = _api_version_of(rel, doc)
            for section in ("paths", "x-ms-paths"):
                for raw_path, item in sorted((doc.get(section) or {}).items()):
                    if not isinstance(item, dict):
                        continue
                    self._collect_item(path, rel, version, section, raw_path, item)

    def _params(self, path, raw):
        out = []
        for param in raw or []:
            obj, pfile = self.specs.deref(param, path)
            if isinstance(obj, dict):
                out.append((obj, pfile))
        return out

    def _collect_item(self, path, rel, version, section, raw_path, item):
        common = self._params(path, item.get("parameters"))
        for method in HTTP_METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            op_id = op.get("operationId", "")
            if op_id.startswith(SKIPPED_OPERATION_PREFIXES):
                continue
            merged = {}
            for obj, pfile in common + self._params(path, op.get("parameters")):
                merged[(obj.get("name"), obj.get("in"))] = (obj, pfile)
            multi = {name for (name, where), (obj, _pfile) in merged.items()
                     if where == "path" and obj.get("x-ms-skip-url-encoding") is True
                     and not str(name).lower().endswith("name")}
            entry = {
                "m": method.upper(),
                "t": normalize_template(raw_path, multi),
                "v": version,
                "id": op_id,
                "src": rel,
            }
            if section == "x-ms-paths":
                entry["xp"] = 1
            rtype = resource_type_of(entry["t"], entry["m"])
            if rtype:
                entry["rt"] = rtype
            bodies = [(obj, pfile) for (name, where), (obj, pfile) in sorted(
                merged.items(), key=lambda kv: str(kv[0])) if where == "body"]
            if bodies:
                obj, pfile = bodies[0]
                entry["bn"] = obj.get("name")
                if obj.get("required") is True:
                    entry["breq"] = 1
                entry["b"] = self.compact(obj.get("schema") or {}, pfile)
            self.operations.append(entry)

    # ---------- naming + output
    def _names(self):
        by_name = {}
        for key in self.defs:
            by_name.setdefault(self.def_names[key], []).append(key)
        names = {}
        for name, keys in by_name.items():
            if len(keys) == 1:
                names[keys[0]] = name
            else:
                for key in keys:
                    names[key] = "%s@%s" % (name, _short_tag(key.split("#", 1)[0]))
        return names

    def _rename(self, node, names):
        if isinstance(node, dict):
            out = {}
            for k, v in node.items():
                if k == "$":
                    out[k] = names[v]
                elif k == "dm":
                    out[k] = {dv: names[dk] for dv, dk in v.items()}
                elif k in ("p",):
                    out[k] = {pk: self._rename(pv, names) for pk, pv in v.items()}
                elif k in ("i", "ap", "b") and isinstance(v, dict):
                    out[k] = self._rename(v, names)
                else:
                    out[k] = v
            return out
        return node

    def result(self):
        names = self._names()
        ops = []
        seen = set()
        for entry in sorted(self.operations, key=lambda e: (
                e["t"].lower(), e["m"], e["v"], e.get("xp", 0), e["src"], e["id"])):
            ident = (entry["m"], entry["t"].lower(), entry["v"])
            if ident in seen:
                continue  # x-ms-paths disambiguation duplicates of a plain path
            seen.add(ident)
            ops.append(self._rename(entry, names))
        definitions = {names[k]: self._rename(v, names) for k, v in self.defs.items()}
        resource_types = {}
        for op in ops:
            if "rt" in op:
                resource_types.setdefault(op["rt"], set()).add(op["v"])
        return {
            "resource_types": {rt: sorted(v) for rt, v in sorted(resource_types.items())},
            "format": FORMAT_VERSION,
            "generator": "tests/simulator/build_schema.py",
            "sources": dict(sorted(self.sources.items())),
            "open_enums": sorted(OPEN_ENUMS),
            "unresolved_refs": sorted(self.specs.missing_refs),
            "operations": ops,
            "definitions": dict(sorted(definitions.items())),
        }


def _dump(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def render(data):
    """One operation / definition per line: compact yet diff-friendly, and byte-for-byte stable."""
    lines = ["{"]
    head = [k for k in sorted(data) if k not in ("operations", "definitions")]
    for k in head:
        lines.append("%s:%s," % (_dump(k), _dump(data[k])))
    lines.append('"operations":[')
    ops = data["operations"]
    for i, op in enumerate(ops):
        lines.append(_dump(op) + ("," if i + 1 < len(ops) else ""))
    lines.append('],"definitions":{')
    items = sorted(data["definitions"].items())
    for i, (name, node) in enumerate(items):
        lines.append("%s:%s%s" % (_dump(name), _dump(node), "," if i + 1 < len(items) else ""))
    lines.append("}}")
    return "\n".join(lines) + "\n"


INDEX_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "spec_index.json")
# What an upstream spec file defines, by its name (the official repository's file-per-resource-group layout).
KEYVAULT_KEYS = "data-plane/Microsoft.KeyVault/keys"     # the Key Vault keys data plane, as one "type"
_KV_TYPES = ("Microsoft.KeyVault/vaults", "Microsoft.KeyVault/vaults/accessPolicies", "Microsoft.KeyVault/deletedVaults",
             "Microsoft.KeyVault/locations/deletedVaults")
FILE_TYPES = {
    ("Microsoft.Compute", "virtualMachine.json"): ("Microsoft.Compute/virtualMachines",
                                                   "Microsoft.Compute/virtualMachines/instanceView"),
    ("Microsoft.Compute", "disk.json"): ("Microsoft.Compute/disks",),
    ("Microsoft.Compute", "diskEncryptionSet.json"): ("Microsoft.Compute/diskEncryptionSets",),
    ("Microsoft.Compute", "skus.json"): ("Microsoft.Compute/skus",),
    ("Microsoft.KeyVault", "keyvault.json"): _KV_TYPES,
    ("Microsoft.KeyVault", "openapi.json"): _KV_TYPES,
    ("Microsoft.Resources", "resources.json"): ("Microsoft.Resources/resourceGroups",
                                                "Microsoft.Resources/subscriptions/resourcegroups",
                                                "Microsoft.Resources/subscriptions/resources",
                                                "Microsoft.Resources/subscriptions/resourceGroups/resources",
                                                "Microsoft.Resources/subscriptions/providers",
                                                "Microsoft.Resources/providers"),
    ("Microsoft.Resources", "subscriptions.json"): ("Microsoft.Resources/subscriptions", "Microsoft.Resources/tenants",
                                                    "Microsoft.Resources/subscriptions/locations"),
    ("Microsoft.Authorization", "authorization-RoleAssignmentsCalls.json"): ("Microsoft.Authorization/roleAssignments",),
    ("Microsoft.Authorization", "authorization-RoleDefinitionsCalls.json"): ("Microsoft.Authorization/roleDefinitions",),
    ("data-plane/Microsoft.KeyVault", "keys.json"): (KEYVAULT_KEYS,),
}
_VERSION_DIR = re.compile(r"^(\d{4}-\d{2}-\d{2}(-preview)?|\d+\.\d+(-preview(\.\d+)?)?)$")


def upstream_files(index):
    """(spec path, where it was seen) of every file the index names."""
    out = [(f["path"], "%s@%s" % (f["path"], f["commit"])) for f in index.get("files", ())]
    for readme in index.get("readmes", ()):
        base = readme["path"].rsplit("/", 1)[0]
        for rel in readme["input_files"]:
            out.append((base + "/" + rel, "%s@%s" % (readme["path"], readme["commit"])))
    return out


def upstream_versions(index):
    """{resource type: {api-version: source}} of the index's files (api-version = the file's folder)."""
    out = {}
    for path, source in upstream_files(index):
        segs = path.split("/")
        version = segs[-2]
        namespace = next((s for s in segs if s.startswith("Microsoft.")), "")
        if "data-plane" in segs:
            namespace = "data-plane/" + namespace
        if not _VERSION_DIR.match(version):
            raise ValueError("%s: the folder of a spec file is its api-version" % path)
        types = FILE_TYPES.get((namespace, segs[-1]))
        if types is None:
            raise ValueError("%s: no FILE_TYPES entry for %s/%s" % (path, namespace, segs[-1]))
        for t in types:
            out.setdefault(t, {}).setdefault(version, source)
    return out


def build(specs_root, index_file=INDEX_FILE):
    """Return the rendered text of specdata/azure_specs.json for the specs under specs_root (plus the upstream
    api-versions that ``index_file`` lists)."""
    builder = Builder(specs_root)
    builder.collect()
    data = builder.result()
    index = {}
    if index_file:
        with open(index_file, encoding="utf-8") as fh:
            index = json.load(fh)
    upstream = upstream_versions(index)
    merged = {t: set(v) for t, v in data["resource_types"].items()}
    for op in data["operations"]:
        if "/data-plane/Microsoft.KeyVault/" in op["src"] and op["src"].endswith("/keys.json"):
            merged.setdefault(KEYVAULT_KEYS, set()).add(op["v"])
    for t, versions in upstream.items():
        merged.setdefault(t, set()).update(versions)
    data["api_versions"] = {t: sorted(v) for t, v in sorted(merged.items())}
    data["upstream_api_versions"] = {t: dict(sorted(v.items())) for t, v in sorted(upstream.items())}
    return render(data)


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(os.path.dirname(here))
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--specs", default=os.path.join(repo, "..", "shared", "specs"),
                        help="directory holding specification/ (default: ../shared/specs)")
    parser.add_argument("--out", default=os.path.join(here, "azsim", "specdata"),
                        help="output directory (default: tests/simulator/azsim/specdata)")
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 when the committed file differs from a fresh build")
    args = parser.parse_args(argv)
    if not os.path.isdir(os.path.join(args.specs, "specification")):
        parser.error("no specification/ directory under %s" % args.specs)
    text = build(args.specs)
    target = os.path.join(args.out, OUTPUT_NAME)
    if args.check:
        try:
            with open(target, encoding="utf-8") as fh:
                current = fh.read()
        except OSError:
            current = None
        if current != text:
            print("%s is stale: run python tests/simulator/build_schema.py" % target, file=sys.stderr)
            return 1
        print("%s is up to date" % target)
        return 0
    os.makedirs(args.out, exist_ok=True)
    with open(target, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    data = json.loads(text)
    print("wrote %s: %d operations (%d with a body), %d definitions, %d bytes" % (
        target, len(data["operations"]), sum(1 for o in data["operations"] if "b" in o),
        len(data["definitions"]), len(text.encode("utf-8"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
