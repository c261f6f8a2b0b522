"""Confidential VM platform rules, as ARM / the Compute RP enforce them on a VM PUT.

Messages marked (public record) are verbatim from public error reports; the others are worded in the same style
where no public record of the exact text was found."""
from __future__ import annotations

from . import catalog
from .core import ApiError, bad_request

ORCHESTRATOR_APP_ID = "bf7b6499-ff71-4aa2-97a4-f372087be7f0"
DISK_SECURITY_TYPE = {"DiskWithVMGuestState": "ConfidentialVM_DiskEncryptedWithPlatformKey",
                      "VMGuestStateOnly": "ConfidentialVM_VMGuestStateOnlyEncryptedWithPlatformKey",
                      "NonPersistedTPM": "ConfidentialVM_NonPersistedTPM"}


def region_offers_cvm(location: str) -> bool:
    return any(i["tee"] and location in i["locations"] for i in catalog.SIZES.values())


def check(arm, res, props, size, existing):
    sec = props.get("securityProfile") or {}
    stype = sec.get("securityType")
    osd = (props.get("storageProfile") or {}).get("osDisk") or {}
    md = osd.get("managedDisk") or {}
    dsp = md.get("securityProfile") or {}
    enc = dsp.get("securityEncryptionType")
    des_id = (dsp.get("diskEncryptionSet") or {}).get("id")
    tee = size.get("tee")
    location = res["location"]

    if stype != "ConfidentialVM":
        if tee:
            # (public record)
            raise bad_request("BadRequest", "The VM size '%s' is not supported for creation of VMs and Virtual "
                              "Machine Scale Set with '%s' security type." % (size["name"], stype or "<NULL>"))
        if enc or des_id:
            # (public record: issue 11 quotes Azure's answer)
            raise bad_request("BadRequest", "The parameter 'managedDisk.securityProfile' can only be set for "
                              "Confidential VMs.")
        return

    # ---- ConfidentialVM
    if not enc:
        # (public record)
        raise bad_request("BadRequest", "Required parameter for Confidential VMs "
                          "'managedDisk.securityProfile.securityEncryptionType' is missing (null).")
    uefi = sec.get("uefiSettings") or {}
    if not uefi.get("vTpmEnabled"):
        raise bad_request("BadRequest", "Virtual Trusted Platform Module (vTPM) must be enabled for VMs with "
                          "security type 'ConfidentialVM'. Set 'securityProfile.uefiSettings.vTpmEnabled' to true.",
                          target="securityProfile.uefiSettings.vTpmEnabled")
    if enc == "DiskWithVMGuestState" and uefi.get("secureBootEnabled") is False:
        raise bad_request("BadRequest", "Secure Boot must be enabled when "
                          "'managedDisk.securityProfile.securityEncryptionType' is 'DiskWithVMGuestState'.",
                          target="securityProfile.uefiSettings.secureBootEnabled")
    if not region_offers_cvm(location):
        # (public record)
        raise bad_request("BadRequest", "Creation of VMs and Virtual Machine Scale Sets with ConfidentialVM security "
                          "type is not supported in this region.")
    if not tee or location not in size["locations"]:
        # (public record)
        raise bad_request("BadRequest", "The VM size '%s' is not supported for creation of VMs and Virtual Machine "
                          "Scale Set with 'ConfidentialVM' security type and "
                          "managedDisk.securityProfile.securityEncryptionType set as '%s'" % (size["name"], enc))
    if props.get("priority") == "Spot":
        raise bad_request("InvalidParameter", "Spot priority is not supported for VMs with security type "
                          "'ConfidentialVM'.", target="priority")
    if md.get("storageAccountType") == "UltraSSD_LRS":
        raise bad_request("InvalidParameter", "Ultra disks are not supported for VMs with security type "
                          "'ConfidentialVM'.", target="osDisk.managedDisk.storageAccountType")
    disk_type = DISK_SECURITY_TYPE.get(enc, enc)
    if des_id and enc == "DiskWithVMGuestState":
        disk_type = "ConfidentialVM_DiskEncryptedWithCustomerKey"
    image = (props.get("storageProfile") or {}).get("imageReference") or {}
    info = catalog.image_info(image) if image and not image.get("id") else None
    if image and not image.get("id") and (info is None or tee not in info["cvm"]):
        # (public record)
        raise ApiError(400, "InvalidParameter", "SecurityType '%s' is not supported by given image." % disk_type,
                       target="securityProfile.securityType")
    sse_des = (md.get("diskEncryptionSet") or {}).get("id")
    if sse_des:
        des = arm.get(sse_des)
        if des is not None and des["properties"].get("encryptionType") == "ConfidentialVmEncryptedWithCustomerKey":
            raise bad_request("InvalidParameter", "Disk encryption set '%s' of encryption type "
                              "'ConfidentialVmEncryptedWithCustomerKey' must be set in "
                              "'managedDisk.securityProfile.diskEncryptionSet', not in "
                              "'managedDisk.diskEncryptionSet'." % sse_des, target="managedDisk.diskEncryptionSet")
    if not des_id:
        return
    if enc != "DiskWithVMGuestState":
        raise bad_request("InvalidParameter", "'managedDisk.securityProfile.diskEncryptionSet' can only be set when "
                          "'managedDisk.securityProfile.securityEncryptionType' is 'DiskWithVMGuestState'.",
                          target="managedDisk.securityProfile.diskEncryptionSet")
    des = arm.get(des_id)
    if des is None:
        raise bad_request("NotFound", "The disk encryption set '%s' could not be found." % des_id,
                          target="managedDisk.securityProfile.diskEncryptionSet.id")
    if des["properties"].get("encryptionType") != "ConfidentialVmEncryptedWithCustomerKey":
        raise bad_request("InvalidParameter", "Disk encryption set '%s' has encryption type '%s'; confidential OS "
                          "disk encryption needs a disk encryption set of encryption type "
                          "'ConfidentialVmEncryptedWithCustomerKey'." % (des_id, des["properties"].get("encryptionType")),
                          target="managedDisk.securityProfile.diskEncryptionSet")
    if des.get("location") != location:
        raise bad_request("InvalidParameter", "Disk encryption set '%s' is in location '%s'; it must be in the VM's "
                          "location '%s'." % (des_id, des.get("location"), location))
    check_des_key(arm, des)


def check_des_key(arm, des):
    """The DES key must be an exportable HSM key with a release policy, and the Confidential VM Orchestrator plus
    the DES identity must be able to use it."""
    kv = arm.sim.kv
    url = ((des["properties"].get("activeKey") or {}).get("keyUrl")) or ""
    vault, key = kv.resolve_key_url(url)
    if vault is None or key is None:
        raise bad_request("KeyVaultKeyNotFound", "The key vault key '%s' referenced by disk encryption set '%s' could "
                          "not be found." % (url, des["id"]))
    if not key["key"]["kty"].endswith("-HSM"):
        raise bad_request("InvalidParameter", "The key '%s' must be an HSM-protected key (RSA-HSM) to be used for "
                          "confidential VM OS disk encryption." % url)
    if not key["attributes"].get("exportable") or not key.get("release_policy"):
        raise bad_request("InvalidParameter", "The key '%s' must be exportable and have a release policy to be used "
                          "for confidential VM OS disk encryption." % url)
    orchestrator = arm.sim.graph_principals.get(ORCHESTRATOR_APP_ID)
    if orchestrator is None:
        raise bad_request("ConfidentialVMOrchestratorNotFound", "The service principal 'Confidential VM Orchestrator' "
                          "(appId %s) was not found in tenant '%s'." % (ORCHESTRATOR_APP_ID, arm.sim.tenant_id))
    perms = kv.key_permissions(vault, key["_name"], orchestrator["id"])
    # access policies: get + release; RBAC: the "Key Vault Crypto Service Release User" role (release)
    needed = {"release"} if vault["properties"].get("enableRbacAuthorization") else {"get", "release"}
    if not needed <= perms:
        raise ApiError(403, "KeyVaultAccessForbidden", "The Confidential VM Orchestrator (appId %s) does not have "
                       "'get' and 'release' permissions on key '%s' in key vault '%s'. Grant them with an access "
                       "policy or the 'Key Vault Crypto Service Release User' role." % (ORCHESTRATOR_APP_ID, url,
                                                                                        vault["name"]))
    pid = (des.get("identity") or {}).get("principalId")
    perms = kv.key_permissions(vault, key["_name"], pid) if pid else set()
    if not {"get", "wrapkey", "unwrapkey"} <= perms:
        raise ApiError(403, "KeyVaultAccessForbidden", "Unable to access key vault resource '%s' to unwrap key. "
                       "Please grant get, wrap key and unwrap key permissions to disk encryption set '%s'."
                       % (url, des["name"]))
