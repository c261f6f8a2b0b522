# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Key Vault, vault, resource group, attestation and Graph calls, through the plumbing layer's clients.

Every function takes a client (``m.arm``, ``m.data_plane(url)``, ``m.graph``) and returns plain dicts.
Key Vault errors are re-raised as the plumbing's AzureApiError with a hint for the fix appended.
"""

from __future__ import (absolute_import, division, print_function)
from __future__ import annotations

__metaclass__ = type

import re

from .._azure import api_versions as V
from .._azure import errors as azerr

try:
    from urllib.parse import quote
except ImportError:  # pragma: no cover
    from urllib import quote  # type: ignore

# ---------------------------------------------------------------------------- error hints

_HINTS = (
    (re.compile(r"AKV\.SKR\.1001"), "exportable keys need a Premium vault (or Managed HSM) and Key Vault API 7.3 or "
     "later: create the vault with sku premium (confidential.azure.keyvault) or set exportable: false"),
    (re.compile(r"AKV\.SKR\.1004"), "an exportable key needs a release policy: set release_policy (e.g. default_cvm "
     "with location)"),
    (re.compile(r"AKV\.SKR\.1005"), "a non-exportable key must not carry a release policy: remove release_policy or "
     "set exportable: true"),
    (re.compile(r"standard (vault|tier|sku)|hardware key operation", re.I),
     "RSA-HSM keys need a Premium vault: change the vault's sku to premium (confidential.azure.keyvault sku: "
     "premium) or use key_type RSA with exportable: false"),
    (re.compile(r"ObjectIsDeletedButRecoverable|deleted but recoverable", re.I),
     "a deleted key of this name is in the vault's soft-delete bin: recover it (az keyvault key recover), wait for "
     "the retention period, or use another name"),
    (re.compile(r"VaultAlreadyExists", re.I),
     "vault names are global and a deleted vault keeps its name in the soft-delete bin until its purge date (with "
     "purge protection that cannot be shortened): recover it (az keyvault recover --name <vault>; its keys come "
     "back with it) or choose another name"),
    (re.compile(r"ForbiddenByFirewall|Client address is not authorized", re.I),
     "the vault's firewall blocks this control node: add its address to the vault's network rules or run from an "
     "allowed network"),
    (re.compile(r"does not have (keys|key) .*permission|AccessDenied|ForbiddenByRbac|not authorized to perform", re.I),
     "the identity running Ansible lacks this permission on the vault: run confidential.azure.keyvault for the vault "
     "first (grant_automation_principal: true, the default, gives it the key permissions on an access-policy vault "
     "and the role Key Vault Crypto Officer on an RBAC vault), or grant them yourself (az keyvault set-policy "
     "--object-id <principal> --key-permissions ..., or az role assignment create --role 'Key Vault Crypto Officer' "
     "--scope <vault id>)"),
    (re.compile(r"ForbiddenByPolicy|Forbidden", re.I),
     "the request was refused (403); check the vault's network rules, Azure Policy assignments and the permissions "
     "of the identity running Ansible"),
    (re.compile(r"PrincipalNotFound", re.I),
     "the principal is not (yet) visible to Azure RBAC; if it was just created wait a minute and re-run"),
)


def hint_for(code, message):
    text = "%s %s" % (code or "", message or "")
    for pattern, hint in _HINTS:
        if pattern.search(text):
            return hint
    return None


def with_hint(exc):
    """Append the fix to an AzureApiError's message (once)."""
    hint = hint_for(exc.code, exc.message) or hint_for(exc.code, " ".join(
        "%s %s" % (d.get("code"), d.get("message")) for d in exc.details or []))
    if hint and "Hint:" not in exc.message:
        exc.message = "%s Hint: %s" % (exc.message.rstrip(), hint)
    return exc


# ---------------------------------------------------------------------------- Key Vault data plane

def _kv(kv, method, path, body=None, params=None, allow_404=False):
    response = kv.send(method, path, V.KEYVAULT_KEYS, body=body, params=params)
    if allow_404 and response.status == 404:
        return None
    if not response.ok:
        raise with_hint(kv.error_for(response, method, kv.url(path, V.KEYVAULT_KEYS)))
    return response.json


def _key_path(name, *rest):
    return "/keys/" + "/".join(quote(part, safe="") for part in (name,) + rest)


def get_key(kv, name):
    """The latest version's KeyBundle, or None."""
    return _kv(kv, "GET", _key_path(name), allow_404=True)


def create_key(kv, name, body):
    """POST /keys/{name}/create: the first version, or a new version of an existing key."""
    return _kv(kv, "POST", _key_path(name, "create"), body=body)


def update_key(kv, name, version, body):
    return _kv(kv, "PATCH", _key_path(name, version), body=body)


def delete_key(kv, name):
    return _kv(kv, "DELETE", _key_path(name), allow_404=True)


def list_versions(kv, name):
    items = []
    data = _kv(kv, "GET", _key_path(name, "versions"), allow_404=True) or {}
    while True:
        items.extend(data.get("value") or [])
        link = data.get("nextLink")
        if not link:
            return items
        response = kv.send("GET", link)
        if not response.ok:
            raise with_hint(kv.error_for(response, "GET", link))
        data = response.json or {}


def get_rotation_policy(kv, name):
    return _kv(kv, "GET", _key_path(name, "rotationpolicy"), allow_404=True)


def put_rotation_policy(kv, name, body):
    return _kv(kv, "PUT", _key_path(name, "rotationpolicy"), body=body)


# ---------------------------------------------------------------------------- ARM

def get_vault(arm, vault_id):
    return arm.get(vault_id, V.KEYVAULT_MANAGEMENT)


def find_vault_id(arm, subscription_id, vault_name):
    """ARM id of the vault named ``vault_name`` in the subscription (one filtered resource list), or None."""
    items = arm.list("/subscriptions/%s/resources" % subscription_id, V.RESOURCES, params={
        "$filter": "resourceType eq 'Microsoft.KeyVault/vaults' and name eq '%s'" % vault_name})
    for item in items:
        if str(item.get("name", "")).lower() == vault_name.lower() and \
                str(item.get("type", "")).lower() == "microsoft.keyvault/vaults":
            return item.get("id")
    return None


def default_attestation_uri(arm, subscription_id, location):
    """The region's shared attestation provider URI (what ``az keyvault key create --default-cvm-policy`` reads)."""
    path = "/subscriptions/%s/providers/Microsoft.Attestation/locations/%s/defaultProvider" % (
        subscription_id, quote(location, safe=""))
    data = arm.get(path, V.ATTESTATION_PROVIDERS)
    uri = ((data or {}).get("properties") or {}).get("attestUri")
    if not uri:
        raise azerr.AzureApiError(404, "NoDefaultAttestationProvider",
                                  "region %s has no default attestation provider; set release_policy_authorities "
                                  "to the attestation URLs you trust" % location)
    return uri


def service_principal_object_id(graph, app_id):
    """Object id of the tenant's service principal for ``app_id`` (Microsoft Graph), or None when absent."""
    status, headers, data = graph.request("GET", "/v1.0/servicePrincipals(appId='%s')" % app_id)
    if status == 404:
        return None
    if not 200 <= status < 300:
        raise with_hint(azerr.from_response(status, data, headers, "GET", graph.url(
            "/v1.0/servicePrincipals(appId='%s')" % app_id)))
    return (data or {}).get("id")
