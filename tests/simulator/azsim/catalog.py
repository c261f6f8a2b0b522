"""Static catalogues: locations, VM sizes (resource SKUs), marketplace images, built-in roles."""
from __future__ import annotations

LOCATIONS = {
    "eastus": "East US", "eastus2": "East US 2", "westus": "West US", "westus3": "West US 3",
    "centralus": "Central US", "northeurope": "North Europe", "westeurope": "West Europe",
    "southeastasia": "Southeast Asia", "uksouth": "UK South",
}

# family name, size pattern, vCPU list, GiB per vCPU, temp disk GiB per vCPU (0 = none), TEE, locations
_CONFIDENTIAL = [
    ("standardDCASv5Family", "Standard_DC{n}as_v5", [2, 4, 8, 16, 32, 48, 64, 96], 4, 0, "SNP",
     ["eastus", "westus", "northeurope", "westeurope", "southeastasia", "uksouth"]),
    ("standardECASv5Family", "Standard_EC{n}as_v5", [2, 4, 8, 16, 20, 32, 48, 64, 96], 8, 0, "SNP",
     ["eastus", "westus", "northeurope", "westeurope", "southeastasia", "uksouth"]),
    ("standardDCADSv5Family", "Standard_DC{n}ads_v5", [2, 4, 8, 16, 32, 48, 64, 96], 4, 37.5, "SNP",
     ["eastus", "westus", "northeurope", "westeurope", "southeastasia", "uksouth"]),
    ("standardECADSv5Family", "Standard_EC{n}ads_v5", [2, 4, 8, 16, 20, 32, 48, 64, 96], 8, 37.5, "SNP",
     ["eastus", "westus", "northeurope", "westeurope", "southeastasia", "uksouth"]),
    ("standardDCESv5Family", "Standard_DC{n}es_v5", [2, 4, 8, 16, 32, 48, 64, 96], 4, 0, "TDX",
     ["eastus", "eastus2", "centralus", "westeurope", "northeurope"]),
    ("standardECESv5Family", "Standard_EC{n}es_v5", [2, 4, 8, 16, 32, 48, 64, 128], 8, 0, "TDX",
     ["eastus", "eastus2", "centralus", "westeurope", "northeurope"]),
    ("standardDCEDSv5Family", "Standard_DC{n}eds_v5", [2, 4, 8, 16, 32, 48, 64, 96], 4, 37.5, "TDX",
     ["eastus", "eastus2", "centralus", "westeurope", "northeurope"]),
    ("standardECEDSv5Family", "Standard_EC{n}eds_v5", [2, 4, 8, 16, 32, 48, 64, 128], 8, 37.5, "TDX",
     ["eastus", "eastus2", "centralus", "westeurope", "northeurope"]),
    ("standardDCASv6Family", "Standard_DC{n}as_v6", [2, 4, 8, 16, 32, 48, 64, 96], 4, 0, "SNP",
     ["eastus", "westeurope", "northeurope"]),
    ("standardECASv6Family", "Standard_EC{n}as_v6", [2, 4, 8, 16, 32, 48, 64, 96], 8, 0, "SNP",
     ["eastus", "westeurope", "northeurope"]),
    ("standardDCESv6Family", "Standard_DC{n}es_v6", [2, 4, 8, 16, 32, 48, 64, 96, 128], 4, 0, "TDX",
     ["eastus2", "westeurope", "centralus"]),
]
_GENERAL = [
    ("standardDSv5Family", "Standard_D{n}s_v5", [2, 4, 8, 16, 32, 48, 64, 96], 4, 0, None, list(LOCATIONS)),
    ("standardDASv5Family", "Standard_D{n}as_v5", [2, 4, 8, 16, 32, 48, 64, 96], 4, 0, None, list(LOCATIONS)),
    ("standardDADSv5Family", "Standard_D{n}ads_v5", [2, 4, 8, 16, 32, 48, 64, 96], 4, 37.5, None, list(LOCATIONS)),
    ("standardESv5Family", "Standard_E{n}s_v5", [2, 4, 8, 16, 32, 48, 64, 96], 8, 0, None, list(LOCATIONS)),
    ("standardBSFamily", "Standard_B{n}s", [1, 2], 2, 4, None, list(LOCATIONS)),
]
# (size, location) -> reason; and (size, location) -> restricted zones
RESTRICTED = {("Standard_DC96as_v5", "westeurope"): "NotAvailableForSubscription",
              ("Standard_EC128es_v5", "eastus"): "NotAvailableForSubscription"}
ZONE_RESTRICTED = {("Standard_DC64es_v5", "eastus"): ["3"]}
NO_ZONES = {"westus", "southeastasia"}


def _sizes():
    out = {}
    for family, pattern, vcpus, gib, temp, tee, locs in _CONFIDENTIAL + _GENERAL:
        for n in vcpus:
            name = pattern.format(n=n)
            out[name] = {"name": name, "family": family, "vcpus": n, "memory": n * gib,
                         "temp_mb": int(n * temp * 1024) if temp else 0, "tee": tee, "locations": locs}
    return out


SIZES = _sizes()


def size_info(name: str):
    for k, v in SIZES.items():
        if k.lower() == (name or "").lower():
            return v
    return None


def zones_for(location: str) -> list[str]:
    return [] if location in NO_ZONES else ["1", "2", "3"]


def size_offered(name: str, location: str) -> tuple[bool, str | None]:
    """(available, restriction reason)."""
    info = size_info(name)
    if info is None or location not in info["locations"]:
        return False, None
    reason = RESTRICTED.get((info["name"], location))
    return reason is None, reason


def sku_entries(location_filter: str | None = None) -> list[dict]:
    entries = []
    for info in SIZES.values():
        for loc in info["locations"]:
            if location_filter and loc != location_filter.lower():
                continue
            caps = [("MaxResourceVolumeMB", str(info["temp_mb"])), ("OSVhdSizeMB", "1047552"),
                    ("vCPUs", str(info["vcpus"])), ("MemoryPreservingMaintenanceSupported", "True"),
                    ("HyperVGenerations", "V2" if info["tee"] else "V1,V2"),
                    ("MemoryGB", ("%g" % info["memory"])), ("MaxDataDiskCount", str(min(32, info["vcpus"] * 4))),
                    ("CpuArchitectureType", "x64"), ("LowPriorityCapable", "False" if info["tee"] else "True"),
                    ("PremiumIO", "True"), ("VMDeploymentTypes", "IaaS"), ("vCPUsAvailable", str(info["vcpus"])),
                    ("ACUs", "230"), ("vCPUsPerCore", "2"), ("EphemeralOSDiskSupported", "False"),
                    ("EncryptionAtHostSupported", "True"),
                    ("AcceleratedNetworkingEnabled", "False" if info["tee"] else "True"),
                    ("RdmaEnabled", "False"), ("MaxNetworkInterfaces", str(min(8, max(2, info["vcpus"] // 2))))]
            if info["tee"]:
                caps.append(("ConfidentialComputingType", info["tee"]))
                caps.append(("TrustedLaunchDisabled", "True"))
            zones = zones_for(loc)
            restrictions = []
            reason = RESTRICTED.get((info["name"], loc))
            if reason:
                restrictions.append({"type": "Location", "values": [loc],
                                     "restrictionInfo": {"locations": [loc]}, "reasonCode": reason})
            zr = ZONE_RESTRICTED.get((info["name"], loc))
            if zr:
                restrictions.append({"type": "Zone", "values": [loc],
                                     "restrictionInfo": {"locations": [loc], "zones": zr},
                                     "reasonCode": "NotAvailableForSubscription"})
            entries.append({
                "resourceType": "virtualMachines", "name": info["name"], "tier": "Standard",
                "size": info["name"][len("Standard_"):], "family": info["family"], "locations": [loc],
                "locationInfo": [{"location": loc, "zones": zones, "zoneDetails": []}],
                "capabilities": [{"name": k, "value": v} for k, v in caps],
                "restrictions": restrictions})
    for disk_sku, tier in (("Premium_LRS", "Premium"), ("StandardSSD_LRS", "Standard"), ("Standard_LRS", "Standard"),
                           ("UltraSSD_LRS", "Ultra"), ("PremiumV2_LRS", "Premium")):
        for loc in LOCATIONS:
            if location_filter and loc != location_filter.lower():
                continue
            entries.append({"resourceType": "disks", "name": disk_sku, "tier": tier, "size": "P1",
                            "family": "PremiumV2" if disk_sku.startswith("PremiumV2") else tier,
                            "locations": [loc], "locationInfo": [{"location": loc, "zones": zones_for(loc)}],
                            "capabilities": [{"name": "MaxSizeGiB", "value": "32767"}], "restrictions": []})
    return entries


# (publisher, offer, sku) -> image facts.  cvm: which TEEs the image supports for ConfidentialVM.
IMAGES = {
    ("canonical", "0001-com-ubuntu-confidential-vm-jammy", "22_04-lts-cvm"):
        {"os": "Linux", "cvm": {"SNP", "TDX"}, "version": "22.04.202411010", "size": 30},
    ("canonical", "0001-com-ubuntu-confidential-vm-focal", "20_04-lts-cvm"):
        {"os": "Linux", "cvm": {"SNP"}, "version": "20.04.202410020", "size": 30},
    ("canonical", "ubuntu-24_04-lts", "cvm"):
        {"os": "Linux", "cvm": {"SNP", "TDX"}, "version": "24.04.202411030", "size": 30},
    ("microsoftwindowsserver", "windowsserver", "2022-datacenter-smalldisk-g2"):
        {"os": "Windows", "cvm": {"SNP", "TDX"}, "version": "20348.2849.241106", "size": 30},
    ("microsoftwindowsserver", "windowsserver", "2019-datacenter-smalldisk-g2"):
        {"os": "Windows", "cvm": {"SNP"}, "version": "17763.6532.241106", "size": 30},
    # Windows Server CVM images (Microsoft's public CVM quickstart templates, Azure/azure-quickstart-templates
    # quickstarts/microsoft.compute/vm-cvm: offer windows-cvm, SKUs 2019-datacenter-cvm / 2022-datacenter-cvm), Azure
    # Edition and Windows 11 (the seed's OS table, "About Azure confidential VMs").
    ("microsoftwindowsserver", "windows-cvm", "2019-datacenter-cvm"):
        {"os": "Windows", "cvm": {"SNP"}, "version": "17763.6532.241106", "size": 127},
    ("microsoftwindowsserver", "windows-cvm", "2022-datacenter-cvm"):
        {"os": "Windows", "cvm": {"SNP", "TDX"}, "version": "20348.2849.241106", "size": 127},
    ("microsoftwindowsserver", "windowsserver", "2022-datacenter-azure-edition"):
        {"os": "Windows", "cvm": {"SNP", "TDX"}, "version": "20348.2849.241106", "size": 127},
    ("microsoftwindowsdesktop", "windows-11", "win11-22h2-pro"):
        {"os": "Windows", "cvm": {"SNP", "TDX"}, "version": "22621.4460.241106", "size": 127},
    ("microsoftwindowsdesktop", "windows-11", "win11-22h2-ent"):
        {"os": "Windows", "cvm": {"SNP", "TDX"}, "version": "22621.4460.241106", "size": 127},
    ("canonical", "0001-com-ubuntu-server-jammy", "22_04-lts-gen2"):
        {"os": "Linux", "cvm": set(), "version": "22.04.202411010", "size": 30},
    ("canonical", "ubuntu-24_04-lts", "server"):
        {"os": "Linux", "cvm": set(), "version": "24.04.202411030", "size": 30},
}


def image_info(ref: dict):
    key = (str(ref.get("publisher", "")).lower(), str(ref.get("offer", "")).lower(), str(ref.get("sku", "")).lower())
    return IMAGES.get(key)


BUILTIN_ROLES = {
    "Owner": ("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", ["*"], []),
    "Contributor": ("b24988ac-6180-42a0-ab88-20f7382dd24c", ["*"], []),
    "Reader": ("acdd72a7-3385-48ef-bd42-f606fba81ae7", ["*/read"], []),
    "Key Vault Administrator": ("00482a5a-887f-4fb3-b363-3b7fe8e74483", [], ["Microsoft.KeyVault/vaults/*"]),
    "Key Vault Crypto Officer": ("14b46e9e-c2b7-41b4-b07b-48a6ebf60603", [], ["Microsoft.KeyVault/vaults/keys/*"]),
    "Key Vault Crypto User": ("12338af0-0e69-4776-bea7-57ae8d297424", [], [
        "Microsoft.KeyVault/vaults/keys/read", "Microsoft.KeyVault/vaults/keys/update/action",
        "Microsoft.KeyVault/vaults/keys/backup/action", "Microsoft.KeyVault/vaults/keys/encrypt/action",
        "Microsoft.KeyVault/vaults/keys/decrypt/action", "Microsoft.KeyVault/vaults/keys/wrap/action",
        "Microsoft.KeyVault/vaults/keys/unwrap/action", "Microsoft.KeyVault/vaults/keys/sign/action",
        "Microsoft.KeyVault/vaults/keys/verify/action"]),
    "Key Vault Crypto Service Encryption User": ("e147488a-f6f5-4113-8e2d-b22465e65bf6", [], [
        "Microsoft.KeyVault/vaults/keys/read", "Microsoft.KeyVault/vaults/keys/wrap/action",
        "Microsoft.KeyVault/vaults/keys/unwrap/action"]),
    "Key Vault Crypto Service Release User": ("08bbd89e-9f13-488c-ac41-acfcb10c90ab", [], [
        "Microsoft.KeyVault/vaults/keys/release/action"]),
}

# data action -> access-policy key permission
DATA_ACTION_PERMS = {
    "read": {"get", "list"}, "update/action": {"update"}, "backup/action": {"backup"},
    "encrypt/action": {"encrypt"}, "decrypt/action": {"decrypt"}, "wrap/action": {"wrapkey"},
    "unwrap/action": {"unwrapkey"}, "sign/action": {"sign"}, "verify/action": {"verify"},
    "release/action": {"release"}, "create/action": {"create"}, "delete": {"delete"},
}
ALL_KEY_PERMS = {"get", "list", "update", "create", "import", "delete", "recover", "backup", "restore", "decrypt",
                 "encrypt", "unwrapkey", "wrapkey", "verify", "sign", "purge", "release", "rotate",
                 "getrotationpolicy", "setrotationpolicy"}


def role_key_permissions(role_name: str) -> set[str]:
    role = BUILTIN_ROLES.get(role_name)
    if role is None:
        return set()
    _id, actions, data_actions = role
    perms: set[str] = set()
    for da in data_actions:
        if da in ("Microsoft.KeyVault/vaults/*", "Microsoft.KeyVault/vaults/keys/*"):
            return set(ALL_KEY_PERMS)
        suffix = da[len("Microsoft.KeyVault/vaults/keys/"):]
        perms |= DATA_ACTION_PERMS.get(suffix, set())
    return perms


def role_by_guid(guid: str):
    for name, (rid, _a, _d) in BUILTIN_ROLES.items():
        if rid == guid.lower():
            return name
    return None
