"""Microsoft.Compute: virtual machines, disks, disk encryption sets, resource SKUs, operation status.

Spec: specification/compute/resource-manager/Microsoft.Compute/Compute/stable/2026-04-01/ComputeRP.json (VMs),
.../Compute/stable/2026-03-02/DiskRP.json (disks, disk encryption sets), .../Compute/stable/2021-07-01/skus.json."""
from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import re

from .. import catalog
from ..core import ApiError, Response, bad_request, det_uuid
from .base import SUB_PREFIX, TypeHandler, now_iso as _now_iso, register_operations, register_type, require, view

NS = "Microsoft.Compute"


class VirtualMachines(TypeHandler):
    namespace, types, name_params = NS, ("virtualMachines",), ("vmName",)
    put_style, delete_style = "compute", "async"
    readonly_props = ("provisioningState", "vmId", "instanceView", "timeCreated")

    def build(self, req, rg, names, body, existing):
        from .. import cvm
        from . import vm_identity
        res = self.base(rg, names, body, existing)
        vm_identity.apply(self.sim, res, existing)
        props = copy.deepcopy(body.get("properties") or {})
        for k in self.readonly_props:
            props.pop(k, None)
        hw = props.get("hardwareProfile") or {}
        size = hw.get("vmSize")
        if not size:
            raise bad_request("InvalidParameter", "Required parameter 'hardwareProfile.vmSize' is missing (null).",
                              target="hardwareProfile.vmSize")
        info = catalog.size_info(size)
        if info is None:
            raise bad_request("InvalidParameter", "The value %s provided for the VM size is not valid. The valid sizes "
                              "in the current region are: %s." % (size, ", ".join(
                                  s for s, i in catalog.SIZES.items() if res["location"] in i["locations"])),
                              target="vmSize")
        sp = props.get("storageProfile") or {}
        osd = sp.get("osDisk") or {}
        image = sp.get("imageReference")
        if existing is None:
            if not osd and not image:
                raise bad_request("InvalidParameter", "Required parameter 'storageProfile.imageReference' is missing "
                                  "(null).", target="imageReference")
            if image and not image.get("id") and not image.get("communityGalleryImageId") and \
                    not image.get("sharedGalleryImageId") and catalog.image_info(image) is None:
                raise ApiError(404, "PlatformImageNotFound", "The platform image '%s:%s:%s:%s' is not available. "
                               "Verify that all fields in the storage profile are correct. For more details about "
                               "storage profile information, please refer to https://aka.ms/storageprofile" % (
                                   image.get("publisher"), image.get("offer"), image.get("sku"),
                                   image.get("version", "latest")), target="imageReference")
            osp = props.get("osProfile") or {}
            if image and not osp.get("adminUsername"):
                raise bad_request("InvalidParameter", "Required parameter 'osProfile' is missing (null).",
                                  target="osProfile")
        else:
            old = existing["properties"]
            old_sec = (old.get("securityProfile") or {}).get("securityType")
            new_sec = (props.get("securityProfile") or {}).get("securityType", old_sec)
            if (old_sec or "") != (new_sec or ""):
                raise ApiError(409, "PropertyChangeNotAllowed", "Changing property 'securityProfile.securityType' is "
                               "not allowed.", target="securityProfile.securityType")
            # keep what the platform generated
            if image is None and old.get("storageProfile", {}).get("imageReference"):
                sp["imageReference"] = copy.deepcopy(old["storageProfile"]["imageReference"])
        nics = ((props.get("networkProfile") or {}).get("networkInterfaces") or [])
        if not nics and not (props.get("networkProfile") or {}).get("networkInterfaceConfigurations"):
            raise bad_request("InvalidParameter", "Required parameter 'networkProfile' is missing (null).",
                              target="networkProfile")
        for ref in nics:
            nic = self.arm.get(ref.get("id", ""))
            if nic is None:
                raise bad_request("InvalidParameter", "Resource '%s' was not found." % ref.get("id"),
                                  target="networkInterfaces")
            attached = (nic["properties"].get("virtualMachine") or {}).get("id")
            rid = res["id"]
            if attached and attached.lower() != rid.lower():
                raise bad_request("NicInUse", "Network Interface %s is used by existing resource %s. In order to "
                                  "create a new resource, please delete the existing resource or use a new network "
                                  "interface." % (nic["id"], attached))
        ok, reason = catalog.size_offered(info["name"], res["location"])
        if res["location"] not in info["locations"] and cvm.region_offers_cvm(res["location"]):
            raise sku_not_available(info["name"], res["location"])
        cvm.check(self.arm, res, props, info, existing)
        ephemeral_os_disk_supported(props, info)
        ssh_keys_supported(props)
        for zone in res.get("zones") or []:
            if zone in (catalog.ZONE_RESTRICTED.get((info["name"], res["location"])) or []):
                ok = False
            elif zone not in catalog.zones_for(res["location"]):
                raise bad_request("InvalidParameter", "The zone(s) '%s' for resource '%s' is not supported. The "
                                  "supported zones for location '%s' are '%s'" % (
                                      zone, res["id"], res["location"], ",".join(catalog.zones_for(res["location"]))),
                                  target="zones")
        if not ok:
            raise sku_not_available(info["name"], res["location"])
        for ref in nics:
            nic = self.arm.get(ref["id"])
            if nic["properties"].get("enableAcceleratedNetworking") and \
                    dict((c["name"], c["value"]) for c in _caps(info)).get("AcceleratedNetworkingEnabled") != "True":
                raise bad_request("VMSizeIsNotPermittedToEnableAcceleratedNetworking", "Virtual Machine size %s is "
                                  "not in the allowed list of VM sizes for accelerated networking to be enabled on "
                                  "the VM at index 0 for VM %s. Allowed sizes: ." % (info["name"], res["id"]))
        self._fill(res, props, sp, osd, image, existing)
        res["properties"] = props
        return res

    def _fill(self, res, props, sp, osd, image, existing):
        rid = res["id"]
        old = existing["properties"] if existing else {}
        props["vmId"] = old.get("vmId") or det_uuid("vmId", rid.lower())
        props["timeCreated"] = old.get("timeCreated") or _now_iso()
        props["provisioningState"] = "Updating" if existing else "Creating"
        props["storageProfile"] = sp
        if image and not image.get("id"):
            info = catalog.image_info(image)
            image.setdefault("version", "latest")
            if info:
                image["exactVersion"] = info["version"] if image["version"] == "latest" else image["version"]
        old_osd = (old.get("storageProfile") or {}).get("osDisk") or {}
        osd = sp.setdefault("osDisk", osd)
        vm_name = res["name"]
        osd["name"] = osd.get("name") or old_osd.get("name") or "%s_OsDisk_1_%s" % (
            vm_name, hashlib.sha256(rid.lower().encode()).hexdigest()[:32])
        osd.setdefault("createOption", "FromImage")
        osd.setdefault("caching", "ReadWrite")
        osd.setdefault("deleteOption", "Detach")
        img = catalog.image_info(image or {}) or {"os": "Linux", "size": 30}
        osd.setdefault("osType", img["os"])
        osd.setdefault("diskSizeGB", img["size"])
        md = osd.setdefault("managedDisk", {})
        md.setdefault("storageAccountType", "Premium_LRS")
        md["id"] = "%s/providers/Microsoft.Compute/disks/%s" % (rid.split("/providers/")[0], osd["name"])
        sp.setdefault("dataDisks", [])
        for i, dd in enumerate(sp["dataDisks"]):
            dd.setdefault("name", "%s_disk%d_%s" % (vm_name, i + 2, hashlib.sha256(
                ("%s/%d" % (rid.lower(), dd.get("lun", i))).encode()).hexdigest()[:32]))
            dd.setdefault("caching", "None")
            dd.setdefault("deleteOption", "Detach")
            dmd = dd.setdefault("managedDisk", {})
            dmd.setdefault("storageAccountType", "Premium_LRS")
            dmd.setdefault("id", "%s/providers/Microsoft.Compute/disks/%s" % (rid.split("/providers/")[0], dd["name"]))
        osp = props.get("osProfile")
        if osp is not None:
            osp.pop("adminPassword", None)
            osp.pop("customData", None)
            osp.setdefault("computerName", vm_name)
            osp.setdefault("secrets", [])
            osp.setdefault("allowExtensionOperations", True)
            osp.setdefault("requireGuestProvisionSignal", True)
            if img["os"] == "Linux":
                lc = osp.setdefault("linuxConfiguration", {})
                lc.setdefault("disablePasswordAuthentication", bool(lc.get("ssh")))
                lc.setdefault("provisionVMAgent", True)
            else:
                wc = osp.setdefault("windowsConfiguration", {})
                wc.setdefault("provisionVMAgent", True)
                wc.setdefault("enableAutomaticUpdates", True)
        sec = props.get("securityProfile")
        if sec and sec.get("securityType") == "ConfidentialVM":
            sec.setdefault("uefiSettings", {}).setdefault("secureBootEnabled", True)
        # platform-side objects: OS disk, data disks, NIC back-references
        self._ensure_disks(res, props, image, existing)
        for ref in (props.get("networkProfile") or {}).get("networkInterfaces") or []:
            nic = self.arm.get(ref["id"])
            nic["properties"]["virtualMachine"] = {"id": rid}
        res.setdefault("_sim", {}).update((existing or {}).get("_sim") or {"power": "starting"})

    def _ensure_disks(self, res, props, image, existing):
        sp = props["storageProfile"]
        osd = sp["osDisk"]
        md = osd["managedDisk"]
        disk_id = md["id"]
        disk = self.arm.get(disk_id)
        dsp = md.get("securityProfile") or {}
        sec_type = None
        if (props.get("securityProfile") or {}).get("securityType") == "ConfidentialVM":
            enc = dsp.get("securityEncryptionType")
            sec_type = {"DiskWithVMGuestState": "ConfidentialVM_DiskEncryptedWithCustomerKey"
                        if dsp.get("diskEncryptionSet") else "ConfidentialVM_DiskEncryptedWithPlatformKey",
                        "VMGuestStateOnly": "ConfidentialVM_VMGuestStateOnlyEncryptedWithPlatformKey",
                        "NonPersistedTPM": "ConfidentialVM_NonPersistedTPM"}.get(enc)
        elif (props.get("securityProfile") or {}).get("securityType") == "TrustedLaunch":
            sec_type = "TrustedLaunch"
        if disk is None:
            dprops = {"osType": osd["osType"], "hyperVGeneration": "V2", "diskSizeGB": osd["diskSizeGB"],
                      "diskSizeBytes": osd["diskSizeGB"] * 1024 ** 3, "diskState": "Attached",
                      "uniqueId": det_uuid("disk", disk_id.lower()), "timeCreated": _now_iso(),
                      "provisioningState": "Succeeded", "networkAccessPolicy": "AllowAll",
                      "publicNetworkAccess": "Enabled",
                      "encryption": {"type": "EncryptionAtRestWithPlatformKey"},
                      "creationData": {"createOption": "FromImage"}}
            if image and not image.get("id"):
                info = catalog.image_info(image) or {}
                image_id = ("/Subscriptions/%s/Providers/Microsoft.Compute/Locations/%s/Publishers/%s/ArtifactTypes/"
                            "VMImage/Offers/%s/Skus/%s/Versions/%s") % (
                    self.arm.sub, res["location"], image.get("publisher"), image.get("offer"), image.get("sku"),
                    info.get("version", "1.0.0"))
                dprops["creationData"]["imageReference"] = {"id": image_id}
            if sec_type:
                dprops["securityProfile"] = {"securityType": sec_type}
                des = (dsp.get("diskEncryptionSet") or {}).get("id")
                if des:
                    dprops["securityProfile"]["secureVMDiskEncryptionSetId"] = des
            if md.get("diskEncryptionSet"):
                dprops["encryption"] = {"type": "EncryptionAtRestWithCustomerKey",
                                        "diskEncryptionSetId": md["diskEncryptionSet"]["id"]}
            disk = {"id": disk_id, "name": osd["name"], "type": "Microsoft.Compute/disks", "location": res["location"],
                    "managedBy": res["id"], "sku": {"name": md["storageAccountType"],
                                                    "tier": md["storageAccountType"].split("_")[0]},
                    "properties": dprops}
            if res.get("zones"):
                disk["zones"] = res["zones"]
            self.arm.put_resource(disk)
        else:
            disk["managedBy"] = res["id"]
            disk["properties"]["diskState"] = "Attached"
        for dd in sp.get("dataDisks") or []:
            did = dd["managedDisk"]["id"]
            d = self.arm.get(did)
            if d is None:
                if dd.get("createOption", "Empty") == "Attach":
                    raise bad_request("NotFound", "Disk %s not found." % did)
                if dd["managedDisk"]["storageAccountType"] == "UltraSSD_LRS" and \
                        (props.get("securityProfile") or {}).get("securityType") == "ConfidentialVM":
                    raise bad_request("InvalidParameter", "Ultra disks are not supported for VMs with security type "
                                      "'ConfidentialVM'.", target="dataDisks")
                size = int(dd.get("diskSizeGB") or 32)
                d = {"id": did, "name": dd["name"], "type": "Microsoft.Compute/disks", "location": res["location"],
                     "managedBy": res["id"], "sku": {"name": dd["managedDisk"]["storageAccountType"]},
                     "properties": {"diskSizeGB": size, "diskSizeBytes": size * 1024 ** 3, "diskState": "Attached",
                                    "uniqueId": det_uuid("disk", did.lower()), "timeCreated": _now_iso(),
                                    "provisioningState": "Succeeded",
                                    "encryption": {"type": "EncryptionAtRestWithPlatformKey"},
                                    "creationData": {"createOption": "Empty"}}}
                self.arm.put_resource(d)
            else:
                if (d["properties"].get("maxShares") or 1) > 1 and \
                        (props.get("securityProfile") or {}).get("securityType") == "ConfidentialVM":
                    raise bad_request("InvalidParameter", "Shared disks are not supported for VMs with security type "
                                      "'ConfidentialVM'.", target="dataDisks")
                d["managedBy"] = res["id"]
                d["properties"]["diskState"] = "Attached"

    def provisioned(self, res):
        res["properties"]["provisioningState"] = "Succeeded"
        sim = res.setdefault("_sim", {})
        if sim.get("power") in (None, "starting", "creating"):
            sim["power"] = "running"

    def before_delete(self, res):
        res["properties"]["provisioningState"] = "Deleting"

    def on_delete(self, res):
        sp = res["properties"].get("storageProfile") or {}
        disks = [sp.get("osDisk") or {}] + list(sp.get("dataDisks") or [])
        for d in disks:
            did = ((d.get("managedDisk") or {}).get("id"))
            disk = self.arm.get(did) if did else None
            if disk is None:
                continue
            if d.get("deleteOption") == "Delete":
                self.arm.delete_resource(did)
            else:
                disk.pop("managedBy", None)
                disk["properties"]["diskState"] = "Unattached"
        for ref in (res["properties"].get("networkProfile") or {}).get("networkInterfaces") or []:
            nic = self.arm.get(ref.get("id", ""))
            if nic is None:
                continue
            if (ref.get("properties") or {}).get("deleteOption") == "Delete":
                self.arm.delete_resource(nic["id"])
            else:
                nic["properties"].pop("virtualMachine", None)

    def instance_view(self, res) -> dict:
        power = (res.get("_sim") or {}).get("power", "running")
        ps = res["properties"].get("provisioningState", "Succeeded")
        statuses = [{"code": "ProvisioningState/%s" % ps.lower(), "level": "Info",
                     "displayStatus": "Provisioning %s" % ps.lower()}]
        statuses.append({"code": "PowerState/%s" % power, "level": "Info",
                         "displayStatus": "VM %s" % power})
        osd = res["properties"]["storageProfile"]["osDisk"]
        iv = {"computerName": (res["properties"].get("osProfile") or {}).get("computerName", res["name"]),
              "osName": "ubuntu" if osd.get("osType") == "Linux" else "Windows Server", "hyperVGeneration": "V2",
              "vmAgent": {"vmAgentVersion": "2.12.0.2",
                          "statuses": [{"code": "ProvisioningState/succeeded", "level": "Info",
                                        "displayStatus": "Ready"}]},
              "disks": [{"name": osd["name"],
                         "statuses": [{"code": "ProvisioningState/succeeded", "level": "Info",
                                       "displayStatus": "Provisioning succeeded"}]}],
              "statuses": statuses}
        return iv

    def get_view(self, req, res):
        out = view(res)
        if (req.query.get("$expand") or "").lower() == "instanceview":
            out = dict(out)
            out["properties"] = dict(out["properties"], instanceView=self.instance_view(res))
        return out

    ACTIONS = {"start": ("starting", "running"), "poweroff": ("stopping", "stopped"),
               "deallocate": ("deallocating", "deallocated"), "restart": ("restarting", "running"),
               "redeploy": ("updating", "running"), "reapply": (None, None)}

    def action(self, req, m, name, fault):
        """POST .../virtualMachines/{vmName}/{start|powerOff|deallocate|restart|redeploy|reapply}."""
        res = require(self, m)
        self.arm.validate_body(req, req.json())
        a = self.ACTIONS[name.lower()]
        power = res.setdefault("_sim", {}).get("power", "running")
        if name.lower() == "restart" and power in ("deallocated", "stopped"):
            raise ApiError(409, "OperationNotAllowed", "Operation 'restart' is not allowed on VM '%s' since the VM is "
                           "%s." % (res["name"], "deallocated" if power == "deallocated" else "not running"))
        interim, final = a
        if interim:
            res["_sim"]["power"] = interim

        def finalize():
            if final:
                res["_sim"]["power"] = final
        op = self.arm.new_op(self.namespace, res["location"], "action", res["id"], finalize, req.api_version, fault)
        return Response(202, None, self.arm.lro_headers(op))


def _caps(info):
    for e in catalog.sku_entries():
        if e["name"] == info["name"]:
            return e["capabilities"]
    return []


class Disks(TypeHandler):
    namespace, types, name_params = NS, ("disks",), ("diskName",)
    put_style, delete_style = "disk", "async"
    readonly_props = ("provisioningState", "timeCreated", "uniqueId", "diskState", "diskSizeBytes", "shareInfo",
                      "propertyUpdatesInProgress", "lastOwnershipUpdateTime")

    def build(self, req, rg, names, body, existing):
        res = super().build(req, rg, names, body, existing)
        props = res["properties"]
        cd = props.get("creationData") or (existing or {}).get("properties", {}).get("creationData")
        if not cd:
            raise bad_request("InvalidParameter", "Required parameter 'creationData' is missing (null).",
                              target="creationData")
        if cd.get("createOption") == "Empty" and not props.get("diskSizeGB"):
            raise bad_request("InvalidParameter", "Required parameter 'diskSizeGB' is missing (null).",
                              target="diskSizeGB")
        old = (existing or {}).get("properties", {})
        props["creationData"] = cd
        props["uniqueId"] = old.get("uniqueId") or det_uuid("disk", res["id"].lower())
        props["timeCreated"] = old.get("timeCreated") or _now_iso()
        props["diskState"] = old.get("diskState", "Unattached")
        props.setdefault("encryption", {"type": "EncryptionAtRestWithPlatformKey"})
        if props.get("diskSizeGB"):
            props["diskSizeBytes"] = int(props["diskSizeGB"]) * 1024 ** 3
        props["provisioningState"] = "Updating"
        res.setdefault("sku", {"name": "Standard_LRS", "tier": "Standard"})
        if existing and existing.get("managedBy"):
            res["managedBy"] = existing["managedBy"]
        return res

    def before_delete(self, res):
        if res.get("managedBy"):
            raise ApiError(409, "OperationNotAllowed", "Disk %s is attached to VM %s." % (res["name"], res["managedBy"]))


class DiskEncryptionSets(TypeHandler):
    namespace, types, name_params = NS, ("diskEncryptionSets",), ("diskEncryptionSetName",)
    put_style, delete_style = "disk", "async"
    readonly_props = ("provisioningState", "previousKeys", "lastKeyRotationTimestamp", "autoKeyRotationError")

    def build(self, req, rg, names, body, existing):
        res = super().build(req, rg, names, body, existing)
        props = res["properties"]
        ident = res.get("identity") or (existing or {}).get("identity")
        if not ident or ident.get("type", "None") == "None":
            raise bad_request("InvalidParameter", "Required parameter 'identity' is missing (null).",
                              target="identity")
        ident = dict(ident)
        if "SystemAssigned" in ident.get("type", ""):
            ident["principalId"] = det_uuid("des-identity", res["id"].lower())
            ident["tenantId"] = self.sim.tenant_id
        res["identity"] = ident
        url = self.check_key(props, existing)
        props.setdefault("encryptionType", "EncryptionAtRestWithCustomerKey")
        old = (existing or {}).get("properties", {})
        prev = list(old.get("previousKeys") or [])
        old_url = (old.get("activeKey") or {}).get("keyUrl")
        if old_url and old_url != url:
            props["lastKeyRotationTimestamp"] = _now_iso()
        props["previousKeys"] = prev
        props["provisioningState"] = "Updating"
        return res

    def check_key(self, props, existing):
        """The active key rules (PUT and PATCH alike); returns its URL."""
        ak = props.get("activeKey") or {}
        url = ak.get("keyUrl")
        if not url:
            raise bad_request("InvalidParameter", "Required parameter 'activeKey.keyUrl' is missing (null).",
                              target="activeKey.keyUrl")
        m = re.match(r"^https://([^/]+)/keys/([^/]+)(?:/([^/]+))?/?$", url)
        des_key_url_is_versioned(url, m)
        vault = self.sim.kv.vault_for_host(m.group(1))
        key = self.sim.kv.find_key(vault, m.group(2), m.group(3)) if vault and vault.get("name") else None
        if key is None:
            raise bad_request("KeyVaultKeyNotFound", "The key '%s' could not be found in key vault." % url,
                              target="activeKey.keyUrl")
        sv = (ak.get("sourceVault") or {}).get("id")
        if sv and self.arm.get(sv) is None:
            raise bad_request("InvalidParameter", "The source vault '%s' could not be found." % sv,
                              target="activeKey.sourceVault")
        arm_vault = self.sim.kv.arm_vault(vault)
        des_vault_is_purge_protected(arm_vault, url)
        des_key_wraps(key, url)
        if existing is not None:
            no_running_vm_on_key_change(self.arm, existing, url)
        return url

    def patch(self, req, existing, body):
        """PATCH (DiskEncryptionSets_Update) changes the key under the same rules as PUT."""
        res = super().patch(req, existing, body)
        url = self.check_key(res["properties"], existing)
        if url != ((existing["properties"].get("activeKey") or {}).get("keyUrl")):
            res["properties"]["lastKeyRotationTimestamp"] = _now_iso()
        return res


# ---------------------------------------------------------------- virtual machine rules
def sku_not_available(size, location):
    """A size not offered (or restricted) in the location: 409 SkuNotAvailable, before any other size rule.

    Source: Microsoft doc "Resolve errors for SKU not available" (Azure Resource Manager troubleshooting), which
    quotes the message: "The requested VM size for resource 'Following SKUs have failed for Capacity Restrictions:
    ...' is currently not available in location ...". """
    return ApiError(409, "SkuNotAvailable", "The requested VM size for resource 'Following SKUs have failed for "
                    "Capacity Restrictions: %s' is currently not available in location '%s'. Please try another "
                    "size or deploy to a different location or different zone. See "
                    "https://aka.ms/azureskunotavailable for details." % (size, location))


def ephemeral_os_disk_supported(props, size):
    """An ephemeral OS disk (``osDisk.diffDiskSettings.option: Local``) needs a size whose resource SKU has
    ``EphemeralOSDiskSupported=True``, and is never allowed on a confidential VM.

    Source: Microsoft doc "Ephemeral OS disks for Azure VMs" (size requirements: the capability
    EphemeralOSDiskSupported of the resource SKU) and "About Azure confidential VMs" (limitations: ephemeral OS
    disks are not supported)."""
    osd = (props.get("storageProfile") or {}).get("osDisk") or {}
    if ((osd.get("diffDiskSettings") or {}).get("option") or "").lower() != "local":
        return
    if (props.get("securityProfile") or {}).get("securityType") == "ConfidentialVM":
        raise bad_request("InvalidParameter", "Ephemeral OS disk is not supported for VMs with security type "
                          "'ConfidentialVM'.", target="osDisk.diffDiskSettings")
    caps = dict((c["name"], c["value"]) for c in _caps(size))
    if caps.get("EphemeralOSDiskSupported") != "True":
        raise bad_request("InvalidParameter", "The VM size '%s' does not support Ephemeral OS disk (its resource SKU "
                          "has EphemeralOSDiskSupported=False)." % size["name"], target="osDisk.diffDiskSettings")


_SSH_TYPES = ("ssh-rsa", "ssh-ed25519")


def ssh_keys_supported(props):
    """SSH public keys are RSA (at least 2048 bits) or Ed25519; ECDSA, DSA and malformed keys are refused.

    Source: Microsoft doc "Detailed steps: Create and manage SSH keys for authentication to a Linux VM in Azure"
    (supported formats: SSH-2 RSA with a minimum length of 2048 bits, and ED25519; "Other key formats such as ...
    ECDSA are not supported"); Azure's message for a refused key is public record (Azure/azure-quickstart-templates
    issue #680): "The value of parameter linuxConfiguration.ssh.publicKeys.keyData is invalid." """
    ssh = (((props.get("osProfile") or {}).get("linuxConfiguration") or {}).get("ssh") or {})
    for pk in ssh.get("publicKeys") or []:
        if not _ssh_key_ok(pk.get("keyData") or ""):
            raise bad_request("InvalidParameter", "The value of parameter linuxConfiguration.ssh.publicKeys.keyData "
                              "is invalid.", target="linuxConfiguration.ssh.publicKeys.keyData")


def _ssh_key_ok(text: str) -> bool:
    text = text.strip()
    if text.startswith("---- BEGIN SSH2 PUBLIC KEY ----"):      # RFC 4716
        lines = [ln for ln in text.splitlines()[1:] if ln and not ln.startswith("----") and ":" not in ln]
        blob_b64, declared = "".join(lines), None
    else:
        parts = text.split()
        if len(parts) < 2:
            return False
        declared, blob_b64 = parts[0], parts[1]
    try:
        blob = base64.b64decode(blob_b64, validate=True)
        fields = _ssh_fields(blob)
    except (ValueError, binascii.Error):
        return False
    kind = fields[0].decode("ascii", "replace") if fields else ""
    if kind not in _SSH_TYPES or (declared is not None and declared != kind):
        return False
    if kind == "ssh-ed25519":
        return len(fields) == 2 and len(fields[1]) == 32
    return len(fields) == 3 and int.from_bytes(fields[2], "big").bit_length() >= 2048


def _ssh_fields(blob: bytes) -> list[bytes]:
    out, i = [], 0
    while i < len(blob):
        if i + 4 > len(blob):
            raise ValueError("truncated")
        n = int.from_bytes(blob[i:i + 4], "big")
        if i + 4 + n > len(blob):
            raise ValueError("truncated")
        out.append(blob[i + 4:i + 4 + n])
        i += 4 + n
    return out


# ---------------------------------------------------------------- disk encryption set rules
def des_key_url_is_versioned(url, m):
    """The active key URL names a key version, whatever ``rotationToLatestKeyVersionEnabled`` says.

    Source: specification/compute/resource-manager/Microsoft.Compute/Compute/stable/2026-03-02/DiskRP.json,
    KeyForDiskEncryptionSet.keyUrl: "Fully versioned Key Url pointing to a key in KeyVault. Version segment of the
    Url is required regardless of rotationToLatestKeyVersionEnabled value." """
    if not m or not m.group(3):
        raise bad_request("InvalidParameter", "Invalid key vault key url '%s'. The key url must be of the form "
                          "'https://<vault>/keys/<key-name>/<key-version>'; the version segment is required "
                          "regardless of rotationToLatestKeyVersionEnabled." % url, target="activeKey.keyUrl")


def des_vault_is_purge_protected(arm_vault, url):
    """The key vault of a disk encryption set has soft delete and purge protection enabled.

    Source: Microsoft doc "Server-side encryption of Azure Disk Storage" (Restrictions / customer-managed keys:
    "Your key vault ... must have soft delete and purge protection enabled"), and "Use the Azure CLI to enable
    server-side encryption with customer-managed keys for managed disks" (the vault is created with
    --enable-purge-protection)."""
    props = (arm_vault or {}).get("properties") or {}
    if not props.get("enablePurgeProtection") or props.get("enableSoftDelete") is False:
        raise bad_request("InvalidParameter", "The key vault '%s' of key '%s' must have soft delete and purge "
                          "protection enabled to be used with a disk encryption set. Enable purge protection on the "
                          "key vault (enablePurgeProtection: true) and retry." % ((arm_vault or {}).get("name"), url),
                          target="activeKey.keyUrl")


def des_key_wraps(key, url):
    """A disk encryption set key is an RSA key (RSA or RSA-HSM; 2048, 3072 or 4096 bits) permitting wrapKey and
    unwrapKey.

    Source: Microsoft doc "Server-side encryption of Azure Disk Storage" ("Only software and HSM RSA keys of sizes
    2,048-bit, 3,072-bit and 4,096-bit are supported"), and "Use the Azure CLI to enable server-side encryption with
    customer-managed keys" (the DES identity is granted get, wrapKey and unwrapKey)."""
    k = key["key"]
    if k.get("kty") not in ("RSA", "RSA-HSM"):
        raise bad_request("InvalidParameter", "The key '%s' has key type '%s'. Only RSA and RSA-HSM keys of size "
                          "2048, 3072 or 4096 bits are supported for disk encryption sets." % (url, k.get("kty")),
                          target="activeKey.keyUrl")
    ops = {o.lower() for o in k.get("key_ops") or ()}
    missing = [o for o in ("wrapKey", "unwrapKey") if o.lower() not in ops]
    if missing:
        raise bad_request("InvalidParameter", "The key '%s' does not permit the operation(s) %s; a disk encryption "
                          "set key must permit wrapKey and unwrapKey." % (url, ", ".join(missing)),
                          target="activeKey.keyUrl")


def vms_using_des(arm, des_id):
    """VMs whose OS or data disks reference the disk encryption set (CVM or server-side encryption)."""
    out = []
    for vm in arm.of_type("Microsoft.Compute/virtualMachines"):
        sp = vm["properties"].get("storageProfile") or {}
        for d in [sp.get("osDisk") or {}] + list(sp.get("dataDisks") or []):
            md = d.get("managedDisk") or {}
            ids = [(md.get("diskEncryptionSet") or {}).get("id"),
                   ((md.get("securityProfile") or {}).get("diskEncryptionSet") or {}).get("id")]
            if any(i and i.lower() == des_id.lower() for i in ids):
                out.append(vm)
                break
    return out


def no_running_vm_on_key_change(arm, existing, url):
    """The key of a confidential disk encryption set changes only while every VM using it is deallocated.

    Source: Microsoft doc "Azure confidential VMs: key rotation with customer-managed keys" (confidential computing
    docs: deallocate the confidential VMs that use the disk encryption set, update its key, then start them)."""
    old = existing["properties"]
    if old.get("encryptionType") != "ConfidentialVmEncryptedWithCustomerKey":
        return
    if ((old.get("activeKey") or {}).get("keyUrl") or "") == url:
        return
    running = [vm["name"] for vm in vms_using_des(arm, existing["id"])
               if (vm.get("_sim") or {}).get("power", "running") != "deallocated"]
    if running:
        raise ApiError(409, "OperationNotAllowed", "The key of disk encryption set '%s' of encryption type "
                       "'ConfidentialVmEncryptedWithCustomerKey' cannot be changed while virtual machines using it "
                       "are allocated: %s. Deallocate them, change the key, then start them." % (
                           existing["name"], ", ".join(sorted(running))), target="activeKey.keyUrl")


VM_ACTIONS = ("start", "powerOff", "deallocate", "restart", "redeploy", "reapply")


def register(table, arm):
    vms, disks, des = VirtualMachines(arm), Disks(arm), DiskEncryptionSets(arm)
    vm = register_type(table, vms)
    register_type(table, disks)
    register_type(table, des)
    table.add("GET", vm + "/instanceView", lambda req, m, fault: Response(200, vms.instance_view(require(vms, m))))
    for name in VM_ACTIONS:
        table.add("POST", vm + "/" + name, lambda req, m, fault, name=name: vms.action(req, m, name, fault))
    table.add("GET", SUB_PREFIX + NS + "/skus", list_skus)
    register_operations(table, arm, NS)
    return [vms, disks, des]


def list_skus(req, m, fault):
    """GET .../providers/Microsoft.Compute/skus (ResourceSkus_List, with the ``location eq`` filter)."""
    loc = None
    mm = re.search(r"location\s+eq\s+'([^']+)'", req.query.get("$filter") or "", re.I)
    if mm:
        loc = mm.group(1)
    return Response(200, {"value": catalog.sku_entries(loc)})
