# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""In-memory Key Vault data plane, ARM and Graph for backend unit tests; every request is logged."""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import copy
import itertools
import json
import time

try:
    from urllib.parse import unquote, urlparse
except ImportError:  # pragma: no cover
    from urllib import unquote  # type: ignore
    from urlparse import urlparse  # type: ignore

from ansible_collections.confidential.azure.plugins.module_utils._azure import errors
from ansible_collections.confidential.azure.plugins.module_utils._azure.operation import Operation
from ansible_collections.confidential.azure.plugins.module_utils._azure.errors import AzureApiError
from ansible_collections.confidential.azure.plugins.module_utils._azure.principal import Principal
from ansible_collections.confidential.azure.plugins.module_utils._keyvault import release_policy as rp

SUB = "00000000-0000-0000-0000-0000000000aa"
TENANT = "00000000-0000-0000-0000-0000000000bb"
ORCH = "00000000-0000-0000-0000-0000000000cc"
AUTOMATION = "00000000-0000-0000-0000-0000000000ee"  # the principal running Ansible (oid of its token)
VAULT_ID = "/subscriptions/%s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1" % SUB
VAULT_URL = "https://kv1.vault.azure.net/"
_counter = itertools.count(1)


class Log(list):
    def writes(self):
        return [e for e in self if e[0] not in ("GET", "LIST")]

    def reads(self):
        return [e for e in self if e[0] in ("GET", "LIST")]


class FakeResponse(object):
    """What pipeline.ServiceRequests.send answers: status, headers, text, json, ok."""

    def __init__(self, status, headers, text):
        self.status, self.headers, self.text, self.access_wait = status, headers, text, None
        self.json = json.loads(text) if text else None
        self.ok = 200 <= status < 300


class FakeKv(object):
    """Key Vault keys data plane (2025-07-01 shapes)."""

    def __init__(self, log, vault_sku="premium"):
        self.log = log
        self.keys = {}  # name -> list of bundles (oldest first)
        self.deleted = {}  # soft-delete bin: name -> the versions a DELETE removed
        self.recovering = 0  # GETs of a just recovered key that still answer 404 (recovery takes a while)
        self.rotation = {}
        self.vault_sku = vault_sku
        self.fail_next = []
        self.challenges = 0  # requests answered with the 401 challenge (no token)

    def url(self, path, api_version=None, params=None):
        return VAULT_URL.rstrip("/") + path

    @staticmethod
    def _err(status, code, message):
        return status, {}, {"error": {"code": code, "message": message}}

    def send(self, method, path, api_version=None, body=None, params=None):
        status, headers, data = self.request(method, path, api_version, body, params)
        return FakeResponse(status, headers, json.dumps(data) if data is not None else "")

    @staticmethod
    def error_for(response, method, url):
        return errors.from_response(response.status, response.text, response.headers, method, url)

    def request(self, method, path, api_version=None, body=None, params=None):
        self.log.append((method, "kv:" + path, copy.deepcopy(body)))
        if self.fail_next:
            return self.fail_next.pop(0)
        parts = path.strip("/").split("/")
        name = parts[1] if len(parts) > 1 else None
        if parts[0] == "deletedkeys":
            return self._deleted_keys(method, name, parts)
        if method == "GET" and len(parts) == 2:
            if name in self.keys and self.recovering > 0:
                self.recovering -= 1
                return self._err(404, "KeyNotFound", "A key with (name/id) %s was not found in this key vault" % name)
            if name not in self.keys:
                return self._err(404, "KeyNotFound", "A key with (name/id) %s was not found in this key vault" % name)
            return 200, {}, copy.deepcopy(self.keys[name][-1])
        if method == "POST" and len(parts) == 3 and parts[2] == "create":
            return self._create(name, body)
        if method == "PATCH" and len(parts) == 3:
            versions = [b for b in self.keys.get(name, []) if b["key"]["kid"].endswith("/" + parts[2])]
            if not versions:
                return self._err(404, "KeyNotFound", "no such version")
            bundle = versions[0]
            if body.get("key_ops") is not None:
                bundle["key"]["key_ops"] = list(body["key_ops"])
            if body.get("tags") is not None:
                bundle["tags"] = dict(body["tags"])
            if (body.get("attributes") or {}).get("enabled") is not None:
                bundle["attributes"]["enabled"] = body["attributes"]["enabled"]
            if body.get("release_policy") is not None:
                if (bundle.get("release_policy") or {}).get("immutable"):
                    return self._err(400, "BadParameter", "AKV.SKR.1013: the release policy is immutable")
                bundle["release_policy"] = dict(body["release_policy"])
            return 200, {}, copy.deepcopy(bundle)
        if method == "DELETE" and len(parts) == 2:
            if name not in self.keys:
                return self._err(404, "KeyNotFound", "no such key")
            self.deleted[name] = self.keys.pop(name)
            return 200, {}, self._deleted_bundle(name)
        if method == "GET" and len(parts) == 3 and parts[2] == "versions":
            items = [{"kid": b["key"]["kid"], "attributes": b["attributes"]} for b in self.keys.get(name, [])]
            return 200, {}, {"value": items, "nextLink": None}
        if len(parts) == 3 and parts[2] == "rotationpolicy":
            if method == "GET":
                return 200, {}, copy.deepcopy(self.rotation.get(name, {
                    "id": "p", "lifetimeActions": [{"trigger": {"timeBeforeExpiry": "P30D"},
                                                    "action": {"type": "Notify"}}], "attributes": {}}))
            self.rotation[name] = copy.deepcopy(body)
            return 200, {}, copy.deepcopy(body)
        return self._err(400, "BadRequest", "fake kv: unsupported %s %s" % (method, path))

    def _deleted_bundle(self, name):
        bundle = copy.deepcopy(self.deleted[name][-1])
        bundle.update(recoveryId="%sdeletedkeys/%s" % (VAULT_URL, name), deletedDate=1700000100,
                      scheduledPurgeDate=1707776100)
        return bundle

    def _deleted_keys(self, method, name, parts):
        if name not in self.deleted:
            return self._err(404, "KeyNotFound", "Deleted Key not found: %s" % name)
        if method == "GET" and len(parts) == 2:
            return 200, {}, self._deleted_bundle(name)
        if method == "POST" and parts[2:] == ["recover"]:
            self.keys[name] = self.deleted.pop(name)
            return 200, {}, copy.deepcopy(self.keys[name][-1])
        return self._err(400, "BadRequest", "fake kv: unsupported %s deletedkeys" % method)

    def _create(self, name, body):
        if name in self.deleted:
            return 409, {}, {"error": {"code": "Conflict", "message": "Key %s is currently in a deleted but "
                                       "recoverable state, and its name cannot be reused; in this state, the key can "
                                       "only be recovered or purged." % name, "innererror": {
                                           "code": "ObjectIsDeletedButRecoverable"}}}
        kty = body.get("kty")
        attrs = body.get("attributes") or {}
        exportable = attrs.get("exportable", False)
        if kty == "RSA-HSM" and self.vault_sku == "standard":
            return self._err(400, "BadParameter", "Hardware key operation not allowed on standard vault")
        if exportable and not body.get("release_policy"):
            return self._err(400, "BadParameter", "AKV.SKR.1004: Exportable keys must have a release policy")
        if not exportable and body.get("release_policy"):
            return self._err(400, "BadParameter", "AKV.SKR.1005: Non-exportable keys must not have a release policy")
        if body.get("release_policy"):
            rp.check(rp.decode(body["release_policy"]))
        version = "%032x" % next(_counter)
        size = body.get("key_size") or 2048
        bundle = {
            "key": {"kid": "%skeys/%s/%s" % (VAULT_URL, name, version), "kty": kty,
                    "key_ops": list(body.get("key_ops") or []),
                    "n": rp.b64url_encode(b"\xc1" + b"\x01" * (size // 8 - 1)), "e": "AQAB"},
            "attributes": {"enabled": attrs.get("enabled", True), "exportable": exportable, "created": 1700000000,
                           "updated": 1700000000, "recoveryLevel": "Recoverable"},
            "tags": dict(body.get("tags") or {}),
        }
        if body.get("release_policy"):
            bundle["release_policy"] = dict(body["release_policy"], immutable=bool(body["release_policy"].get(
                "immutable")))
        self.keys.setdefault(name, []).append(bundle)
        return 200, {}, copy.deepcopy(bundle)


class FakeArm(object):
    """ARM: vaults (with accessPolicies/add), role assignments, resource list, defaultProvider."""

    def __init__(self, log):
        self.log = log
        self.store = {}
        self.assignments = []
        self.attest_uri = "https://sharedeus.eus.attest.azure.net"

    def url(self, path, api_version=None, params=None):
        return path

    @staticmethod
    def _k(path):
        return path.rstrip("/").lower()

    def add_vault(self, rbac=False, sku="premium", policies=None, vault_id=VAULT_ID):
        self.store[self._k(vault_id)] = {
            "id": vault_id, "name": vault_id.split("/")[-1], "type": "Microsoft.KeyVault/vaults", "location": "eastus",
            "properties": {"tenantId": TENANT, "sku": {"family": "A", "name": sku},
                           "enableRbacAuthorization": rbac, "enablePurgeProtection": True,
                           "softDeleteRetentionInDays": 90, "enableSoftDelete": True,
                           "vaultUri": "https://%s.vault.azure.net/" % vault_id.split("/")[-1],
                           "accessPolicies": list(policies or [])}}

    def get(self, path, api_version, params=None):
        self.log.append(("GET", path, params))
        if path.endswith("/defaultProvider"):
            return {"properties": {"attestUri": self.attest_uri}}
        res = self.store.get(self._k(path))
        return copy.deepcopy(res) if res else None

    def list(self, path, api_version, params=None):
        self.log.append(("LIST", path, params))
        flt = (params or {}).get("$filter", "")
        if path.endswith("/roleAssignments"):
            principal = flt.split("'")[1]
            return [copy.deepcopy(a) for a in self.assignments if a["properties"]["principalId"] == principal]
        if path.endswith("/resources"):
            name = flt.split("name eq '")[1].rstrip("'")
            return [{"id": r["id"], "name": r["name"], "type": r["type"]} for r in self.store.values()
                    if r.get("type") == "Microsoft.KeyVault/vaults" and r["name"].lower() == name.lower()]
        raise AssertionError("fake arm: unexpected list %s" % path)

    def put(self, path, api_version, body, wait=True, timeout=1800):
        self.log.append(("PUT", path, copy.deepcopy(body)))
        if path.endswith("/accessPolicies/add"):
            vault = self.store[self._k(path[:-len("/accessPolicies/add")])]
            for entry in body["properties"]["accessPolicies"]:
                policies = vault["properties"]["accessPolicies"]
                same = [p for p in policies if p["objectId"].lower() == entry["objectId"].lower()]
                if same:
                    for kind, perms in entry["permissions"].items():
                        have = same[0]["permissions"].setdefault(kind, [])
                        have.extend(p for p in perms if p not in have)
                else:
                    policies.append(copy.deepcopy(entry))
            return Operation(True, "Succeeded", copy.deepcopy(body), None, path, None)
        if "/roleAssignments/" in path:
            scope = path.split("/providers/Microsoft.Authorization/roleAssignments/")[0]
            for a in self.assignments:
                p = a["properties"]
                if p["scope"].lower() == scope.lower() and p["principalId"] == body["properties"]["principalId"] and \
                        p["roleDefinitionId"] == body["properties"]["roleDefinitionId"] and a["id"] != path:
                    raise AzureApiError(409, "RoleAssignmentExists", "The role assignment already exists.")
            entry = {"id": path, "properties": dict(body["properties"], scope=scope)}
            self.assignments = [a for a in self.assignments if a["id"] != path] + [entry]
            return Operation(True, "Succeeded", copy.deepcopy(entry), None, path, None)
        res = copy.deepcopy(body)
        res.update(id=path, name=path.rstrip("/").split("/")[-1])
        res.setdefault("properties", {})["provisioningState"] = "Succeeded"
        if "/vaults/" in path.lower():
            res["type"] = "Microsoft.KeyVault/vaults"
            res["properties"]["vaultUri"] = "https://%s.vault.azure.net/" % res["name"]
        self.store[self._k(path)] = res
        return Operation(True, "Succeeded", copy.deepcopy(res), None, path, None)

    def patch(self, path, api_version, body, wait=True, timeout=1800):
        self.log.append(("PATCH", path, copy.deepcopy(body)))
        res = self.store[self._k(path)]
        for key, value in body.items():
            if key == "properties":
                for pk, pv in value.items():
                    if isinstance(pv, dict) and isinstance(res["properties"].get(pk), dict):
                        res["properties"][pk].update(pv)
                    else:
                        res["properties"][pk] = copy.deepcopy(pv)
            else:
                res[key] = copy.deepcopy(value)
        return Operation(True, "Succeeded", copy.deepcopy(res), None, path, None)

    def delete(self, path, api_version, wait=True, timeout=1800):
        self.log.append(("DELETE", path, None))
        self.store.pop(self._k(path), None)
        return Operation(True, "Succeeded", None, None, path, None)


class FakeGraph(object):
    def __init__(self, log, object_id=ORCH):
        self.log = log
        self.object_id = object_id

    def url(self, path, api_version=None, params=None):
        return "https://graph" + path

    def request(self, method, path, api_version=None, body=None, params=None):
        self.log.append((method, "graph:" + path, None))
        if self.object_id is None:
            return 404, {}, {"error": {"code": "Request_ResourceNotFound", "message": "not found"}}
        return 200, {}, {"id": self.object_id, "appId": "bf7b6499-ff71-4aa2-97a4-f372087be7f0"}


class Failed(Exception):
    def __init__(self, msg, kwargs):
        super(Failed, self).__init__(msg)
        self.msg = msg
        self.kwargs = kwargs


class Cloud(object):
    keyvault_dns_suffix = "vault.azure.net"
    name = "AzureCloud"
    arm_endpoint = "https://management.azure.com"


class Credential(object):
    def __init__(self):
        self.scopes = []

    def get_token(self, *scopes, **_kwargs):
        from azure.core.credentials import AccessToken  # pylint: disable=import-outside-toplevel

        self.scopes.append(scopes)
        return AccessToken("token", int(time.time()) + 3600)


def kv_adapter(kv):
    """A requests adapter that is Key Vault for the real KeyClient: its challenge (401 with the tenant and
    resource) to a request without a token, FakeKv's answer to one with a token."""
    import requests  # pylint: disable=import-outside-toplevel
    from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._azure import (  # noqa: E501 pylint: disable=import-outside-toplevel
        test_clients as http)

    def respond(request, status, headers, data):
        headers = dict(headers, **{"Content-Type": "application/json; charset=utf-8"})
        return http.json_response(request, status, headers, data, "fake")

    class Adapter(requests.adapters.HTTPAdapter):
        def send(self, request, **_kwargs):  # pylint: disable=arguments-differ
            if not request.headers.get("Authorization"):
                kv.challenges += 1
                return respond(request, 401, {"WWW-Authenticate": 'Bearer authorization="https://login.microsoftonline'
                                              '.com/%s", resource="https://vault.azure.net"' % TENANT}, None)
            body = request.body
            if isinstance(body, bytes):
                body = body.decode()
            status, headers, data = kv.request(request.method, unquote(urlparse(request.url).path).rstrip("/"), None,
                                               json.loads(body) if body else None)
            return respond(request, status, headers, data)

    return Adapter()


class SdkSession(object):
    """What clients.SdkClients reads of an AzureSession."""

    def __init__(self):
        self.cloud = Cloud()
        self.connection_verify = True
        self.access_timeout = 0
        self.cred = Credential()

    def credential(self):
        return self.cred


def fake_sdk(kv):
    """The real SdkClients (KeyClient included) over HTTP answered by FakeKv."""
    import requests  # pylint: disable=import-outside-toplevel
    from azure.core.pipeline.transport import RequestsTransport  # pylint: disable=import-outside-toplevel

    from ansible_collections.confidential.azure.plugins.module_utils._azure import clients  # noqa

    http = requests.Session()
    http.mount("https://", kv_adapter(kv))
    return clients.SdkClients(SdkSession(), transport=RequestsTransport(session=http, session_owner=False),
                              sleep=lambda _s: None)


class Settings(object):
    tenant = TENANT


class Session(object):
    settings = Settings()

    def __init__(self, object_id=AUTOMATION, principal_type="ServicePrincipal"):
        self.object_id = object_id
        self.principal_type = principal_type

    def principal(self):
        return Principal(self.object_id, TENANT, self.principal_type)


class FakeModule(object):
    """What the backends use of AzureModule."""

    def __init__(self, params, check_mode=False, diff_mode=False, rbac=False, sku="premium", orchestrator=ORCH,
                 with_vault=True):
        self.params = params
        self.check_mode = check_mode
        self.diff_mode = diff_mode
        self.log = Log()
        self.kv = FakeKv(self.log, vault_sku=sku)
        self.arm = FakeArm(self.log)
        self.graph = FakeGraph(self.log, orchestrator)
        self.cloud = Cloud()
        self.session = Session()
        self._sdk = None
        self.subscription_id = SUB
        self.warnings = []
        if with_vault:
            self.arm.add_vault(rbac=rbac, sku=sku)

    @property
    def sdk(self):
        if self._sdk is None or self._sdk.kv is not self.kv:
            self._sdk = fake_sdk(self.kv)
            self._sdk.kv = self.kv
        return self._sdk

    def fail_json(self, msg, **kwargs):
        raise Failed(msg, kwargs)

    def warn(self, text):
        self.warnings.append(text)
