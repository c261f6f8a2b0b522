"""Resource types: routing of provider paths, CRUD with per-type LRO styles, VM/disk/DES/network/vault/RBAC."""
from __future__ import annotations

import copy
import datetime
import hashlib
import itertools
import ipaddress
import re
import time

from . import catalog
from .core import ApiError, Response, bad_request, det_uuid


def _now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def deep_merge(dst: dict, src: dict) -> dict:
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            deep_merge(dst[k], v)
        else:
            dst[k] = copy.deepcopy(v)
    return dst


def view(res: dict) -> dict:
    """Public representation (internal bookkeeping lives under '_sim')."""
    if "_sim" not in res:
        return res
    return {k: v for k, v in res.items() if k != "_sim"}


def parse_id(rid: str) -> dict:
    segs = [s for s in (rid or "").split("/") if s]
    low = [s.lower() for s in segs]
    out = {}
    try:
        out["subscription"] = segs[low.index("subscriptions") + 1]
        out["resource_group"] = segs[low.index("resourcegroups") + 1]
        i = low.index("providers")
        out["namespace"] = segs[i + 1]
        out["types"] = segs[i + 2::2]
        out["names"] = segs[i + 3::2]
    except (ValueError, IndexError):
        return {}
    return out


class TypeHandler:
    """Base: a tracked resource type with an LRO style."""
    namespace = ""
    types: tuple = ()
    put_style = "sync"          # sync | compute | disk | network
    delete_style = "sync"       # sync | async
    has_location = True
    readonly_props = ("provisioningState",)

    def __init__(self, arm):
        self.arm = arm
        self.sim = arm.sim

    @property
    def key(self) -> str:
        return (self.namespace + "/" + "/".join(self.types)).lower()

    @property
    def display_type(self) -> str:
        return self.namespace + "/" + "/".join(self.types)

    def version_type(self) -> str:
        return self.types[-1]

    def build_id(self, rg_name: str, names: list[str]) -> str:
        parts = [self.arm.rg_id(rg_name), "providers", self.namespace]
        for t, n in zip(self.types, names):
            parts += [t, n]
        return "/".join(parts)

    def type_path(self, names) -> str:
        out = self.namespace
        for t, n in zip(self.types, names):
            out += "/%s/%s" % (t, n)
        return out

    # -- hooks
    def build(self, req, rg, names, body, existing) -> dict:
        res = self.base(rg, names, body, existing)
        props = copy.deepcopy(body.get("properties") or {})
        for k in self.readonly_props:
            props.pop(k, None)
        res["properties"] = props
        return res

    def base(self, rg, names, body, existing) -> dict:
        rid = existing["id"] if existing else self.build_id(rg["name"], names)
        res = {"id": rid, "name": names[-1], "type": self.display_type}
        if self.has_location:
            loc = body.get("location") or (existing or {}).get("location")
            if not loc:
                raise bad_request("LocationRequired", "The location property is required for this definition.")
            loc = loc.lower().replace(" ", "")
            if loc not in catalog.LOCATIONS:
                raise bad_request("LocationNotAvailableForResourceType", "The provided location '%s' is not available "
                                  "for resource type '%s'. List of available regions for the resource type is '%s'."
                                  % (loc, self.display_type, ",".join(catalog.LOCATIONS)))
            if existing and existing.get("location") and existing["location"] != loc:
                raise bad_request("InvalidResourceLocation", "The resource '%s' already exists in location '%s' in "
                                  "resource group '%s'. A resource with the same name cannot be created in location "
                                  "'%s'. Please select a new resource name." % (names[-1], existing["location"],
                                                                                rg["name"], loc))
            res["location"] = loc
        if body.get("tags") is not None:
            res["tags"] = body["tags"]
        elif existing and "tags" in existing and "tags" not in body:
            pass
        for k in ("sku", "zones", "identity", "kind", "extendedLocation", "plan"):
            if k in body:
                res[k] = copy.deepcopy(body[k])
        return res

    def provisioned(self, res):
        if isinstance(res.get("properties"), dict):
            res["properties"]["provisioningState"] = "Succeeded"

    def before_delete(self, res):
        pass

    def on_delete(self, res):
        pass

    def patch(self, req, existing, body) -> dict:
        res = copy.deepcopy(existing)
        if "tags" in body:
            res["tags"] = body["tags"]
        if isinstance(body.get("properties"), dict):
            props = copy.deepcopy(body["properties"])
            for k in self.readonly_props:
                props.pop(k, None)
            deep_merge(res.setdefault("properties", {}), props)
        for k in ("sku", "identity", "zones"):
            if k in body:
                res[k] = copy.deepcopy(body[k])
        return res

    def get_view(self, req, res) -> dict:
        return view(res)

    def sub_get(self, req, res, name):
        return None

    def action(self, req, res, name, fault):
        return None


# ============================================================================ compute
class VirtualMachines(TypeHandler):
    namespace, types = "Microsoft.Compute", ("virtualMachines",)
    put_style, delete_style = "compute", "async"
    readonly_props = ("provisioningState", "vmId", "instanceView", "timeCreated")

    def build(self, req, rg, names, body, existing):
        from . import cvm
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

    def sub_get(self, req, res, name):
        if name.lower() == "instanceview":
            return self.instance_view(res)
        return None

    ACTIONS = {"start": ("starting", "running"), "poweroff": ("stopping", "stopped"),
               "deallocate": ("deallocating", "deallocated"), "restart": ("restarting", "running"),
               "redeploy": ("updating", "running"), "reapply": (None, None)}

    def action(self, req, res, name, fault):
        a = self.ACTIONS.get(name.lower())
        if a is None:
            return None
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
    namespace, types = "Microsoft.Compute", ("disks",)
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
    namespace, types = "Microsoft.Compute", ("diskEncryptionSets",)
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


# ============================================================================ network
class _NetworkBase(TypeHandler):
    namespace = "Microsoft.Network"
    put_style, delete_style = "network", "async"
    readonly_props = ("provisioningState", "resourceGuid", "etag")

    def build(self, req, rg, names, body, existing):
        res = super().build(req, rg, names, body, existing)
        props = res["properties"]
        props["resourceGuid"] = ((existing or {}).get("properties") or {}).get("resourceGuid") or det_uuid(
            "guid", res["id"].lower())
        props["provisioningState"] = "Updating"
        res["etag"] = 'W/"%s"' % det_uuid("etag", res["id"].lower(), time.time())
        return res


class VirtualNetworks(_NetworkBase):
    types = ("virtualNetworks",)

    def build(self, req, rg, names, body, existing):
        res = super().build(req, rg, names, body, existing)
        props = res["properties"]
        prefixes = ((props.get("addressSpace") or {}).get("addressPrefixes") or [])
        if not prefixes:
            raise bad_request("InvalidAddressSpace", "Address space of virtual network %s is not valid." % res["id"])
        subnets = []
        for s in props.get("subnets") or []:
            subnets.append(_subnet(res["id"], s.get("name"), s.get("properties") or {}))
        props["subnets"] = subnets
        props.setdefault("virtualNetworkPeerings", [])
        props.setdefault("enableDdosProtection", False)
        return res


def _subnet(vnet_id, name, props):
    p = {k: v for k, v in props.items() if k not in ("provisioningState", "ipConfigurations")}
    p["provisioningState"] = "Succeeded"
    p.setdefault("privateEndpointNetworkPolicies", "Disabled")
    p.setdefault("privateLinkServiceNetworkPolicies", "Enabled")
    return {"id": "%s/subnets/%s" % (vnet_id, name), "name": name, "type": "Microsoft.Network/virtualNetworks/subnets",
            "properties": p}


class Subnets(TypeHandler):
    """Child of a virtual network, stored inside the parent's properties.subnets."""
    namespace, types = "Microsoft.Network", ("virtualNetworks", "subnets")
    put_style, delete_style = "network", "async"
    has_location = False


class NetworkInterfaces(_NetworkBase):
    types = ("networkInterfaces",)
    readonly_props = _NetworkBase.readonly_props + ("virtualMachine", "macAddress", "primary")

    def build(self, req, rg, names, body, existing):
        res = super().build(req, rg, names, body, existing)
        props = res["properties"]
        cfgs = props.get("ipConfigurations") or []
        if not cfgs:
            raise bad_request("InvalidRequestFormat", "Cannot parse the request.")
        for i, cfg in enumerate(cfgs):
            cp = cfg.setdefault("properties", {})
            cfg["id"] = "%s/ipConfigurations/%s" % (res["id"], cfg.get("name", "ipconfig%d" % (i + 1)))
            cfg["type"] = "Microsoft.Network/networkInterfaces/ipConfigurations"
            sid = (cp.get("subnet") or {}).get("id")
            subnet = self.arm.types["__resource__"].find_subnet(sid) if sid else None
            if sid and subnet is None:
                raise bad_request("InvalidResourceReference", "Resource %s referenced by resource %s was not found. "
                                  "Please make sure that the referenced resource exists, and that both resources are "
                                  "in the same region." % (sid, res["id"]))
            pip = (cp.get("publicIPAddress") or {}).get("id")
            if pip and self.arm.get(pip) is None:
                raise bad_request("InvalidResourceReference", "Resource %s referenced by resource %s was not found. "
                                  "Please make sure that the referenced resource exists, and that both resources are "
                                  "in the same region." % (pip, res["id"]))
            if subnet is not None and not cp.get("privateIPAddress"):
                prefix = subnet["properties"].get("addressPrefix") or (subnet["properties"].get("addressPrefixes")
                                                                       or ["10.0.0.0/24"])[0]
                net = ipaddress.ip_network(prefix, strict=False)
                used = {c.get("properties", {}).get("privateIPAddress") for n in self.arm.of_type(
                    "Microsoft.Network/networkInterfaces") if n["id"].lower() != res["id"].lower()
                    for c in n["properties"].get("ipConfigurations") or []}
                for host in itertools.islice(net.hosts(), 3, None):
                    if str(host) not in used:
                        cp["privateIPAddress"] = str(host)
                        break
                cp.setdefault("privateIPAllocationMethod", "Dynamic")
            cp.setdefault("primary", i == 0)
            cp.setdefault("privateIPAddressVersion", "IPv4")
            cp["provisioningState"] = "Succeeded"
        nsg = (props.get("networkSecurityGroup") or {}).get("id")
        if nsg and self.arm.get(nsg) is None:
            raise bad_request("InvalidResourceReference", "Resource %s referenced by resource %s was not found. Please "
                              "make sure that the referenced resource exists, and that both resources are in the same "
                              "region." % (nsg, res["id"]))
        props.setdefault("enableAcceleratedNetworking", False)
        props.setdefault("enableIPForwarding", False)
        props["macAddress"] = "00-0D-3A-%s" % "-".join(hashlib.sha256(res["id"].lower().encode()).hexdigest()[i:i + 2]
                                                       for i in (0, 2, 4)).upper()
        old_vm = ((existing or {}).get("properties") or {}).get("virtualMachine")
        if old_vm:
            props["virtualMachine"] = old_vm
        props["primary"] = True
        return res

    def before_delete(self, res):
        vm = (res["properties"].get("virtualMachine") or {}).get("id")
        if vm:
            raise bad_request("NicInUse", "Network Interface %s is used by existing resource %s. In order to delete "
                              "the network interface, it must be dissociated from the resource. To learn more, see "
                              "aka.ms/deletenic." % (res["id"], vm))


class PublicIPAddresses(_NetworkBase):
    types = ("publicIPAddresses",)
    readonly_props = _NetworkBase.readonly_props + ("ipAddress", "ipConfiguration")

    def build(self, req, rg, names, body, existing):
        res = super().build(req, rg, names, body, existing)
        props = res["properties"]
        props.setdefault("publicIPAllocationMethod", "Static")
        props.setdefault("publicIPAddressVersion", "IPv4")
        props.setdefault("idleTimeoutInMinutes", 4)
        h = hashlib.sha256(res["id"].lower().encode()).digest()
        props["ipAddress"] = "20.%d.%d.%d" % (h[0], h[1], max(1, h[2] % 255))
        res.setdefault("sku", {"name": "Standard", "tier": "Regional"})
        return res


class NetworkSecurityGroups(_NetworkBase):
    types = ("networkSecurityGroups",)
    readonly_props = _NetworkBase.readonly_props + ("defaultSecurityRules", "networkInterfaces", "subnets")

    def build(self, req, rg, names, body, existing):
        res = super().build(req, rg, names, body, existing)
        props = res["properties"]
        rules = []
        for r in props.get("securityRules") or []:
            r = dict(r)
            r["id"] = "%s/securityRules/%s" % (res["id"], r.get("name"))
            r["type"] = "Microsoft.Network/networkSecurityGroups/securityRules"
            r.setdefault("properties", {})["provisioningState"] = "Succeeded"
            rules.append(r)
        props["securityRules"] = rules
        defaults = [("AllowVnetInBound", 65000, "Inbound", "VirtualNetwork", "Allow"),
                    ("AllowAzureLoadBalancerInBound", 65001, "Inbound", "AzureLoadBalancer", "Allow"),
                    ("DenyAllInBound", 65500, "Inbound", "*", "Deny"),
                    ("AllowVnetOutBound", 65000, "Outbound", "VirtualNetwork", "Allow"),
                    ("AllowInternetOutBound", 65001, "Outbound", "Internet", "Allow"),
                    ("DenyAllOutBound", 65500, "Outbound", "*", "Deny")]
        props["defaultSecurityRules"] = [{
            "id": "%s/defaultSecurityRules/%s" % (res["id"], n), "name": n,
            "type": "Microsoft.Network/networkSecurityGroups/defaultSecurityRules",
            "properties": {"protocol": "*", "sourcePortRange": "*", "destinationPortRange": "*",
                           "sourceAddressPrefix": src, "destinationAddressPrefix": "*", "access": acc,
                           "priority": pri, "direction": d, "provisioningState": "Succeeded"}}
            for n, pri, d, src, acc in defaults]
        return res


# ============================================================================ key vault (management)
class Vaults(TypeHandler):
    namespace, types = "Microsoft.KeyVault", ("vaults",)
    put_style, delete_style = "sync", "sync"
    readonly_props = ("provisioningState", "vaultUri", "hsmPoolResourceId", "privateEndpointConnections")

    def build(self, req, rg, names, body, existing):
        name = names[-1]
        if not re.match(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$", name):
            raise bad_request("VaultNameNotValid", "The vault name '%s' is invalid. A vault's name must be between "
                              "3-24 alphanumeric characters. The name must begin with a letter, end with a letter or "
                              "digit, and not contain consecutive hyphens. Follow this link for more information: "
                              "https://go.microsoft.com/fwlink/?linkid=2147742" % name)
        if existing is None:
            for v in self.arm.of_type(self.display_type):
                if v["name"].lower() == name.lower():
                    raise ApiError(409, "VaultAlreadyExists", "The vault name '%s' is already in use. Vault names are "
                                   "globally unique so it is possible that the name is already taken. If you are sure "
                                   "that the vault name was not taken then it is possible that a vault with the same "
                                   "name was recently deleted but not purged after being placed in a recoverable "
                                   "state. If the vault is in a recoverable state then the vault will need to be "
                                   "explicitly purged. Please refer to https://go.microsoft.com/fwlink/?linkid=2147740"
                                   " for more details." % name)
        res = super().build(req, rg, names, body, existing)
        props = res["properties"]
        old = (existing or {}).get("properties", {})
        if not props.get("tenantId"):
            raise bad_request("BadRequest", "The parameter tenantId cannot be null or empty.")
        sku = props.get("sku") or {}
        if (sku.get("name") or "").lower() not in ("standard", "premium"):
            raise bad_request("BadRequest", "The parameter sku.name is invalid.")
        sku["name"] = sku["name"].lower()
        if "accessPolicies" not in props and not props.get("enableRbacAuthorization") and \
                props.get("createMode") != "recover":
            if existing is None:
                raise bad_request("BadRequest", "The parameter accessPolicies is not specified.")
            props["accessPolicies"] = old.get("accessPolicies", [])
        props.setdefault("accessPolicies", [])
        for ap in props["accessPolicies"]:
            if not ap.get("objectId") or not ap.get("tenantId"):
                raise bad_request("BadRequest", "An invalid value was provided for 'accessPolicies'.")
        if old.get("enablePurgeProtection") and props.get("enablePurgeProtection") is False:
            raise bad_request("BadRequest", "The property \"enablePurgeProtection\" cannot be set to false. Enabling "
                              "the purge protection for a vault is an irreversible action.")
        if old.get("enablePurgeProtection") and "enablePurgeProtection" not in props:
            props["enablePurgeProtection"] = True
        if props.get("enableSoftDelete") is False and (existing is None or old.get("enableSoftDelete", True)):
            if existing is not None:
                raise bad_request("BadRequest", "The property \"enableSoftDelete\" cannot be set to false. Enabling "
                                  "the 'soft delete' functionality is an irreversible action.")
        props.setdefault("enableSoftDelete", True)
        props.setdefault("softDeleteRetentionInDays", 90)
        props.setdefault("enableRbacAuthorization", False)
        props.setdefault("enabledForDeployment", False)
        props.setdefault("enabledForDiskEncryption", False)
        props.setdefault("enabledForTemplateDeployment", False)
        props.setdefault("publicNetworkAccess", "Enabled")
        props["vaultUri"] = self.sim.kv.register_vault(name, res["id"])
        props["provisioningState"] = "Succeeded"
        res["systemData"] = {"createdBy": self.sim.client_id, "createdByType": "Application",
                             "createdAt": (existing or {}).get("systemData", {}).get("createdAt") or _now_iso(),
                             "lastModifiedBy": self.sim.client_id, "lastModifiedByType": "Application",
                             "lastModifiedAt": _now_iso()}
        return res

    def on_delete(self, res):
        self.sim.kv.delete_vault(res["name"])


class VaultAccessPolicy(TypeHandler):
    """PUT {vault}/accessPolicies/{add|replace|remove} (the REST path; 'accessPolicy' is accepted as an alias)."""
    namespace, types = "Microsoft.KeyVault", ("vaults", "accessPolicies")
    has_location = False


class VaultAccessPolicyAlias(VaultAccessPolicy):
    types = ("vaults", "accessPolicy")


# ============================================================================ router
class ResourceRouter:
    def __init__(self, arm, handlers):
        self.arm = arm
        self.sim = arm.sim
        self.handlers = {h.key: h for h in handlers}

    def find_subnet(self, sid: str):
        p = parse_id(sid)
        if not p or len(p.get("types", [])) != 2:
            return None
        vnet = self.arm.get(sid.rsplit("/subnets/", 1)[0])
        if vnet is None:
            return None
        for s in vnet["properties"].get("subnets") or []:
            if s["name"].lower() == p["names"][1].lower():
                return s
        return None

    def cascade_delete(self, res):
        h = self.handlers.get(res.get("type", "").lower())
        if h is not None:
            try:
                h.on_delete(res)
            except ApiError:
                pass

    def handle(self, req, rg_name, ns, rest, fault):
        low = [s.lower() for s in rest]
        types = low[0::2]
        names = rest[1::2]
        if len(rest) % 2 == 1:
            if len(rest) == 1:
                return self.list_in_rg(req, rg_name, ns, rest[0])
            parent_types, parent_names, last = types[:-1], names, rest[-1]
            key = ns.lower() + "/" + "/".join(parent_types)
            h = self.handlers.get(key)
            child = self.handlers.get(key + "/" + last.lower())
            if h is None:
                raise self._no_type(ns, rest)
            self.arm.check_version(req, (child or h).key, (child or h).version_type())
            rg = self.arm.require_group(rg_name)
            res = self.arm.get(h.build_id(rg["name"], parent_names))
            if res is None:
                raise self.arm.not_found(h.type_path(parent_names), rg_name)
            if child is not None and req.method == "GET":
                if child.key == "microsoft.network/virtualnetworks/subnets":
                    return Response(200, {"value": res["properties"].get("subnets", [])})
            if req.method == "GET":
                out = h.sub_get(req, res, last)
                if out is not None:
                    return Response(200, out)
            if req.method == "POST":
                self.arm.validate_body(req, req.json())
                out = h.action(req, res, last, fault)
                if out is not None:
                    return out
            raise ApiError(404, "NotFound", "The requested resource does not support http method '%s'." % req.method)
        key = ns.lower() + "/" + "/".join(types)
        h = self.handlers.get(key)
        if h is None:
            raise self._no_type(ns, rest)
        if isinstance(h, VaultAccessPolicy):
            return self.vault_access_policy(req, rg_name, names, fault)
        if isinstance(h, Subnets):
            return self.subnet(req, rg_name, h, names, fault)
        return self.crud(req, rg_name, h, names, fault)

    def _no_type(self, ns, rest):
        return ApiError(400, "InvalidResourceType", "The resource type '%s' could not be found in the namespace "
                        "'%s' for api version." % ("/".join(rest[0::2]), ns))

    def list_in_rg(self, req, rg_name, ns, type_name):
        key = ns.lower() + "/" + type_name.lower()
        h = self.handlers.get(key)
        if h is None:
            raise self._no_type(ns, [type_name])
        self.arm.check_version(req, h.key, h.version_type())
        if req.method != "GET":
            raise ApiError(405, "MethodNotAllowed", "The requested resource does not support http method '%s'."
                           % req.method)
        self.arm.require_group(rg_name)
        return Response(200, {"value": [h.get_view(req, r) for r in self.arm.of_type(h.display_type, rg_name)]})

    def crud(self, req, rg_name, h: TypeHandler, names, fault):
        body_loc = None
        if req.method in ("PUT", "PATCH"):
            body = req.json()
            if not isinstance(body, dict):
                raise bad_request("InvalidRequestContent", "The request content was invalid and could not be "
                                  "deserialized.")
            body_loc = body.get("location")
        self.arm.check_version(req, h.key, h.version_type(), body_loc)
        rg = self.arm.require_group(rg_name)
        rid = h.build_id(rg["name"], names)
        if len(names) > 1:
            parent = self.arm.get(rid.rsplit("/", 2)[0])
            if parent is None:
                raise self.arm.not_found(h.type_path(names)[: -len("/%s/%s" % (h.types[-1], names[-1]))], rg_name)
        existing = self.arm.get(rid)
        m = req.method
        if m == "GET":
            if existing is None:
                raise self.arm.not_found(h.type_path(names), rg_name)
            return Response(200, h.get_view(req, existing))
        if m == "HEAD":
            return Response(204 if existing else 404)
        if m == "PUT":
            body = req.json()
            self.arm.validate_body(req, body)
            res = h.build(req, rg, names, body, existing)
            return self._respond_put(req, h, res, existing, fault)
        if m == "PATCH":
            if existing is None:
                raise self.arm.not_found(h.type_path(names), rg_name)
            body = req.json()
            self.arm.validate_body(req, body)
            res = h.patch(req, existing, body)
            if h.put_style != "sync":
                res["properties"]["provisioningState"] = "Updating"
            return self._respond_put(req, h, res, existing, fault, patch=True)
        if m == "DELETE":
            if existing is None:
                return Response(204)
            h.before_delete(existing)
            if h.delete_style == "sync":
                self.arm.delete_resource(rid)
                h.on_delete(existing)
                return Response(200)

            def finalize():
                if self.arm.get(rid) is existing:
                    self.arm.delete_resource(rid)
                    h.on_delete(existing)
            op = self.arm.new_op(h.namespace, existing.get("location") or self.sim.location, "delete", rid, finalize,
                                 req.api_version, fault)
            return Response(202, None, self.arm.lro_headers(op))
        raise ApiError(405, "MethodNotAllowed", "The requested resource does not support http method '%s'." % m)

    def _respond_put(self, req, h, res, existing, fault, patch=False):
        self.arm.put_resource(res)
        status = 200 if existing else 201
        if h.put_style == "sync":
            h.provisioned(res)
            return Response(status, h.get_view(req, res))

        def finalize():
            h.provisioned(res)
        op = self.arm.new_op(h.namespace, res.get("location") or self.sim.location, "patch" if patch else "put",
                             res["id"], finalize, req.api_version, fault)
        if h.put_style == "disk":
            return Response(202, h.get_view(req, res), self.arm.lro_headers(op))
        headers = self.arm.lro_headers(op, location=False)
        return Response(status, h.get_view(req, res), headers)

    def subnet(self, req, rg_name, h, names, fault):
        self.arm.check_version(req, h.key, "virtualNetworks/subnets")
        rg = self.arm.require_group(rg_name)
        vnet_id = self.handlers["microsoft.network/virtualnetworks"].build_id(rg["name"], names[:1])
        vnet = self.arm.get(vnet_id)
        if vnet is None:
            raise self.arm.not_found("Microsoft.Network/virtualNetworks/%s" % names[0], rg_name)
        subnets = vnet["properties"].setdefault("subnets", [])
        idx = next((i for i, s in enumerate(subnets) if s["name"].lower() == names[1].lower()), None)
        if req.method == "GET":
            if idx is None:
                raise self.arm.not_found(h.type_path(names), rg_name)
            return Response(200, subnets[idx])
        if req.method == "PUT":
            body = req.json()
            self.arm.validate_body(req, body)
            s = _subnet(vnet_id, names[1], body.get("properties") or {})
            if idx is None:
                subnets.append(s)
            else:
                subnets[idx] = s
            self.sim.mark_dirty()
            op = self.arm.new_op(h.namespace, vnet["location"], "put", s["id"], None, req.api_version, fault)
            return Response(201 if idx is None else 200, s, self.arm.lro_headers(op, location=False))
        if req.method == "DELETE":
            if idx is None:
                return Response(204)
            subnets.pop(idx)
            op = self.arm.new_op(h.namespace, vnet["location"], "delete", vnet_id + "/subnets/" + names[1], None,
                                 req.api_version, fault)
            return Response(202, None, self.arm.lro_headers(op))
        raise ApiError(405, "MethodNotAllowed", "The requested resource does not support http method '%s'."
                       % req.method)

    def vault_access_policy(self, req, rg_name, names, fault):
        self.arm.check_version(req, "microsoft.keyvault/vaults/accesspolicies", "vaults/accessPolicies")
        rg = self.arm.require_group(rg_name)
        vh = self.handlers["microsoft.keyvault/vaults"]
        vault = self.arm.get(vh.build_id(rg["name"], names[:1]))
        if vault is None:
            raise self.arm.not_found("Microsoft.KeyVault/vaults/%s" % names[0], rg_name)
        op = names[1].lower()
        if op not in ("add", "replace", "remove") or req.method != "PUT":
            raise bad_request("BadRequest", "The operation kind '%s' is not valid; use add, replace or remove."
                              % names[1])
        body = req.json()
        self.arm.validate_body(req, body)
        new = ((body.get("properties") or {}).get("accessPolicies")) or []
        current = vault["properties"].setdefault("accessPolicies", [])
        for ap in new:
            match = next((c for c in current if c.get("objectId") == ap.get("objectId")
                          and c.get("tenantId") == ap.get("tenantId")
                          and c.get("applicationId") == ap.get("applicationId")), None)
            perms_new = ap.get("permissions") or {}
            if op == "replace" or match is None:
                if match is not None:
                    current.remove(match)
                if op != "remove":
                    current.append(copy.deepcopy(ap))
                continue
            for kind, values in perms_new.items():
                cur = match.setdefault("permissions", {}).setdefault(kind, [])
                if op == "add":
                    for v in values:
                        if v.lower() not in [c.lower() for c in cur]:
                            cur.append(v)
                else:
                    match["permissions"][kind] = [c for c in cur if c.lower() not in [v.lower() for v in values]]
            if op == "remove" and not any(match.get("permissions", {}).values()):
                current.remove(match)
        self.sim.mark_dirty()
        return Response(200, {"id": vault["id"] + "/accessPolicies/" + names[1], "name": names[1],
                              "type": "Microsoft.KeyVault/vaults/accessPolicies", "location": vault["location"],
                              "properties": {"accessPolicies": current}})

    # ------------------------------------------------------- subscription level
    def subscription_level(self, req, ns_low, ns, rest, fault):
        low = [s.lower() for s in rest]
        if ns_low == "microsoft.compute" and low == ["skus"]:
            self.arm.check_version(req, "microsoft.compute/skus", "skus")
            loc = None
            flt = req.query.get("$filter") or ""
            m = re.search(r"location\s+eq\s+'([^']+)'", flt, re.I)
            if m:
                loc = m.group(1)
            return Response(200, {"value": catalog.sku_entries(loc)})
        if ns_low == "microsoft.attestation" and len(low) == 3 and low[0] == "locations" and \
                low[2] == "defaultprovider":
            self.arm.check_version(req, "microsoft.attestation/locations/defaultprovider", "locations/defaultProvider")
            loc = low[1].replace(" ", "")
            if loc not in catalog.LOCATIONS:
                raise bad_request("InvalidLocation", "The location '%s' is not a valid location." % rest[1])
            short = "shared" + loc
            return Response(200, {"id": "/providers/Microsoft.Attestation/attestationProviders/" + short,
                                  "name": short, "type": "Microsoft.Attestation/attestationProviders",
                                  "location": loc, "properties": {"trustModel": "AAD", "status": "Ready",
                                                                  "attestUri": self.sim.attestation_endpoint(loc)}})
        if len(low) == 1:
            h = self.handlers.get(ns_low + "/" + low[0])
            if h is not None and req.method == "GET":
                self.arm.check_version(req, h.key, h.version_type())
                return Response(200, {"value": [h.get_view(req, r) for r in self.arm.of_type(h.display_type)]})
        raise ApiError(400, "InvalidResourceType", "The resource type '%s' could not be found in the namespace '%s' "
                       "for api version '%s'." % ("/".join(rest), ns, req.api_version))


def build_types(arm):
    from .rbac import Authorization
    handlers = [cls(arm) for cls in (VirtualMachines, Disks, DiskEncryptionSets, VirtualNetworks, Subnets,
                                     NetworkInterfaces, PublicIPAddresses, NetworkSecurityGroups, Vaults,
                                     VaultAccessPolicy, VaultAccessPolicyAlias)]
    return {"__resource__": ResourceRouter(arm, handlers), "authorization": Authorization(arm)}
