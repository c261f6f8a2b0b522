"""The generated spec data: committed == fresh build, deterministic, and the translation rules of
build_schema.py (refs, allOf, discriminator, recursion, read-only, enums, missing files)."""
from __future__ import annotations

import json
import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SIM = os.path.join(REPO, "tests", "simulator")
if SIM not in sys.path:
    sys.path.insert(0, SIM)

import build_schema  # noqa: E402
from azsim import schema  # noqa: E402

SPECS = os.path.join(REPO, "..", "shared", "specs")
COMMITTED = os.path.join(SIM, "azsim", "specdata", build_schema.OUTPUT_NAME)


@pytest.fixture(scope="module")
def fresh_build():
    return build_schema.build(SPECS)


def test_committed_specdata_equals_a_fresh_build(fresh_build):
    with open(COMMITTED, encoding="utf-8") as fh:
        committed = fh.read()
    assert committed == fresh_build, "run: python tests/simulator/build_schema.py"


def test_build_is_deterministic(fresh_build):
    assert build_schema.build(SPECS) == fresh_build


def test_specdata_is_compact_and_covers_every_operation_with_a_body(fresh_build):
    assert len(fresh_build.encode("utf-8")) < 2 * 1024 * 1024
    data = json.loads(fresh_build)
    with_body = {(o["m"], o["t"], o["v"]) for o in data["operations"] if "b" in o}
    vm = "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/virtualMachines/{}"
    des = "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/diskEncryptionSets/{}"
    net = "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/"
    kv = "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.KeyVault/vaults/{}"
    expected = {
        ("PUT", vm, "2026-04-01"), ("PUT", vm, "2024-07-01"), ("PATCH", vm, "2026-04-01"),
        ("PUT", des, "2026-03-02"), ("PUT", des, "2024-03-02"),
        ("PUT", "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/disks/{}", "2026-03-02"),
        ("PUT", net + "virtualNetworks/{}", "2024-05-01"), ("PUT", net + "virtualNetworks/{}/subnets/{}", "2024-05-01"),
        ("PUT", net + "networkInterfaces/{}", "2024-05-01"), ("PUT", net + "publicIPAddresses/{}", "2024-05-01"),
        ("PUT", net + "networkSecurityGroups/{}", "2024-05-01"),
        ("PUT", kv, "2024-11-01"), ("PUT", kv + "/accessPolicies/{}", "2024-11-01"),
        ("POST", "/keys/{}/create", "2025-07-01"), ("PATCH", "/keys/{}/{}", "2025-07-01"),
        ("POST", "/keys/{}/{}/release", "2025-07-01"),
        ("PUT", "/subscriptions/{}/resourcegroups/{}", "2025-04-01"),
        ("PUT", "/{*}/providers/Microsoft.Authorization/roleAssignments/{}", "2022-04-01"),
        ("POST", "/attest/SevSnpVm", "2025-06-01"), ("PUT", "/policies/{}", "2025-06-01"),
        ("PUT", "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Attestation/attestationProviders/{}",
         "2020-10-01"),
    }
    assert expected <= with_body
    assert data["resource_types"]["Microsoft.Compute/virtualMachines"] == ["2024-07-01", "2026-04-01"]
    assert data["resource_types"]["Microsoft.Compute/diskEncryptionSets"] == ["2024-03-02", "2026-03-02"]
    # resource SKUs have no body, their api-version is still known
    assert ("GET", "/subscriptions/{}/providers/Microsoft.Compute/skus", "2021-07-01") in {
        (o["m"], o["t"], o["v"]) for o in data["operations"]}
    # the network files reference files not copied: recorded, and validated as open objects
    assert any("loadBalancer.json" in ref for ref in data["unresolved_refs"])
    # every named reference resolves
    names = set(data["definitions"])
    refs = set()

    def walk(node):
        if isinstance(node, dict):
            if "$" in node:
                refs.add(node["$"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(data)
    assert refs <= names


def test_check_mode_reports_a_stale_file(tmp_path, capsys):
    out = tmp_path / "specdata"
    out.mkdir()
    assert build_schema.main(["--specs", SPECS, "--out", str(out), "--check"]) == 1
    assert build_schema.main(["--specs", SPECS, "--out", str(out)]) == 0
    assert build_schema.main(["--specs", SPECS, "--out", str(out), "--check"]) == 0
    capsys.readouterr()


# --------------------------------------------------------------------------- translation rules on a small spec

COMMON = {
    "swagger": "2.0", "info": {"title": "common", "version": "1.0"}, "paths": {},
    "definitions": {
        "Resource": {"type": "object", "properties": {
            "id": {"type": "string", "readOnly": True}, "name": {"type": "string", "readOnly": True},
            "location": {"type": "string", "x-ms-mutability": ["read", "create"]},
            "tags": {"type": "object", "additionalProperties": {"type": "string"}}},
            "required": ["location"], "x-ms-azure-resource": True},
    },
    "parameters": {"ApiVersionParameter": {"name": "api-version", "in": "query", "required": True,
                                           "type": "string"}},
}

ZOO = {
    "swagger": "2.0", "info": {"title": "zoo", "version": "2030-01-01"},
    "paths": {
        "/subscriptions/{subscriptionId}/resourceGroups/{rg}/providers/Contoso.Zoo/zoos/{zooName}": {
            "put": {
                "operationId": "Zoos_CreateOrUpdate",
                "parameters": [
                    {"$ref": "../../../../../common-types/v1/common.json#/parameters/ApiVersionParameter"},
                    {"name": "zooName", "in": "path", "required": True, "type": "string"},
                    {"$ref": "#/parameters/ZooBody"},
                ],
                "responses": {"200": {"description": "ok", "schema": {"$ref": "#/definitions/Zoo"}}},
                "x-ms-examples": {"create": {"$ref": "./examples/Zoo_Create.json"}},
            },
        },
        "/{scope}/providers/Contoso.Zoo/keepers/{keeperName}": {
            "parameters": [{"name": "scope", "in": "path", "required": True, "type": "string",
                            "x-ms-skip-url-encoding": True}],
            "put": {"operationId": "Keepers_Create", "parameters": [
                {"name": "keeperName", "in": "path", "required": True, "type": "string",
                 "x-ms-skip-url-encoding": True},
                {"name": "keeper", "in": "body", "schema": {"type": "object", "properties": {
                    "badge": {"type": "integer", "format": "int32", "minimum": 1, "maximum": 99}}}}],
                "responses": {"200": {"description": "ok"}}},
        },
    },
    "parameters": {"ZooBody": {"name": "zoo", "in": "body", "required": True, "schema": {"$ref": "#/definitions/Zoo"},
                               "x-ms-client-flatten": True}},
    "definitions": {
        "Zoo": {"allOf": [{"$ref": "../../../../../common-types/v1/common.json#/definitions/Resource"}],
                "properties": {"properties": {"$ref": "#/definitions/ZooProperties", "x-ms-client-flatten": True}}},
        "ZooProperties": {"type": "object", "properties": {
            "star": {"$ref": "#/definitions/Animal"},
            "animals": {"type": "array", "items": {"$ref": "#/definitions/Animal"}},
            "map": {"$ref": "#/definitions/Area"},
            "size": {"type": "string", "enum": ["Small", "Large"],
                     "x-ms-enum": {"name": "ZooSize", "modelAsString": True}},
            "kind": {"type": "string", "enum": ["Public", "Private"],
                     "x-ms-enum": {"name": "ZooKind", "modelAsString": False}},
            "code": {"type": "string", "pattern": "^[A-Z]{3}$", "maxLength": 3},
            "opened": {"type": "string", "format": "date-time"},
            "keeperId": {"type": "string", "format": "uuid"},
            "note": {"type": "string", "x-nullable": True},
            "gate": {"$ref": "./missing-file.json#/definitions/Gate"},
            "provisioningState": {"type": "string", "readOnly": True},
        }},
        "Animal": {"type": "object", "discriminator": "species", "required": ["species"], "properties": {
            "species": {"type": "string"}, "name": {"type": "string"}}},
        "Dog": {"x-ms-discriminator-value": "dog", "allOf": [{"$ref": "#/definitions/Animal"}],
                "properties": {"goodBoy": {"type": "boolean"}}},
        "Cat": {"allOf": [{"$ref": "#/definitions/Animal"}], "properties": {"lives": {"type": "integer"}},
                "required": ["lives"]},
        "Area": {"type": "object", "properties": {"name": {"type": "string"},
                                                  "children": {"type": "array", "items": {"$ref": "#/definitions/Area"}}}},
    },
}


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    root = tmp_path_factory.mktemp("specs")
    base = root / "specification" / "zoo" / "resource-manager"
    spec_dir = base / "Contoso.Zoo" / "stable" / "2030-01-01"
    spec_dir.mkdir(parents=True)
    (spec_dir / "zoo.json").write_text(json.dumps(ZOO))
    common = root / "specification" / "common-types" / "v1"
    common.mkdir(parents=True)
    (common / "common.json").write_text(json.dumps(COMMON))
    text = build_schema.build(str(root))
    assert build_schema.build(str(root)) == text
    return schema.Specs(json.loads(text))


ZOO_PATH = "/subscriptions/s1/resourceGroups/rg1/providers/Contoso.Zoo/zoos/z1"


def _zoo_issues(specs, props, **top):
    body = {"location": "eastus", "properties": props}
    body.update(top)
    return sorted((i.path, i.kind) for i in schema.validate_body("PUT", ZOO_PATH, "2030-01-01", body, specs=specs))


def test_synthetic_operation_is_found_with_its_api_version_from_the_folder(zoo):
    op = schema.find_operation("PUT", ZOO_PATH, "2030-01-01", specs=zoo)
    assert op.body_name == "zoo" and op.body_required and op.resource_type == "Contoso.Zoo/zoos"
    assert schema.api_versions("PUT", ZOO_PATH, specs=zoo) == {"2030-01-01"}


def test_allof_parent_properties_required_and_read_only_are_merged(zoo):
    assert _zoo_issues(zoo, {}) == []
    assert _zoo_issues(zoo, {}, id="/x", name="z1", tags={"a": "b"}) == []
    body = {"properties": {}}
    issues = schema.validate_body("PUT", ZOO_PATH, "2030-01-01", body, specs=zoo)
    assert [(i.path, i.kind) for i in issues] == [("location", "required")]
    assert _zoo_issues(zoo, {"provisioningState": 42}) == []  # read-only: ignored
    assert _zoo_issues(zoo, {}, tags={"a": 1}) == [("tags.a", "type")]


def test_discriminator_selects_the_sub_type(zoo):
    assert _zoo_issues(zoo, {"star": {"species": "dog", "goodBoy": True}}) == []
    assert _zoo_issues(zoo, {"star": {"species": "Cat", "lives": 9, "name": "Tom"}}) == []
    assert _zoo_issues(zoo, {"star": {"species": "Cat"}}) == [("properties.star.lives", "required")]
    assert _zoo_issues(zoo, {"animals": [{"species": "dog", "lives": 9}]}) == [
        ("properties.animals[0].lives", "unknown")]
    assert _zoo_issues(zoo, {"star": {"species": "unicorn"}}) == [("properties.star.species", "enum")]
    assert _zoo_issues(zoo, {"star": {"name": "x"}}) == [("properties.star.species", "required")]


def test_recursive_definitions(zoo):
    deep = {"name": "a", "children": [{"name": "b", "children": [{"name": "c", "children": [{"nme": "d"}]}]}]}
    assert _zoo_issues(zoo, {"map": deep}) == [("properties.map.children[0].children[0].children[0].nme", "unknown")]


def test_enums_formats_and_limits(zoo):
    assert _zoo_issues(zoo, {"size": "Small", "kind": "Public", "code": "ABC", "keeperId":
                             "0f0e0d0c-0000-4000-8000-000000000001", "opened": "2030-01-01T10:00:00Z"}) == []
    assert _zoo_issues(zoo, {"size": "Medium", "kind": "public", "code": "abcd", "keeperId": "nope",
                             "opened": "yesterday"}) == [
        ("properties.code", "format"), ("properties.code", "range"), ("properties.keeperId", "format"),
        ("properties.opened", "format"), ("properties.size", "enum")]     # "public": enums bind case-insensitively
    lenient = schema.validate_body("PUT", ZOO_PATH, "2030-01-01", {"location": "x", "properties": {
        "size": "Medium", "kind": "public"}}, strict=False, specs=zoo)
    assert lenient == []  # modelAsString open, case-insensitive
    closed = schema.validate_body("PUT", ZOO_PATH, "2030-01-01", {"location": "x", "properties": {
        "kind": "Secret"}}, strict=False, specs=zoo)
    assert [(i.path, i.kind) for i in closed] == [("properties.kind", "enum")]


def test_null_and_x_nullable(zoo):
    assert _zoo_issues(zoo, {"note": None, "size": None}) == []
    assert _zoo_issues(zoo, {"animals": [None]}) == [("properties.animals[0]", "type")]


def test_reference_to_a_missing_file_is_an_open_object(zoo):
    assert _zoo_issues(zoo, {"gate": {"anything": ["goes", 1]}}) == []
    assert _zoo_issues(zoo, {"gate": "closed"}) == [("properties.gate", "type")]


def test_multi_segment_scope_and_single_segment_names(zoo):
    scope = "/subscriptions/s1/resourceGroups/rg1/providers/Contoso.Zoo/zoos/z1"
    op = schema.find_operation("PUT", scope + "/providers/Contoso.Zoo/keepers/k1", "2030-01-01", specs=zoo)
    assert op is not None and op.operation_id == "Keepers_Create"
    assert schema.find_operation("PUT", scope + "/providers/Contoso.Zoo/keepers/k1/extra", "2030-01-01",
                                 specs=zoo) is None
    issues = schema.validate_body("PUT", scope + "/providers/Contoso.Zoo/keepers/k1", "2030-01-01",
                                  {"badge": 100}, specs=zoo)
    assert [(i.path, i.kind) for i in issues] == [("badge", "range")]
