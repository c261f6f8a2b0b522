# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Key Vault key (the confidential VM CMK): validation, desired state, comparison, request bodies, results.

Pure Python: no Ansible and no Azure SDK import.  ``params`` are the keyvault_key module parameters
as a plain dict (missing keys mean "not given").
"""

from __future__ import (absolute_import, division, print_function)
from __future__ import annotations

__metaclass__ = type

import json
import re

from .._azure.result import Changes, merge_tags
from . import release_policy as rp

CVM_ORCHESTRATOR_APP_ID = "bf7b6499-ff71-4aa2-97a4-f372087be7f0"
DEFAULT_CVM = "default_cvm"
GUEST_CVM = "guest_cvm"
#: Policies built for the attestation authorities of the location or of release_policy_authorities.
PRESETS = {DEFAULT_CVM: rp.default_cvm, GUEST_CVM: rp.guest_cvm}
KEY_TYPES = ("RSA-HSM", "RSA")
KEY_SIZES = (2048, 3072, 4096)
KEY_OPS = ("encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey", "import", "export")
DEFAULT_KEY_OPS = ("wrapKey", "unwrapKey")
#: A key a guest releases is used (unwrapped) only inside the guest: Key Vault must not unwrap with it for anybody.
GUEST_KEY_OPS = ("wrapKey",)
SERVER_UNWRAP_OPS = ("unwrapKey", "decrypt")
MAX_TAGS = 15

_KEY_NAME = re.compile(r"^[0-9A-Za-z-]{1,127}$")
_VAULT_NAME = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{1,22}[A-Za-z0-9]$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DURATION = re.compile(r"^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")
_VAULT_ID = re.compile(r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.KeyVault/vaults/([^/]+)/?$",
                       re.IGNORECASE)

#: Properties a key version cannot change: a different value needs a new version (rotate: true).
VERSION_PROPERTIES = ("kty", "key_size", "exportable")


class KeyParamError(ValueError):
    """Local validation failed; ``errors`` lists each problem (each names the parameter and the fix)."""

    def __init__(self, errors):
        super(KeyParamError, self).__init__("; ".join(errors))
        self.errors = list(errors)


# --------------------------------------------------------------------------- vault URL

#: Key Vault DNS suffixes of the named clouds: a vault_url in one of them but not in the selected cloud is a mistake.
KNOWN_SUFFIXES = ("vault.azure.net", "vault.azure.cn", "vault.usgovcloudapi.net", "vault.microsoftazure.de")


def parse_vault_url(url, dns_suffix=None):
    """Return (normalized 'https://host[:port]/', vault name or None) or raise ValueError with the fix.

    The vault name is known when the host is ``<name>.<keyvault_dns_suffix>``.  Other hosts (a private DNS name, a
    local simulator's address) are accepted; then the vault cannot be found by name and callers need ``vault_id``.
    """
    example = "https://myvault.%s/" % (dns_suffix or "vault.azure.net")
    if not isinstance(url, str) or not url.strip():
        raise ValueError("vault_url is required, e.g. %s" % example)
    text = url.strip()
    if not text.lower().startswith("https://"):
        raise ValueError("vault_url %r must start with https:// (e.g. %s)" % (text, example))
    host, _sep, path = text[len("https://"):].partition("/")
    if path.strip("/"):
        raise ValueError("vault_url %r must be the vault's base URL without a path (https://%s/); "
                         "give the key name in name" % (text, host))
    host = host.lower()
    hostname = host.split(":", 1)[0]
    if not hostname:
        raise ValueError("vault_url %r has no host; use %s" % (text, example))
    if ".managedhsm." in hostname:
        raise ValueError("vault_url %r is a Managed HSM; this module manages Key Vault (vault) keys only" % text)
    name, _dot, suffix = hostname.partition(".")
    wanted = (dns_suffix or "").lower().strip(".")
    if wanted and suffix == wanted or not wanted and suffix in KNOWN_SUFFIXES:
        if not _VAULT_NAME.match(name):
            raise ValueError("vault_url %r: vault name %r must be 3-24 letters, digits and single hyphens, start "
                             "with a letter and not end with a hyphen" % (text, name))
        return "https://%s/" % host, name
    if wanted and suffix in KNOWN_SUFFIXES:
        raise ValueError("vault_url %r is not in this cloud's Key Vault domain %s; use https://%s.%s/ or select "
                         "the matching cloud_environment" % (text, wanted, name, wanted))
    return "https://%s/" % host, None


# --------------------------------------------------------------------------- durations

def duration_days(text):
    """Approximate length in days of an ISO 8601 duration (Y=365, M=30 days); None when not a duration."""
    if not isinstance(text, str):
        return None
    m = _DURATION.match(text.strip().upper())
    if not m:
        return None
    y, mo, w, d, h, mi, s = [int(g) if g else 0 for g in m.groups()]
    return y * 365 + mo * 30 + w * 7 + d + h / 24.0 + mi / 1440.0 + s / 86400.0


# --------------------------------------------------------------------------- validation

def _validate_rotation_policy(policy, errors):
    if policy is None:
        return
    expiry = policy.get("expiry_time")
    if expiry is not None:
        days = duration_days(expiry)
        if days is None:
            errors.append("rotation_policy.expiry_time %r is not an ISO 8601 duration; use e.g. P1Y or P90D" % expiry)
            expiry = None
        elif days < 28:
            errors.append("rotation_policy.expiry_time %s is shorter than Key Vault's minimum of 28 days; use P28D "
                          "or longer" % expiry)
    expiry_days = duration_days(expiry) if expiry else None
    seen = set()
    for index, action in enumerate(policy.get("lifetime_actions") or []):
        where = "rotation_policy.lifetime_actions[%d]" % index
        kind = (action.get("action") or "").lower()
        if kind in seen:
            errors.append("%s: a second %s action; Key Vault allows one rotate and one notify action" % (where, kind))
        seen.add(kind)
        after = action.get("time_after_create")
        before = action.get("time_before_expiry")
        if bool(after) == bool(before):
            errors.append("%s: set exactly one of time_after_create or time_before_expiry" % where)
        if kind == "notify" and after:
            errors.append("%s: notify takes time_before_expiry only (e.g. P30D), not time_after_create" % where)
        for field, value in (("time_after_create", after), ("time_before_expiry", before)):
            if not value:
                continue
            days = duration_days(value)
            if days is None:
                errors.append("%s.%s %r is not an ISO 8601 duration; use e.g. P90D" % (where, field, value))
            elif days < 7:
                errors.append("%s.%s %s is below Key Vault's minimum of 7 days; use P7D or longer"
                              % (where, field, value))
            elif expiry_days is not None and field == "time_after_create" and days > expiry_days - 7:
                errors.append("%s.time_after_create %s must be at least 7 days before rotation_policy.expiry_time %s"
                              % (where, value, expiry))
            elif expiry_days is not None and field == "time_before_expiry" and days > expiry_days - 7:
                errors.append("%s.time_before_expiry %s leaves less than 7 days after creation within "
                              "rotation_policy.expiry_time %s" % (where, value, expiry))
        if before and expiry is None:
            errors.append("%s.time_before_expiry needs rotation_policy.expiry_time (the key versions must expire)"
                          % where)


def _parse_policy_param(value, errors):
    """Return the release policy dict, a preset's name (PRESETS), or None (errors appended)."""
    if value is None:
        return None
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text in PRESETS:
            return text
        if text.startswith("{"):
            try:
                parsed = json.loads(text)
            except ValueError as exc:
                errors.append("release_policy is not valid JSON (%s); pass a dict, a JSON object string, "
                              "default_cvm or guest_cvm" % exc)
                return None
            return parsed
    errors.append("release_policy must be a dict, a JSON object string, default_cvm (confidential OS disks) or "
                  "guest_cvm (keys a guest releases, e.g. data disks), got %r"
                  % (value if not isinstance(value, (list, tuple)) else "a list"))
    return None


def validate(params, dns_suffix=None):
    """Every problem with the module parameters, before any API call.  Returns a list of messages."""
    errors = []
    try:
        _url, vault_name = parse_vault_url(params.get("vault_url"), dns_suffix)
    except ValueError as exc:
        errors.append(str(exc))
        _url = vault_name = None
    name = params.get("name")
    if not isinstance(name, str) or not _KEY_NAME.match(name):
        errors.append("name %r must be 1-127 letters, digits and hyphens" % (name,))
    vault_id = params.get("vault_id")
    if vault_id:
        m = _VAULT_ID.match(vault_id)
        if not m:
            errors.append("vault_id %r is not a Key Vault resource id; use /subscriptions/<sub>/resourceGroups/<rg>/"
                          "providers/Microsoft.KeyVault/vaults/<name>" % vault_id)
        elif vault_name and m.group(1).lower() != vault_name.lower():
            errors.append("vault_id names vault %r but vault_url names %r; make them the same vault"
                          % (m.group(1), vault_name))
    oid = params.get("orchestrator_object_id")
    if oid and not _GUID.match(oid):
        errors.append("orchestrator_object_id %r is not an object id (GUID); find it with "
                      "az ad sp show --id %s --query id" % (oid, CVM_ORCHESTRATOR_APP_ID))
    if params.get("state", "present") == "absent":
        return errors
    if _url and vault_name is None and params.get("grant_confidential_vm_orchestrator", True) \
            and not vault_id:
        errors.append("vault_url %s does not name the vault (<name>.%s), so the orchestrator grant cannot find it; "
                      "set vault_id (the vault's ARM id, e.g. from confidential.azure.keyvault's vault.id) or "
                      "grant_confidential_vm_orchestrator: false" % (_url, dns_suffix or "vault.azure.net"))

    key_type = params.get("key_type") or "RSA-HSM"
    exportable = params.get("exportable", True)
    if exportable is None:
        exportable = True
    if key_type not in KEY_TYPES:
        errors.append("key_type %r is not supported; use RSA-HSM (confidential VM CMK) or RSA" % key_type)
    if exportable and key_type == "RSA":
        errors.append("key_type RSA cannot be exportable: Key Vault releases only HSM-protected keys; set "
                      "key_type: RSA-HSM (needs a Premium vault) or exportable: false")
    size = params.get("key_size")
    if size is not None and size not in KEY_SIZES:
        errors.append("key_size %r is not allowed; use 2048, 3072 (recommended) or 4096" % (size,))
    ops = params.get("key_ops")
    if ops is not None and params.get("release_principal_ids"):
        unwrap = [op for op in SERVER_UNWRAP_OPS if op in ops]
        if unwrap:
            errors.append("key_ops: %s would let any principal holding keys/%s on the vault read what this key "
                          "protects (e.g. a data disk's passphrase) in Key Vault without attestation; a key the "
                          "principals in release_principal_ids release is used inside the guest only: set key_ops: "
                          "[wrapKey] (or omit key_ops)" % (" and ".join(unwrap), unwrap[0].replace("Key", "")))
    if ops is not None:
        if not ops:
            errors.append("key_ops must name at least one operation; the confidential disk CMK needs wrapKey and "
                          "unwrapKey")
        for op in ops:
            if op not in KEY_OPS:
                errors.append("key_ops: %r is not a key operation; use %s" % (op, ", ".join(KEY_OPS)))
    tags = params.get("tags")
    if tags:
        if len(tags) > MAX_TAGS:
            errors.append("tags: %d tags given, Key Vault allows at most %d per key" % (len(tags), MAX_TAGS))
        for key_, value in tags.items():
            if not isinstance(value, str):
                errors.append("tags.%s: value must be a string (quote it in YAML)" % key_)

    policy = _parse_policy_param(params.get("release_policy"), errors)
    authorities = params.get("release_policy_authorities")
    if authorities is not None and not _is_preset(policy):
        errors.append("release_policy_authorities only applies with release_policy: default_cvm or guest_cvm; put "
                      "the authorities into your policy instead")
    if _is_preset(policy):
        if authorities is not None:
            if not authorities:
                errors.append("release_policy_authorities is empty; list attestation URLs or drop it and set location")
            else:
                try:
                    PRESETS[policy](authorities)
                except rp.PolicyError as exc:
                    errors.append("release_policy_authorities: %s" % exc)
        elif not params.get("location"):
            errors.append("release_policy: %s needs location (the region whose attestation provider is "
                          "trusted, e.g. eastus) or release_policy_authorities (a list of attestation URLs)" % policy)
    elif isinstance(policy, dict):
        for problem in rp.lint(policy):
            errors.append("release_policy: %s" % problem)
    if policy == DEFAULT_CVM and params.get("release_principal_ids"):
        # Microsoft's guest token sample (cvm-attestation-sample-app/sampleAttestationToken.json) has no top-level
        # x-ms-compliance-status: a guest's TEE claims are under x-ms-isolation-tee.
        errors.append("release_policy: default_cvm checks the platform's token (top-level x-ms-compliance-status), "
                      "which a guest's attestation token does not carry, so the principals in release_principal_ids "
                      "could never release the key from a guest; use release_policy: guest_cvm")
    if exportable and policy is None and not errors_mention(errors, "release_policy"):
        errors.append("exportable: true needs release_policy (Key Vault error AKV.SKR.1004); set release_policy: "
                      "default_cvm with location, or pass your policy, or set exportable: false")
    if not exportable and params.get("release_policy") is not None:
        errors.append("release_policy is only allowed on exportable keys (Key Vault error AKV.SKR.1005); remove "
                      "release_policy or set exportable: true")
    if params.get("release_policy_immutable") and params.get("release_policy") is None:
        errors.append("release_policy_immutable needs release_policy")
    _validate_rotation_policy(params.get("rotation_policy"), errors)
    return errors


def released_to_guest(params):
    """A key a guest releases itself (release_policy guest_cvm, or release_principal_ids): no disk encryption set's
    CMK, used only inside the attested guest."""
    value = params.get("release_policy")
    return (isinstance(value, str) and value.strip() == GUEST_CVM) or bool(params.get("release_principal_ids"))


def default_key_ops(params):
    """wrapKey only for a key a guest releases, else the CMK's wrapKey and unwrapKey."""
    return GUEST_KEY_OPS if released_to_guest(params) else DEFAULT_KEY_OPS


def _is_preset(policy):
    return isinstance(policy, str) and policy in PRESETS


def errors_mention(errors, word):
    return any(e.startswith(word) for e in errors)


def needs_authority_lookup(params):
    """True when release_policy is a preset without an explicit list of authorities."""
    value = params.get("release_policy")
    return (isinstance(value, str) and value.strip() in PRESETS
            and params.get("release_policy_authorities") is None)


def resolve_policy(params, authorities=None):
    """The release policy dict to send (None when no policy); ``authorities`` from the defaultProvider lookup."""
    errors = []
    policy = _parse_policy_param(params.get("release_policy"), errors)
    if errors:
        raise KeyParamError(errors)
    if _is_preset(policy):
        return PRESETS[policy](params.get("release_policy_authorities") or authorities or [])
    return policy


# --------------------------------------------------------------------------- desired / current

def desired(params, policy, current_tags=None):
    """The compared subset the user asked for.  Keys absent from the dict are not managed.  Tags merge into
    ``current_tags`` (the key's tags) unless append_tags is false."""
    out = {
        "kty": params.get("key_type") or "RSA-HSM",
        "key_size": params.get("key_size") or 3072,
        "key_ops": sorted(set(params.get("key_ops") if params.get("key_ops") is not None else default_key_ops(params))),
        "exportable": True if params.get("exportable") is None else bool(params.get("exportable")),
    }
    if policy is not None:
        out["release_policy"] = policy
        out["release_policy_immutable"] = bool(params.get("release_policy_immutable"))
    if params.get("enabled") is not None:
        out["enabled"] = bool(params["enabled"])
    if params.get("tags") is not None:
        out["tags"] = merge_tags(params["tags"], current_tags, params.get("append_tags", True))
    return out


def key_size_of(jwk):
    """RSA modulus length in bits from a JWK (the public ``n``), or None."""
    n = (jwk or {}).get("n")
    if not n:
        return None
    try:
        raw = rp.b64url_decode(n)
    except (ValueError, TypeError):
        return None
    raw = raw.lstrip(b"\x00")
    return len(raw) * 8


def current(bundle):
    """The compared subset of a Key Vault KeyBundle (as returned by GET /keys/{name})."""
    jwk = bundle.get("key") or {}
    attrs = bundle.get("attributes") or {}
    out = {
        "kty": jwk.get("kty"),
        "key_size": key_size_of(jwk),
        "key_ops": sorted(set(jwk.get("key_ops") or [])),
        "exportable": bool(attrs.get("exportable", False)),
        "enabled": attrs.get("enabled", True),
        "tags": dict(bundle.get("tags") or {}),
    }
    wire = bundle.get("release_policy")
    if wire and wire.get("data"):
        try:
            out["release_policy"] = rp.decode(wire)
        except rp.PolicyError:
            out["release_policy"] = {"undecodable": wire.get("data")}
        out["release_policy_immutable"] = bool(wire.get("immutable", False))
    else:
        out["release_policy"] = None
        out["release_policy_immutable"] = False
    return out


def policy_confirms(bundle, policy):
    """True when the key's current release policy is ``policy`` (a cached fact may confirm, never replace)."""
    have = current(bundle)["release_policy"]
    return have is not None and policy is not None and rp.equivalent(have, policy)


def _same(name, have, want):
    if name == "release_policy":
        if have is None or want is None:
            return have is None and want is None
        return rp.equivalent(have, want)
    if name == "key_size" and have is None:
        return True  # the service did not report the modulus; nothing to compare
    return have == want


class Plan(Changes):
    """What to do with an existing key: in-place update, new version, or refusal."""

    def __init__(self):
        super(Plan, self).__init__()
        self.update = {}             # property -> new value, updatable in place
        self.new_version = []        # properties that need a new version


def compare(have, want, rotate=False):
    """Plan the changes from ``have`` (current()) to ``want`` (desired())."""
    plan = Plan()
    for name, value in want.items():
        before = have.get(name)
        if _same(name, before, value):
            continue
        plan.changes[name] = (before, value)
        if name in VERSION_PROPERTIES:
            plan.new_version.append(name)
        else:
            plan.update[name] = value
    if plan.new_version and not rotate:
        for name in plan.new_version:
            plan.errors.append(
                "%s of the current key version is %r, you asked for %r; a key version cannot change %s. Set "
                "rotate: true to create a new version with the requested properties (re-point disk encryption sets "
                "that use a versioned key URL)" % (name, have.get(name), want[name], name))
    if not rotate and have.get("release_policy_immutable"):
        if "release_policy" in plan.update:
            plan.errors.append("the current key version's release policy is immutable and differs from "
                               "release_policy; set rotate: true to create a new version with the new policy")
        if plan.update.get("release_policy_immutable") is False:
            plan.errors.append("release_policy_immutable cannot go back to false once a policy is immutable; "
                               "set release_policy_immutable: true (or rotate: true for a new version)")
    return plan


# --------------------------------------------------------------------------- request bodies

def create_body(want):
    body = {
        "kty": want["kty"],
        "key_size": want["key_size"],
        "key_ops": list(want["key_ops"]),
        "attributes": {"enabled": want.get("enabled", True), "exportable": want["exportable"]},
    }
    if want.get("tags") is not None:
        body["tags"] = want["tags"]
    if want.get("release_policy") is not None:
        body["release_policy"] = rp.encode(want["release_policy"], want.get("release_policy_immutable", False))
    return body


def update_body(want, plan):
    """KeyUpdateParameters for the in-place part of ``plan``."""
    body = {}
    if "key_ops" in plan.update:
        body["key_ops"] = list(want["key_ops"])
    if "enabled" in plan.update:
        body["attributes"] = {"enabled": want["enabled"]}
    if "tags" in plan.update:
        body["tags"] = want["tags"]
    if "release_policy" in plan.update or "release_policy_immutable" in plan.update:
        body["release_policy"] = rp.encode(want["release_policy"], want.get("release_policy_immutable", False))
    return body


# --------------------------------------------------------------------------- rotation policy

def rotation_policy_desired(param):
    """The rotation policy the user asked for, in Key Vault's wire shape (compared normalised)."""
    if param is None:
        return None
    actions = []
    for action in param.get("lifetime_actions") or []:
        trigger = {}
        if action.get("time_after_create"):
            trigger["timeAfterCreate"] = action["time_after_create"].upper()
        if action.get("time_before_expiry"):
            trigger["timeBeforeExpiry"] = action["time_before_expiry"].upper()
        actions.append({"trigger": trigger, "action": {"type": action["action"].capitalize()}})
    body = {"lifetimeActions": actions, "attributes": {}}
    if param.get("expiry_time"):
        body["attributes"]["expiryTime"] = param["expiry_time"].upper()
    return body


def rotation_policy_compared(doc):
    """Normal form of a rotation policy for comparison (action types lower-case, order-insensitive)."""
    if not doc:
        return {"lifetime_actions": [], "expiry_time": None}
    actions = []
    for item in doc.get("lifetimeActions") or []:
        trigger = item.get("trigger") or {}
        actions.append({
            "action": ((item.get("action") or {}).get("type") or "").lower(),
            "time_after_create": trigger.get("timeAfterCreate"),
            "time_before_expiry": trigger.get("timeBeforeExpiry"),
        })
    actions.sort(key=lambda a: a["action"])
    return {"lifetime_actions": actions, "expiry_time": (doc.get("attributes") or {}).get("expiryTime")}


# --------------------------------------------------------------------------- results

def version_of(kid):
    """The version segment of a key id (https://vault/keys/name/version)."""
    parts = (kid or "").rstrip("/").split("/")
    return parts[-1] if len(parts) >= 6 and parts[-3] == "keys" else None


def to_result(bundle, vault_url=None, versions=None, rotation_policy=None):
    """The module/_info return shape.  Never carries key material (no n, e, d, ... of the JWK)."""
    if not bundle:
        return {}
    jwk = bundle.get("key") or {}
    kid = jwk.get("kid")
    have = current(bundle)
    attrs = dict(bundle.get("attributes") or {})
    attrs.pop("attestation", None)
    result = {
        "kid": kid,
        "key_url": kid,
        "name": (kid or "").rstrip("/").split("/")[-2] if version_of(kid) else None,
        "version": version_of(kid),
        "vault_url": vault_url,
        "kty": jwk.get("kty"),
        "key_size": have["key_size"],
        "key_ops": list(jwk.get("key_ops") or []),
        "exportable": have["exportable"],
        "enabled": have["enabled"],
        "attributes": attrs,
        "tags": have["tags"],
        "release_policy": have["release_policy"],
        "release_policy_immutable": have["release_policy_immutable"],
        "managed": bool(bundle.get("managed", False)),
    }
    if versions is not None:
        result["versions"] = versions
    if rotation_policy is not None:
        result["rotation_policy"] = rotation_policy_compared(rotation_policy)
    return result


def version_entries(items):
    """The list returned for include_versions from GET /keys/{name}/versions items (KeyItem)."""
    out = []
    for item in items or []:
        attrs = item.get("attributes") or {}
        out.append({"kid": item.get("kid"), "version": version_of(item.get("kid")),
                    "enabled": attrs.get("enabled"), "created": attrs.get("created"),
                    "exportable": attrs.get("exportable")})
    out.sort(key=lambda v: (v.get("created") or 0, v.get("kid") or ""))
    return out
