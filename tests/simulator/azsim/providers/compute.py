"""Microsoft.Compute: virtual machines, disks, disk encryption sets, resource SKUs, operation status.

Spec: specification/compute/resource-manager/Microsoft.Compute/Compute/stable/2026-04-01/ComputeRP.json (VMs),
.../Compute/stable/2026-03-02/DiskRP.json (disks, disk encryption sets), .../Compute/stable/2021-07-01/skus.json."""
from __future__ import annotations

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
        res = self.base(rg, names, body, existing)
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
        cvm.check(self.arm, res, props, info, existing)
        for zone in res.get("zones") or []:
            if zone in (catalog.ZONE_RESTRICTED.get((info["name"], res["location"])) or []):
                ok = False
            elif zone not in catalog.zones_for(res["location"]):
                raise bad_request("InvalidParameter", "The zone(s) '%s' for resource '%s' is not supported. The "
                                  "supported zones for location '%s' are '%s'" % (
                                      zone, res["id"], res["location"], ",".join(catalog.zones_for(res["location"]))),
                                  target="zones")
        if not ok:
            raise ApiError(409, "SkuNotAvailable", "The requested VM size for resource 'Following SKUs have failed "
                           "for Capacity Restrictions: %s' is currently not available in location '%s'. Please try "
                           "another size or deploy to a different location or different zone. See "
                           "https://aka.ms/azureskunotavailable for details." % (info["name"], res["location"]))
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
        ak = props.get("activeKey") or {}
        url = ak.get("keyUrl")
        if not url:
            raise bad_request("InvalidParameter", "Required parameter 'activeKey.keyUrl' is missing (null).",
                              target="activeKey.keyUrl")
        m = re.match(r"^https://([^/]+)/keys/([^/]+)(?:/([^/]+))?/?$", url)
        if not m or (not m.group(3) and not props.get("rotationToLatestKeyVersionEnabled")):
            raise bad_request("InvalidParameter", "Invalid key vault key url '%s'. The key url must be of the form "
                              "'https://<vault>/keys/<key-name>/<key-version>'." % url, target="activeKey.keyUrl")
        vault = self.sim.kv.vault_for_host(m.group(1))
        if vault is not None:
            key = self.sim.kv.find_key(vault, m.group(2), m.group(3))
            if key is None:
                raise bad_request("KeyVaultKeyNotFound", "The key '%s' could not be found in key vault." % url,
                                  target="activeKey.keyUrl")
        sv = (ak.get("sourceVault") or {}).get("id")
        if sv and self.arm.get(sv) is None:
            raise bad_request("InvalidParameter", "The source vault '%s' could not be found." % sv,
                              target="activeKey.sourceVault")
        props.setdefault("encryptionType", "EncryptionAtRestWithCustomerKey")
        old = (existing or {}).get("properties", {})
        prev = list(old.get("previousKeys") or [])
        old_url = (old.get("activeKey") or {}).get("keyUrl")
        if old_url and old_url != url:
            props["lastKeyRotationTimestamp"] = _now_iso()
        props["previousKeys"] = prev
        props["provisioningState"] = "Updating"
        return res



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
