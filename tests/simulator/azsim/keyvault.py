"""Key Vault data plane (keys): one loopback address per vault, challenge auth, SKR semantics."""
from __future__ import annotations

import base64
import json
import re
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

from . import catalog, jwt
from .oracle import skr_policy
from .core import ApiError, Response, det_uuid
from .routing import RouteTable

KEYS_TYPE = "data-plane/Microsoft.KeyVault/keys"    # specdata api_versions key (build_schema.KEYVAULT_KEYS)
SKR_MIN = ("7.3",)


def _kv_error(status, code, message, inner=None, headers=None) -> ApiError:
    err = {"code": code, "message": message}
    if inner:
        err["innererror"] = {"code": inner}
    return ApiError(status, code, message, headers=headers, body={"error": err})


def _version_key(v: str):
    """Order of Key Vault api-versions: 7.x (and previews) before the date-named ones."""
    m = re.match(r"^(\d+)\.(\d+)", v)
    return (0, int(m.group(1)), int(m.group(2)), "preview" not in v) if m else (1, v, 0, "preview" not in v)


def _version_ge_73(v: str) -> bool:
    if re.match(r"^\d{4}-\d{2}-\d{2}", v):
        return True
    m = re.match(r"^(\d+)\.(\d+)", v)
    return bool(m) and (int(m.group(1)), int(m.group(2))) >= (7, 3)


def _b64u_int(n: int) -> str:
    return jwt.int_b64u(n)


class KeyVaultDataPlane:
    def __init__(self, sim):
        self.sim = sim
        self.ip_map: dict[str, str] = {}   # vault name (lower) -> loopback ip, stable for the process
        self.vaults: dict[str, dict] = {}
        self._signing_key = None
        self._material = None
        self.table = self.build_routes()

    # ------------------------------------------------------------- registry
    def reset(self):
        self.vaults = {}

    def snapshot(self) -> dict:
        return {"ip_map": self.ip_map, "vaults": self.vaults}

    def restore(self, data: dict):
        self.ip_map.update(data.get("ip_map") or {})
        self.vaults = data.get("vaults") or {}

    def vault_ips(self):
        return [self.ip_map[n] for n in self.vaults if n in self.ip_map]

    def _ip_for(self, name: str) -> str:
        n = name.lower()
        if n not in self.ip_map:
            i = len(self.ip_map)
            self.ip_map[n] = "127.1.%d.%d" % (i // 250, i % 250 + 1)
        return self.ip_map[n]

    def register_vault(self, name: str, arm_id: str) -> str:
        n = name.lower()
        ip = self._ip_for(n)
        self.sim.ensure_listener(ip)
        v = self.vaults.setdefault(n, {"name": name, "keys": {}, "deleted": {}})
        v["arm_id"] = arm_id
        v["ip"] = ip
        return self.vault_uri(n)

    def vault_uri(self, n: str) -> str:
        return "https://%s:%d/" % (self.ip_map[n], self.sim.port)

    def delete_vault(self, name: str):
        self.vaults.pop(name.lower(), None)

    def vault_for_host(self, host: str):
        h = (host or "").split(":")[0]
        if not h.startswith("127.1."):
            return None
        for n, v in self.vaults.items():
            if v.get("ip") == h:
                return v
        return {"name": None, "ip": h}   # an address we served once, vault since deleted

    def arm_vault(self, vault) -> dict | None:
        return self.sim.arm.get(vault.get("arm_id", "")) if vault.get("arm_id") else None

    def resolve_key_url(self, url: str):
        m = re.match(r"^https://([^/]+)/keys/([^/]+)(?:/([^/]+))?/?$", url or "")
        if not m:
            return None, None
        vault = self.vault_for_host(m.group(1))
        if vault is None or vault.get("name") is None:
            return None, None
        return self.arm_vault(vault), self.find_key(vault, m.group(2), m.group(3))

    def find_key(self, vault, name, version=None):
        k = vault.get("keys", {}).get(name.lower())
        if k is None:
            return None
        ver = version or k["order"][-1]
        b = k["versions"].get(ver)
        return b

    # --------------------------------------------------------------- access
    def key_permissions(self, arm_vault: dict, key_name: str, object_id: str) -> set[str]:
        """Key permissions ``object_id`` holds on ``key_name`` in the vault (access policies or RBAC)."""
        if arm_vault is None or not object_id:
            return set()
        props = arm_vault["properties"]
        perms: set[str] = set()
        if props.get("enableRbacAuthorization"):
            scope = "%s/keys/%s" % (arm_vault["id"], key_name)
            for role in self.sim.arm.types["authorization"].roles_for(object_id, scope):
                perms |= catalog.role_key_permissions(role)
            return perms
        for ap in props.get("accessPolicies") or []:
            if (ap.get("objectId") or "").lower() == object_id.lower():
                for p in (ap.get("permissions") or {}).get("keys") or []:
                    if p.lower() == "all":
                        perms |= catalog.ALL_KEY_PERMS
                    else:
                        perms.add(p.lower())
        return perms

    # ------------------------------------------------------------- dispatch
    def build_routes(self) -> RouteTable:
        """Key Vault keys data plane (spec: specification/keyvault/data-plane/Microsoft.KeyVault/stable/2025-07-01/
        keys.json), each route with the key operation it performs (the access-policy permission name)."""
        t = RouteTable("keyvault")
        k = "/keys/{key-name}"
        t.add("GET", "/keys", self._list, key_op="list")
        t.add("POST", k + "/create", lambda req, m, c: self.create(req, c.vault, c.arm_vault, m["key-name"]),
              key_op="create")
        t.add("POST", k + "/rotate", lambda req, m, c: self.rotate(req, c.vault, c.arm_vault, m["key-name"]),
              key_op="rotate")
        t.add("GET", k + "/rotationpolicy",
              lambda req, m, c: Response(200, self._rotation_policy(c.vault, m["key-name"])), key_op="getrotationpolicy")
        t.add("PUT", k + "/rotationpolicy", lambda req, m, c: self.set_rotation_policy(req, c.vault, m["key-name"]),
              key_op="setrotationpolicy")
        t.add("GET", k + "/versions", self._list_versions, key_op="list")
        t.add("POST", k + "/{key-version}/release",
              lambda req, m, c: self.release(req, c.vault, c.arm_vault, m["key-name"], m["key-version"]),
              key_op="release")
        t.add("POST", k + "/release", lambda req, m, c: self.release(req, c.vault, c.arm_vault, m["key-name"], None),
              key_op="release")
        t.add("DELETE", k, lambda req, m, c: self.delete(c.vault, c.arm_vault, m["key-name"]), key_op="delete")
        for tmpl in (k, k + "/{key-version}"):
            t.add("GET", tmpl, lambda req, m, c: Response(200, self._bundle(
                c.vault, self._key(c.vault, m["key-name"]), m.get("key-version"))), key_op="get")
            t.add("PATCH", tmpl, lambda req, m, c: self.update(req, c.vault, c.arm_vault, m["key-name"],
                                                               m.get("key-version")), key_op="update")
        t.add("GET", "/deletedkeys", lambda req, m, c: Response(200, {"value": [
            self._deleted_item(c.vault, d) for d in c.vault["deleted"].values()], "nextLink": None}), key_op="list")
        t.add("GET", "/deletedkeys/{key-name}", lambda req, m, c: Response(200, self._deleted_bundle(
            c.vault, self._deleted(c.vault, m["key-name"]))), key_op="get")
        t.add("DELETE", "/deletedkeys/{key-name}", self._purge, key_op="purge")
        t.add("POST", "/deletedkeys/{key-name}/recover", self._recover, key_op="recover")
        return t

    def authenticate(self, req) -> dict:
        """Bearer token for this vault's resource, or 401 with the challenge the Key Vault SDKs follow."""
        resource = "https://" + self.sim.connection_info()["cloud_environment"]["keyvault_dns_suffix"]
        challenge = 'Bearer authorization="%s/%s", resource="%s"' % (self.sim.base_url, self.sim.tenant_id, resource)
        auth = req.headers.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            raise _kv_error(401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.",
                            headers={"WWW-Authenticate": challenge})
        try:
            claims = self.sim.entra.validate(auth[7:].strip())
        except jwt.JwtError:
            raise _kv_error(401, "Unauthorized", "AKV10032: Invalid issuer. Expected one of "
                            "https://sts.windows.net/%s/, found %s." % (self.sim.tenant_id, "?"),
                            headers={"WWW-Authenticate": challenge})
        if claims.get("exp", 0) < time.time():
            raise _kv_error(401, "Unauthorized", "AKV10013: Token has expired.", headers={"WWW-Authenticate": challenge})
        if str(claims.get("aud", "")).rstrip("/") != resource:
            raise _kv_error(401, "Unauthorized", "AKV10022: Invalid audience. Expected %s, found: %s."
                            % (resource, claims.get("aud")), headers={"WWW-Authenticate": challenge})
        return claims

    def prepare(self, req, vault) -> dict:
        """The vault exists, the api-version is one Key Vault serves, the body fits the spec: the ARM vault."""
        if vault is None or vault.get("name") is None:
            raise _kv_error(404, "VaultNotFound", "The vault was not found.")
        v = req.api_version
        if not v:
            raise _kv_error(400, "BadParameter", "The 'api-version' query parameter is missing.")
        # every version the keys data-plane specs define (specdata api_versions: ../shared/specs + spec_index.json)
        schema = self.sim.arm.sim_schema()
        allowed = schema.served_versions(KEYS_TYPE) | set(schema.api_versions(req.method, req.path) or ())
        if v not in allowed:
            raise _kv_error(400, "BadParameter", "The specified version (%s) is not recognized. Consider using the "
                            "latest supported version (%s)." % (v, max(allowed, key=_version_key)))
        if req.method in ("PUT", "PATCH", "POST") and schema is not None and req.body:
            issues = schema.validate_body(req.method, req.path, v, req.json(), unknown_api_version="closest")
            if issues:
                body = schema.to_arm_error(issues)
                raise ApiError(400, "BadParameter", "invalid body", body=body)
        arm_vault = self.arm_vault(vault)
        if arm_vault is None:
            raise _kv_error(404, "VaultNotFound", "The vault was not found.")
        return arm_vault

    def route(self, req):
        # an empty version segment ('keys/k//release', what the SDKs send without a version) means the latest
        m = self.table.match(req.method, re.sub("/{2,}", "/", req.path))
        if m is None:
            raise _kv_error(404, "NotFound", "The requested resource was not found: %s %s" % (req.method, req.path))
        return m

    def run(self, req, match, call) -> Response:
        material = self._pregenerate(req, call.vault)
        with self.sim.lock:
            self._material = material
            try:
                return match.route.handler(req, match, call)
            finally:
                self._material = None

    def _list(self, req, m, c):
        return Response(200, {"value": [self._item(c.vault, k) for k in c.vault["keys"].values()], "nextLink": None})

    def _list_versions(self, req, m, c):
        k = self._key(c.vault, m["key-name"])
        return Response(200, {"value": [self._item(c.vault, k, ver) for ver in k["order"]], "nextLink": None})

    def _deleted(self, vault, name):
        d = vault["deleted"].get(name.lower())
        if d is None:
            raise self._deleted_not_found(name)
        return d

    def _purge(self, req, m, c):
        name = m["key-name"]
        self._deleted(c.vault, name)
        if c.arm_vault["properties"].get("enablePurgeProtection"):
            raise _kv_error(403, "Forbidden", "Operation \"purge\" is not allowed because purge protection "
                            "is enabled for this vault. Key Vault service will automatically purge it after "
                            "the retention period has passed.", inner="PurgeProtectionEnabled")
        del c.vault["deleted"][name.lower()]
        self.sim.mark_dirty()
        return Response(204)

    def _recover(self, req, m, c):
        name = m["key-name"]
        d = self._deleted(c.vault, name)
        del c.vault["deleted"][name.lower()]
        c.vault["keys"][name.lower()] = d["key"]
        self.sim.mark_dirty()
        return Response(200, self._bundle(c.vault, d["key"]))

    def _pregenerate(self, req, vault):
        """Generate key material for create/rotate BEFORE taking the simulator lock (RSA-3072 takes a while)."""
        segs = [s.lower() for s in req.path.split("/") if s]
        if req.method != "POST" or len(segs) != 3 or segs[0] != "keys" or segs[2] not in ("create", "rotate"):
            return None
        try:
            if segs[2] == "create":
                body = req.json()
                kty, size, crv = body.get("kty") or "", body.get("key_size"), body.get("crv")
            else:
                k = vault.get("keys", {}).get(segs[1])
                if k is None:
                    return None
                last = k["versions"][k["order"][-1]]["key"]
                kty, crv = last["kty"], last.get("crv")
                size = len(jwt.b64u_decode(last["n"])) * 8 if kty.startswith("RSA") else None
            return (kty, size, crv), self._new_material(kty, size, crv)
        except (ApiError, ValueError, KeyError, TypeError):
            return None     # the locked path reports the error

    # ---------------------------------------------------------------- keys
    def _not_found(self, name, version=None):
        ident = name if version is None else "%s/%s" % (name, version)
        return _kv_error(404, "KeyNotFound", "A key with (name/id) %s was not found in this key vault. If you recently "
                         "deleted this key you may be able to recover it using the correct recovery command. For help "
                         "resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182" % ident)

    def _deleted_not_found(self, name):
        return _kv_error(404, "KeyNotFound", "Deleted Key not found: %s" % name)

    def _key(self, vault, name):
        k = vault["keys"].get(name.lower())
        if k is None:
            raise self._not_found(name)
        return k

    def _kid(self, vault, name, ver):
        return "%skeys/%s/%s" % (self.vault_uri(vault["name"].lower()), name, ver)

    def _recovery(self, arm_vault):
        p = arm_vault["properties"]
        if not p.get("enableSoftDelete", True):
            return "Purgeable", 0
        days = p.get("softDeleteRetentionInDays", 90)
        if p.get("enablePurgeProtection"):
            return ("Recoverable" if days >= 90 else "CustomizedRecoverable"), days
        return ("Recoverable+Purgeable" if days >= 90 else "CustomizedRecoverable+Purgeable"), days

    def _bundle(self, vault, k, ver=None) -> dict:
        ver = ver or k["order"][-1]
        b = k["versions"].get(ver)
        if b is None:
            raise self._not_found(k["name"], ver)
        out = {"key": dict(b["key"]), "attributes": dict(b["attributes"])}
        if b.get("tags"):
            out["tags"] = b["tags"]
        if b.get("release_policy"):
            out["release_policy"] = b["release_policy"]
        return out

    def _item(self, vault, k, ver=None) -> dict:
        b = self._bundle(vault, k, ver)
        out = {"kid": b["key"]["kid"] if ver else b["key"]["kid"].rsplit("/", 1)[0], "attributes": b["attributes"]}
        if b.get("tags"):
            out["tags"] = b["tags"]
        return out

    def _check_skr(self, req, arm_vault, kty, exportable, policy):
        premium = (arm_vault["properties"].get("sku") or {}).get("name", "").lower() == "premium"
        if kty and kty.endswith("-HSM") and not premium:
            raise _kv_error(400, "BadParameter", "Hardware key operation not allowed on standard vault",
                            inner="HardwareKeyNotAllowed")
        if exportable and (not premium or not _version_ge_73(req.api_version)):
            raise _kv_error(400, "BadParameter", "AKV.SKR.1001: The exportable attribute is only supported with "
                            "premium vaults and API version >= '7.3-preview'.")
        if exportable and not policy:
            raise _kv_error(400, "BadParameter", "AKV.SKR.1004: Exportable keys must have release policy.")
        if policy and not exportable:
            raise _kv_error(400, "BadParameter", "AKV.SKR.1005: Non-exportable keys must not have release policy.")
        if policy:
            self._parse_policy(policy)

    def _parse_policy(self, policy):
        data = policy.get("data")
        try:
            doc = json.loads(jwt.b64u_decode(data or ""))
        except Exception:  # noqa: BLE001 - any decoding problem
            raise _kv_error(400, "BadParameter", "AKV.SKR.1004: Exportable keys must have release policy. The release "
                            "policy data could not be decoded as base64url-encoded JSON.")
        try:
            skr_policy.validate(doc)
        except skr_policy.PolicyError as exc:
            raise _kv_error(400, "BadParameter", "Invalid release policy: %s." % exc)
        return doc

    def _new_material(self, kty, size, crv):
        if kty.startswith("RSA"):
            size = int(size or 2048)
            if size not in (2048, 3072, 4096):
                raise _kv_error(400, "BadParameter", "Invalid key size %s. Supported sizes: 2048, 3072, 4096." % size)
            key = rsa.generate_private_key(65537, size)
            nums = key.public_key().public_numbers()
            pub = {"n": _b64u_int(nums.n), "e": _b64u_int(nums.e)}
        elif kty.startswith("EC"):
            curves = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1(),
                      "P-256K": ec.SECP256K1()}
            crv = crv or "P-256"
            if crv not in curves:
                raise _kv_error(400, "BadParameter", "Invalid curve name %s." % crv)
            key = ec.generate_private_key(curves[crv])
            nums = key.public_key().public_numbers()
            ln = (key.curve.key_size + 7) // 8
            pub = {"crv": crv, "x": jwt.b64u(nums.x.to_bytes(ln, "big")), "y": jwt.b64u(nums.y.to_bytes(ln, "big"))}
        else:
            raise _kv_error(400, "BadParameter", "Key type '%s' is not supported by this vault." % kty)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
        return pub, pem

    def create(self, req, vault, arm_vault, name):
        if not re.match(r"^[0-9a-zA-Z-]{1,127}$", name):
            raise _kv_error(400, "BadParameter", "The request URI contains an invalid name: %s" % name)
        if name.lower() in vault["deleted"]:
            raise _kv_error(409, "Conflict", "Key %s is currently in a deleted but recoverable state, and its name "
                            "cannot be reused; in this state, the key can only be recovered or purged." % name,
                            inner="ObjectIsDeletedButRecoverable")
        body = req.json()
        kty = body.get("kty")
        if kty not in ("RSA", "RSA-HSM", "EC", "EC-HSM", "oct-HSM"):
            raise _kv_error(400, "BadParameter", "The parameter kty is invalid: %s" % kty)
        attrs = dict(body.get("attributes") or {})
        exportable = bool(attrs.get("exportable"))
        policy = body.get("release_policy")
        existing = vault["keys"].get(name.lower())
        if existing is not None:
            prev = existing["versions"][existing["order"][-1]]
            if prev["attributes"].get("exportable") != exportable and "exportable" in attrs:
                pass  # a new version may change it; Key Vault allows it on create
        self._check_skr(req, arm_vault, kty, exportable, policy)
        return Response(200, self._add_version(vault, arm_vault, name, kty, body.get("key_size"), body.get("crv"),
                                               body.get("key_ops"), attrs, body.get("tags"), policy))

    def _add_version(self, vault, arm_vault, name, kty, size, crv, key_ops, attrs, tags, policy):
        pre = getattr(self, "_material", None)
        if pre is not None and pre[0] == (kty, size, crv):
            pub, pem = pre[1]
        else:
            pub, pem = self._new_material(kty, size, crv)
        k = vault["keys"].setdefault(name.lower(), {"name": name, "order": [], "versions": {}})
        ver = det_uuid("keyversion", vault["name"].lower(), name.lower(), len(k["order"])).replace("-", "")
        now = int(time.time())
        level, days = self._recovery(arm_vault)
        ops = key_ops or (["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"] if kty.startswith("RSA")
                          else ["sign", "verify"])
        key = dict({"kid": self._kid(vault, name, ver), "kty": kty, "key_ops": list(ops)}, **pub)
        a = {"enabled": attrs.get("enabled", True), "created": now, "updated": now, "recoveryLevel": level,
             "recoverableDays": days, "exportable": bool(attrs.get("exportable"))}
        for opt in ("nbf", "exp"):
            if attrs.get(opt) is not None:
                a[opt] = attrs[opt]
        bundle = {"key": key, "attributes": a, "_pem": pem, "_name": name}
        if tags:
            bundle["tags"] = tags
        if policy:
            bundle["release_policy"] = {"contentType": policy.get("contentType") or "application/json; charset=utf-8",
                                        "data": policy["data"], "immutable": bool(policy.get("immutable"))}
        k["versions"][ver] = bundle
        k["order"].append(ver)
        self.sim.mark_dirty()
        return self._bundle(vault, k, ver)

    def rotate(self, req, vault, arm_vault, name):
        k = self._key(vault, name)
        last = k["versions"][k["order"][-1]]
        size = None
        if last["key"]["kty"].startswith("RSA"):
            size = len(jwt.b64u_decode(last["key"]["n"])) * 8
        return Response(200, self._add_version(vault, arm_vault, name, last["key"]["kty"], size,
                                               last["key"].get("crv"), last["key"]["key_ops"], last["attributes"],
                                               last.get("tags"), last.get("release_policy")))

    def update(self, req, vault, arm_vault, name, ver):
        k = self._key(vault, name)
        ver = ver or k["order"][-1]
        b = k["versions"].get(ver)
        if b is None:
            raise self._not_found(name, ver)
        body = req.json()
        attrs = body.get("attributes") or {}
        if "exportable" in attrs and bool(attrs["exportable"]) != bool(b["attributes"].get("exportable")):
            raise _kv_error(400, "BadParameter", "AKV.SKR.1014: Cannot modify the exportable state of a key.")
        policy = body.get("release_policy")
        if policy is not None:
            old = b.get("release_policy")
            if old and old.get("immutable"):
                raise _kv_error(400, "BadParameter", "The release policy of key '%s' is immutable and cannot be "
                                "changed." % name)
            if not b["attributes"].get("exportable"):
                raise _kv_error(400, "BadParameter", "AKV.SKR.1005: Non-exportable keys must not have release "
                                "policy.")
            self._parse_policy(policy)
            b["release_policy"] = {"contentType": policy.get("contentType") or "application/json; charset=utf-8",
                                   "data": policy["data"], "immutable": bool(policy.get("immutable"))}
        for opt in ("enabled", "nbf", "exp"):
            if opt in attrs:
                b["attributes"][opt] = attrs[opt]
        if body.get("key_ops") is not None:
            b["key"]["key_ops"] = list(body["key_ops"])
        if body.get("tags") is not None:
            b["tags"] = body["tags"]
        b["attributes"]["updated"] = int(time.time())
        self.sim.mark_dirty()
        return Response(200, self._bundle(vault, k, ver))

    def delete(self, vault, arm_vault, name):
        k = self._key(vault, name)
        del vault["keys"][name.lower()]
        now = int(time.time())
        level, days = self._recovery(arm_vault)
        d = {"key": k, "deletedDate": now, "scheduledPurgeDate": now + days * 86400}
        if arm_vault["properties"].get("enableSoftDelete", True):
            vault["deleted"][name.lower()] = d
        self.sim.mark_dirty()
        return Response(200, self._deleted_bundle(vault, d))

    def _deleted_bundle(self, vault, d):
        b = self._bundle(vault, d["key"])
        b.update({"recoveryId": "%sdeletedkeys/%s" % (self.vault_uri(vault["name"].lower()), d["key"]["name"]),
                  "deletedDate": d["deletedDate"], "scheduledPurgeDate": d["scheduledPurgeDate"]})
        return b

    def _deleted_item(self, vault, d):
        b = self._deleted_bundle(vault, d)
        return {"kid": b["key"]["kid"].rsplit("/", 1)[0], "attributes": b["attributes"], "recoveryId": b["recoveryId"],
                "deletedDate": b["deletedDate"], "scheduledPurgeDate": b["scheduledPurgeDate"]}

    # ------------------------------------------------------------ rotation
    def _rotation_policy(self, vault, name):
        k = self._key(vault, name)
        pol = k.get("rotation_policy") or {
            "lifetimeActions": [{"trigger": {"timeBeforeExpiry": "P30D"}, "action": {"type": "Notify"}}],
            "attributes": {"created": k["versions"][k["order"][0]]["attributes"]["created"],
                           "updated": k["versions"][k["order"][0]]["attributes"]["created"]}}
        return dict({"id": "%skeys/%s/rotationpolicy" % (self.vault_uri(vault["name"].lower()), k["name"])}, **pol)

    def set_rotation_policy(self, req, vault, name):
        k = self._key(vault, name)
        body = req.json()
        for la in body.get("lifetimeActions") or []:
            t = (la.get("action") or {}).get("type", "")
            if t.lower() not in ("rotate", "notify"):
                raise _kv_error(400, "BadParameter", "Invalid lifetime action type '%s'." % t)
        now = int(time.time())
        old = k.get("rotation_policy") or {}
        attrs = dict(body.get("attributes") or {})
        attrs["created"] = (old.get("attributes") or {}).get("created", now)
        attrs["updated"] = now
        k["rotation_policy"] = {"lifetimeActions": body.get("lifetimeActions") or [], "attributes": attrs}
        self.sim.mark_dirty()
        return Response(200, self._rotation_policy(vault, name))

    # ------------------------------------------------------------- release
    def release(self, req, vault, arm_vault, name, ver):
        """Release a key version (the latest when the URL names none: keys.json's ``key-version`` "Adding the
        version parameter retrieves a specific version of a key"; the Azure SDK's recorded release test omits it).
        A disabled version is refused like Key Vault's other private-key operations: 403 Forbidden "Operation X is
        not allowed on a disabled key." with inner error KeyDisabled (Azure/azure-sdk-for-python issue 45342 quotes
        the service's answer).

        Not refused: a version past its ``exp`` or before its ``nbf`` (Microsoft Learn "Key types, algorithms, and
        operations": a key "MUST NOT be used for cryptographic operation, except for decrypt, release, unwrap, and
        verify"). The body is keys.json's KeyReleaseParameters: ``target`` (required, minLength 1), ``nonce``,
        ``enc`` (KeyEncryptionAlgorithm; absent means CKM_RSA_AES_KEY_WRAP); nothing else names the token."""
        if not _version_ge_73(req.api_version or ""):
            # the release operation first appears in the 7.3 keys data-plane spec (Microsoft Learn "Release - Release":
            # api-version 7.3 and later; the exportable attribute's own rule, AKV.SKR.1001, says the same)
            raise _kv_error(400, "BadParameter", "The release operation is only supported with API version >= "
                            "'7.3-preview' (requested %s)." % req.api_version)
        k = self._key(vault, name)
        requested = self._kid(vault, name, ver) if ver else \
            "%skeys/%s" % (self.vault_uri(vault["name"].lower()), name)
        ver = ver or k["order"][-1]
        b = k["versions"].get(ver)
        if b is None:
            raise self._not_found(name, ver)
        if not b["attributes"].get("enabled", True):
            raise _kv_error(403, "Forbidden", "Operation release is not allowed on a disabled key.", inner="KeyDisabled")
        body = req.json()
        target = body.get("target") if isinstance(body, dict) else None
        if not b["attributes"].get("exportable") or not b.get("release_policy"):
            raise _kv_error(400, "BadParameter", "AKV.SKR.1002: Key is not exportable.")
        if not isinstance(target, str) or not target:
            raise _kv_error(400, "BadParameter", "The parameter target is missing.")
        claims = self.sim.attestation.verify_token(target)
        if claims is None:
            raise _kv_error(403, "Forbidden", "Target environment attestation statement cannot be verified.",
                            inner="AttestationTokenInvalid")
        policy = json.loads(jwt.b64u_decode(b["release_policy"]["data"]))
        if not evaluate_policy(policy, claims):
            raise _kv_error(403, "Forbidden", "Target environment attestation statement does not satisfy the key "
                            "release policy.", inner="PolicyNotSatisfied")
        transfer = _transfer_key(claims)
        if transfer is None:
            raise _kv_error(400, "BadParameter", "Target environment attestation token does not carry a transfer key "
                            "('x-ms-runtime.keys': an RSA key of at least 2048 bits whose key_ops allow encrypt).")
        enc = body.get("enc") or "CKM_RSA_AES_KEY_WRAP"
        hashes_for = {"CKM_RSA_AES_KEY_WRAP": hashes.SHA1(), "RSA_AES_KEY_WRAP_256": hashes.SHA256(),
                      "RSA_AES_KEY_WRAP_384": hashes.SHA384()}
        if enc not in hashes_for:
            raise _kv_error(400, "BadParameter", "Invalid key wrapping algorithm '%s'." % enc)
        import os as _os
        private = serialization.load_pem_private_key(b["_pem"].encode(), None)
        der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        aes = _os.urandom(32)
        h = hashes_for[enc]
        wrapped = transfer.encrypt(aes, padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None)) + \
            aes_key_wrap_with_padding(aes, der)
        key_hsm = jwt.b64u(json.dumps({"schema_version": "1.0", "header": {"kid": _transfer_kid(claims), "alg": "dir",
                                                                           "enc": enc},
                                       "ciphertext": jwt.b64u(wrapped), "generator": "azsim"}).encode())
        released = self._bundle(vault, k, ver)
        released["key"]["key_hsm"] = key_hsm
        # request.kid echoes the key id as requested (version-less when the URL names no version), response.key the
        # released version: the sample answer in Microsoft Learn "Secure Key Release with Azure Key Vault and
        # application on Confidential VMs with AMD SEV-SNP" (MicrosoftDocs/azure-docs articles/confidential-computing/
        # skr-flow-confidential-vm-sev-snp-attestation.md), which also releases with POST {vault}/keys/{name}/release
        payload = {"request": {"api-version": req.api_version, "enc": enc, "kid": requested},
                   "response": {"key": released}}
        if body.get("nonce"):
            payload["request"]["nonce"] = body["nonce"]
        return Response(200, {"value": self._sign(payload)})

    def _sign(self, payload) -> str:
        if self._signing_key is None:
            from .pki import rsa_key, self_signed
            self._signing_key = rsa_key(2048)
            self._signing_cert = self_signed(self._signing_key, "azsim key vault release signer", ca=False)
        x5c = base64.b64encode(self._signing_cert.public_bytes(serialization.Encoding.DER)).decode()
        return jwt.sign(payload, self._signing_key, jwt.kid_of(self._signing_key.public_key()),
                        {"x5c": [x5c], "x5t#S256": jwt.b64u(self._signing_cert.fingerprint(hashes.SHA256()))})


def _runtime_keys(claims):
    """The requester's keys: the token's top-level ``x-ms-runtime.keys`` only. Keys nested under
    ``x-ms-isolation-tee.x-ms-runtime`` are the HCL's (the vTPM's AK and EK), not a key the requester asked Key Vault
    to wrap to (Microsoft Learn "Azure Attestation claim sets": x-ms-runtime carries the runtime data the client
    sent; the guest token's TpmEphemeralEncryptionKey is at the top level, the HCL keys under x-ms-isolation-tee)."""
    keys = (claims.get("x-ms-runtime") or {}).get("keys") if isinstance(claims.get("x-ms-runtime"), dict) else None
    return [k for k in keys if isinstance(k, dict)] if isinstance(keys, list) else []


def _encrypting(k) -> bool:
    """An RSA JWK usable for encryption (RFC 7517 4.3: ``key_ops``, when present, limits what the key is for)."""
    ops = k.get("key_ops")
    return k.get("kty") in ("RSA", "RSA-HSM") and (ops is None or (isinstance(ops, list) and "encrypt" in ops))


def _transfer_jwk(claims):
    """The guest token's TpmEphemeralEncryptionKey, else the first RSA runtime key meant for encryption."""
    keys = [k for k in _runtime_keys(claims) if _encrypting(k)]
    for k in keys:
        if k.get("kid") == "TpmEphemeralEncryptionKey":
            return k
    return keys[0] if keys else None


def _transfer_kid(claims):
    k = _transfer_jwk(claims)
    return k.get("kid") if k else None


def _transfer_key(claims):
    k = _transfer_jwk(claims)
    try:
        n = int.from_bytes(jwt.b64u_decode(k["n"]), "big")
        e = int.from_bytes(jwt.b64u_decode(k["e"]), "big")
        if n.bit_length() < 2048 or e < 3 or not e & 1:
            return None
        return rsa.RSAPublicNumbers(e, n).public_key()
    except (TypeError, KeyError, AttributeError, ValueError):
        return None


def evaluate_policy(policy: dict, claims: dict) -> bool:
    """Key release: the token issuer must be one of the policy's authorities, whose conditions hold.

    The simulator's own evaluator of Key Vault's published grammar decides (azsim/oracle/skr_policy.py)."""
    return skr_policy.evaluate(policy, claims)
