# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Desired disk encryption set body, its comparable view, and the key pre-flight check.

Pure: no Ansible, no Azure SDK.
"""

from __future__ import (absolute_import, division, print_function)

__metaclass__ = type

from .limits import CONFIDENTIAL_DES_TYPE

HSM_KEY_TYPES = ("RSA-HSM", "EC-HSM")


def des_body(params, location, source_vault_id, tags):
    identity_type = params.get("identity") or "SystemAssigned"
    identity = {"type": identity_type}
    if identity_type == "UserAssigned":
        identity["userAssignedIdentities"] = {params["user_assigned_identity"]: {}}
    active_key = {"keyUrl": params["key_url"]}
    if source_vault_id:
        active_key["sourceVault"] = {"id": source_vault_id}
    props = {
        "encryptionType": params.get("encryption_type") or CONFIDENTIAL_DES_TYPE,
        "activeKey": active_key,
        "rotationToLatestKeyVersionEnabled": bool(params.get("rotation_to_latest_key_version")),
    }
    if params.get("federated_client_id"):
        props["federatedClientId"] = params["federated_client_id"]
    return {"location": location, "tags": dict(tags or {}), "identity": identity, "properties": props}


def des_view(resource):
    """Comparable view of a DES resource (also of a desired body)."""
    if not resource:
        return None
    props = resource.get("properties") or {}
    key = props.get("activeKey") or {}
    identity = resource.get("identity") or {}
    uais = sorted(k.lower() for k in (identity.get("userAssignedIdentities") or {}))
    return {
        "encryption_type": props.get("encryptionType"),
        "key_url": (key.get("keyUrl") or "").lower() or None,
        "source_vault": ((key.get("sourceVault") or {}).get("id") or "").lower() or None,
        "identity": identity.get("type"),
        "user_assigned_identities": uais,
        "rotation_to_latest_key_version": bool(props.get("rotationToLatestKeyVersionEnabled")),
        "federated_client_id": props.get("federatedClientId") or None,
        "tags": dict(resource.get("tags") or {}),
    }


def des_result(resource):
    """The shape both disk_encryption_set and its callers return."""
    if not resource:
        return None
    props = resource.get("properties") or {}
    identity = resource.get("identity") or {}
    key = props.get("activeKey") or {}
    return {
        "id": resource.get("id"),
        "name": resource.get("name"),
        "location": resource.get("location"),
        "tags": dict(resource.get("tags") or {}),
        "encryption_type": props.get("encryptionType"),
        "key_url": key.get("keyUrl"),
        "source_vault": (key.get("sourceVault") or {}).get("id"),
        "identity": {"type": identity.get("type"), "principal_id": identity.get("principalId"),
                     "tenant_id": identity.get("tenantId"),
                     "user_assigned_identities": sorted(identity.get("userAssignedIdentities") or {})},
        "rotation_to_latest_key_version": bool(props.get("rotationToLatestKeyVersionEnabled")),
        "federated_client_id": props.get("federatedClientId"),
        "provisioning_state": props.get("provisioningState"),
        "last_key_rotation_timestamp": props.get("lastKeyRotationTimestamp"),
    }


def key_problems(key_bundle, encryption_type=CONFIDENTIAL_DES_TYPE):
    """Why a Key Vault key (data-plane GET answer) cannot back a confidential DES; empty list when it can."""
    if encryption_type != CONFIDENTIAL_DES_TYPE:
        return []
    problems = []
    key = (key_bundle or {}).get("key") or {}
    attrs = (key_bundle or {}).get("attributes") or {}
    kty = key.get("kty")
    if kty not in HSM_KEY_TYPES:
        problems.append("key type is %s; confidential disk encryption needs an HSM-protected key (RSA-HSM; create it "
                        "with keyvault_key key_type: RSA-HSM in a Premium vault or Managed HSM)" % kty)
    if not attrs.get("exportable"):
        problems.append("the key is not exportable; confidential disk encryption needs exportable: true (set when the "
                        "key is created, keyvault_key exportable: true)")
    if not (key_bundle or {}).get("release_policy"):
        problems.append("the key has no release policy; give it one (keyvault_key release_policy: default_cvm)")
    ops = key.get("key_ops")
    if ops is not None:
        missing = [op for op in ("wrapKey", "unwrapKey") if op not in ops]
        if missing:
            problems.append("the key does not allow %s; add them to key_ops" % ", ".join(missing))
    if attrs.get("enabled") is False:
        problems.append("the key is disabled")
    return problems
