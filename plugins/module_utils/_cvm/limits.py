# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation of every documented confidential VM limitation, run before any API call.

Pure: no Ansible, no Azure SDK.  Each ``validate_*`` function takes the module parameters (after argument spec
processing) and returns a list of messages; every message names the parameter and says how to fix it.
Sources: seeds ("About Azure confidential VMs" 2021 preview and 2023) and control-plane.md.
"""

from __future__ import (absolute_import, division, print_function)

__metaclass__ = type

import base64
import ipaddress
import re

from . import images, sizes

SECURITY_ENCRYPTION_TYPES = ("VMGuestStateOnly", "DiskWithVMGuestState", "NonPersistedTPM")
CONFIDENTIAL_DES_TYPE = "ConfidentialVmEncryptedWithCustomerKey"
DES_ENCRYPTION_TYPES = (CONFIDENTIAL_DES_TYPE, "EncryptionAtRestWithCustomerKey",
                        "EncryptionAtRestWithPlatformAndCustomerKeys")

# Azure rejects these admin user names (documented list of reserved names for VM admin accounts).
RESERVED_ADMIN_NAMES = frozenset("""administrator admin user user1 test user2 test1 user3 admin1 1 123 a actuser adm
admin2 aspnet backup console david guest john owner root server sql support support_388945a0 sys test2 test3 user4
user5""".split())

CUSTOM_DATA_MAX_BYTES = 65535  # osProfile.customData: "The maximum length of the binary array is 65535 bytes"
MAX_OS_DISK_GB = 4095
MAX_DATA_DISK_GB = 32767
_VM_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}[A-Za-z0-9_]$|^[A-Za-z0-9]$")
_SSH_KEY_RE = re.compile(r"^(?P<type>[a-z0-9@.-]+) (?P<blob>[A-Za-z0-9+/]+={0,3})( .*)?$")
MIN_RSA_BITS = 2048  # SshEncryptionTypes: RSA (>= 2048 bits) and Ed25519; Azure refuses ECDSA and DSA
_KEY_URL_RE = re.compile(r"^https://(?P<host>[^/]+)/keys/(?P<name>[A-Za-z0-9-]{1,127})(?:/(?P<version>[^/?]*))?/?$")
_KEY_VERSION_RE = re.compile(r"^[0-9a-fA-F]{32}$")
_UAI_ID_RE = re.compile(r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft.ManagedIdentity/"
                        r"userAssignedIdentities/[^/]+$", re.IGNORECASE)
_ARM_ID_RE = re.compile(r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/[^/]+/[^/]+/[^/]+", re.IGNORECASE)


def _present(params):
    return params.get("state", "present") == "present"


def image_info(image):
    """Classify the ``image`` option: returns dict(kind, os_type, tees, cvm, known, urn) or None."""
    if not image:
        return None
    if image.get("id"):
        os_type = image.get("os_type") or "Linux"
        return {"kind": "id", "os_type": os_type, "tees": [sizes.SNP, sizes.TDX], "cvm": True, "known": False,
                "urn": image["id"], "os": None}
    info = images.lookup(image.get("publisher"), image.get("offer"), image.get("sku"))
    info = dict(info)
    info["kind"] = "marketplace"
    if image.get("os_type"):
        info["os_type"] = image["os_type"]
    if not info.get("os_type"):
        info["os_type"] = "Linux"
    return info


def validate_key_url(key_url, param="key_url"):
    """A versioned Key Vault / Managed HSM key URL; returns (errors, parts)."""
    if not key_url:
        return ["%s: is required; give the versioned key URL, e.g. https://myvault.vault.azure.net/keys/cvm-key/"
                "<32-hex version> (keyvault_key returns it as key.kid)" % param], None
    match = _KEY_URL_RE.match(key_url)
    if not match:
        return ["%s: %r is not a Key Vault key URL; expected https://<vault host>/keys/<name>/<version>"
                % (param, key_url)], None
    version = match.group("version")
    if not version:
        return ["%s: %r has no key version; a disk encryption set needs a versioned key URL "
                "(https://<vault host>/keys/%s/<32-hex version>, returned by keyvault_key as key.kid); "
                "use rotation_to_latest_key_version: true to follow new versions automatically"
                % (param, key_url, match.group("name"))], None
    if not _KEY_VERSION_RE.match(version):
        return ["%s: key version %r is not a 32-character hex key version" % (param, version)], None
    return [], {"host": match.group("host"), "name": match.group("name"), "version": version,
                "vault_url": "https://%s/" % match.group("host")}


def is_partial(params):
    """present without size and image: only power_state and tags of an existing VM are managed."""
    return _present(params) and not params.get("size") and not params.get("image")


def validate_vm(params):
    """Validate confidential VM parameters.  Returns a list of error messages (empty when valid).

    With size and image (the full definition) everything a new VM needs is required; without them (an existing VM)
    every value given is still checked.
    """
    errors = []
    if not _present(params):
        return errors
    if is_partial(params):
        # an existing VM: every option given is compared with it (vm_properties); only the network and the
        # creation-only secrets need the full definition
        for key in ("subnet_id", "network_interfaces", "admin_password", "custom_data"):
            if params.get(key):
                errors.append("%s: needs the full VM definition (size and image too); give size and image, or leave "
                              "%s out to manage only the other properties of an existing VM" % (key, key))
        return errors + _validate_values(params, None, None, params.get("security_encryption_type"))
    size = params.get("size")
    size_info = None
    if not size:
        errors.append("size: is required to create a confidential VM; use a confidential size such as "
                      "Standard_DC2as_v5 (AMD SEV-SNP) or Standard_DC2es_v5 (Intel TDX)")
    else:
        size_info = sizes.parse_size(size)
        if size_info is None:
            errors.append("size: %r is not an Azure VM size name (expected e.g. Standard_DC4as_v5)" % size)
        elif not size_info.known:
            errors.append("size: %s (family %s) is not a confidential VM size; use a size from %s"
                          % (size, size_info.family, sizes.family_hint()))
    tee = size_info.tee if size_info is not None else None
    wanted_tee = params.get("tee")
    if wanted_tee and tee and wanted_tee != tee:
        errors.append("tee: %s was requested but size %s is in family %s (%s); choose a size from %s"
                      % (wanted_tee, size, size_info.family, sizes.TEE_LABELS[tee], sizes.family_hint(wanted_tee)))
    image = params.get("image")
    info = image_info(image)
    if not image:
        errors.append("image: is required to create a confidential VM; give a CVM image, e.g. "
                      "{publisher: Canonical, offer: 0001-com-ubuntu-confidential-vm-jammy, sku: 22_04-lts-cvm}")
    else:
        errors.extend(_validate_image(image, info, tee, size))
    os_type = info["os_type"] if info else "Linux"

    nics = params.get("network_interfaces") or []
    subnet = params.get("subnet_id")
    if not nics and not subnet:
        errors.append("network_interfaces / subnet_id: a VM needs a network; give existing network_interfaces or a "
                      "subnet_id to create a NIC in")
    if nics and subnet:
        errors.append("network_interfaces / subnet_id: give one, not both (subnet_id creates a NIC)")
    if subnet and not _ARM_ID_RE.match(subnet):
        errors.append("subnet_id: %r is not a subnet resource id (/subscriptions/.../virtualNetworks/<vnet>/"
                      "subnets/<subnet>)" % subnet)
    if params.get("public_ip") and not subnet:
        errors.append("public_ip: only applies to a NIC this module creates; give subnet_id or attach the public IP "
                      "to your own NIC")
    admin = params.get("admin_username")
    if not admin and not (info and info["kind"] == "id" and image.get("specialized")):
        errors.append("admin_username: is required to create a VM")
    keys = params.get("ssh_public_keys") or []
    password = params.get("admin_password")
    if os_type == "Windows":
        if keys:
            errors.append("ssh_public_keys: Windows images use admin_password, not SSH keys; remove ssh_public_keys")
        if not password:
            errors.append("admin_password: is required for a Windows image")
    elif not keys and not password:
        errors.append("ssh_public_keys / admin_password: a Linux VM needs SSH public keys (recommended) or a password")
    return errors + _validate_values(params, os_type, tee,
                                     params.get("security_encryption_type") or "DiskWithVMGuestState")


def _validate_image(image, info, tee, size):
    has_ref = any(image.get(k) for k in ("publisher", "offer", "sku"))
    if image.get("id") and has_ref:
        return ["image: give either id (gallery image / image id) or publisher/offer/sku, not both"]
    if not image.get("id") and not all(image.get(k) for k in ("publisher", "offer", "sku")):
        return ["image: a marketplace reference needs publisher, offer and sku (or give image.id)"]
    if image.get("id") and not _ARM_ID_RE.match(image["id"]):
        return ["image.id: %r is not an Azure resource id of an image or gallery image version" % image["id"]]
    swapped = images.swapped_windows_reference(image.get("publisher"), image.get("offer"), image.get("sku"))
    if swapped:
        return ["image: offer and sku are swapped; Windows Server CVM images are offer: %s, sku: %s" % swapped]
    if info and info["kind"] == "marketplace" and not info["cvm"]:
        return ["image: %s is not a confidential VM image; confidential VMs need a CVM image such as %s"
                % (info["urn"], images.known_images_hint())]
    if info and tee and tee not in info["tees"]:
        return ["image: %s (%s) supports %s only, but size %s is %s; use an %s size (%s) or an image that supports %s "
                "(e.g. Ubuntu 22.04/24.04 CVM images)"
                % (info["urn"], info.get("os") or "this OS", " / ".join(sizes.TEE_LABELS[t] for t in info["tees"]),
                   size, sizes.TEE_LABELS[tee], sizes.TEE_LABELS[info["tees"][0]],
                   ", ".join(sizes.families_for(info["tees"][0])), sizes.TEE_LABELS[tee])]
    return []


def validate_identity(identity):
    """The ``identity`` option (azure_rm_virtualmachine's shape): type and user-assigned identity ids."""
    if not identity:
        return []
    errors = []
    wanted = identity.get("type") or ""
    ids = ((identity.get("user_assigned_identities") or {}).get("id")) or []
    if "UserAssigned" in wanted and not ids and not (identity.get("user_assigned_identities") or {}).get(
            "append", True):
        errors.append("identity.user_assigned_identities.id: type %s needs at least one user-assigned identity id"
                      % wanted)
    if ids and "UserAssigned" not in wanted:
        errors.append("identity.user_assigned_identities: only used with type UserAssigned or "
                      "'SystemAssigned, UserAssigned' (type is %s)" % (wanted or "None"))
    for idx, rid in enumerate(ids):
        if not _UAI_ID_RE.match(rid or ""):
            errors.append("identity.user_assigned_identities.id[%d]: %r is not a user-assigned identity id "
                          "(/subscriptions/.../providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>)"
                          % (idx, rid))
    return errors


def _validate_values(params, os_type, tee, sec_type):
    """Checks of every value given, for a new VM and for an existing one alike (sec_type None: not known yet)."""
    errors = []
    if params.get("vtpm") is False:
        errors.append("vtpm: confidential VMs require a vTPM; remove vtpm or set vtpm: true")
    if params.get("secure_boot") is False and sec_type == "DiskWithVMGuestState":
        errors.append("secure_boot: DiskWithVMGuestState (confidential OS disk encryption) requires secure boot; "
                      "set secure_boot: true or use security_encryption_type: VMGuestStateOnly")
    des = params.get("disk_encryption_set")
    if des and sec_type not in (None, "DiskWithVMGuestState"):
        errors.append("disk_encryption_set: a customer-managed key is only used with confidential OS disk encryption; "
                      "set security_encryption_type: DiskWithVMGuestState or remove disk_encryption_set "
                      "(security_encryption_type is %s)" % sec_type)
    if des and not _ARM_ID_RE.match(des) and "/" in des:
        errors.append("disk_encryption_set: %r is neither a disk encryption set name nor its resource id" % des)
    priority = params.get("priority") or "Regular"
    if priority != "Regular":
        errors.append("priority: %s is not supported for confidential VMs (no Spot / low priority); "
                      "remove priority or set priority: Regular" % priority)
    if params.get("accelerated_networking"):
        errors.append("accelerated_networking: confidential VMs do not support accelerated networking; "
                      "set accelerated_networking: false")
    if params.get("os_disk_ephemeral"):
        errors.append("os_disk_ephemeral: confidential VMs do not support ephemeral OS disks; "
                      "set os_disk_ephemeral: false")
    if params.get("os_disk_type") in ("UltraSSD_LRS", "PremiumV2_LRS"):
        errors.append("os_disk_type: %s cannot be an OS disk (and ultra disks are not supported with confidential "
                      "VMs); use Premium_LRS, StandardSSD_LRS or Standard_LRS" % params["os_disk_type"])
    osds = params.get("os_disk_size_gb")
    if osds is not None and not (1 <= osds <= MAX_OS_DISK_GB):
        errors.append("os_disk_size_gb: %s is out of range; an OS disk is 1 to %d GB" % (osds, MAX_OS_DISK_GB))
    errors.extend(_validate_data_disks(params.get("data_disks") or []))
    name = params.get("name") or ""
    if name and not _VM_NAME_RE.match(name):
        errors.append("name: %r is not a valid VM name (1-64 letters, digits, '-', '_', '.'; must not end with "
                      "'.' or '-')" % name)
    computer_name = params.get("computer_name") or name
    if os_type == "Windows" and len(computer_name) > 15:
        errors.append("computer_name: Windows computer names are at most 15 characters (%r has %d); set computer_name"
                      % (computer_name, len(computer_name)))
    admin = params.get("admin_username")
    if admin and admin.lower() in RESERVED_ADMIN_NAMES:
        errors.append("admin_username: %r is a name Azure reserves; choose another admin user name" % admin)
    elif admin and (len(admin) > (20 if os_type == "Windows" else 64) or admin.endswith(".")):
        errors.append("admin_username: %r is too long or ends with '.'" % admin)
    for idx, key in enumerate(params.get("ssh_public_keys") or []):
        problem = ssh_key_problem(key)
        if problem:
            errors.append("ssh_public_keys[%d]: %s" % (idx, problem))
    password = params.get("admin_password")
    if password is not None:
        low, high = (12, 123) if os_type == "Windows" else (6, 72)
        classes = sum(bool(re.search(p, password)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]"))
        if not (low <= len(password) <= high) or classes < 3:
            errors.append("admin_password: must be %d-%d characters and contain 3 of: lower case, upper case, digit, "
                          "special character" % (low, high))
    custom_data = params.get("custom_data")
    if custom_data is not None and len(custom_data.encode("utf-8")) > CUSTOM_DATA_MAX_BYTES:
        errors.append("custom_data: %d bytes exceeds Azure's limit of %d bytes"
                      % (len(custom_data.encode("utf-8")), CUSTOM_DATA_MAX_BYTES))
    errors.extend(validate_identity(params.get("identity")))
    errors.extend(validate_tags(params.get("tags") or {}))
    return errors


def _validate_data_disks(disks):
    errors = []
    luns = set()
    for idx, disk in enumerate(disks):
        where = "data_disks[%d]" % idx
        if disk.get("storage_account_type") == "UltraSSD_LRS":
            errors.append("%s.storage_account_type: ultra disks are not supported with confidential VMs; use "
                          "Premium_LRS, PremiumV2_LRS or StandardSSD_LRS" % where)
        if (disk.get("max_shares") or 1) > 1:
            errors.append("%s.max_shares: shared disks are not supported with confidential VMs; remove max_shares "
                          "or set it to 1" % where)
        lun = disk.get("lun")
        if lun is not None and not (0 <= lun <= 63):
            errors.append("%s.lun: %s is out of range 0-63" % (where, lun))
        if lun in luns:
            errors.append("%s.lun: LUN %s is used twice; each data disk needs its own LUN" % (where, lun))
        luns.add(lun)
        size_gb = disk.get("size_gb")
        if size_gb is not None and not (1 <= size_gb <= MAX_DATA_DISK_GB):
            errors.append("%s.size_gb: %s is out of range 1-%d" % (where, size_gb, MAX_DATA_DISK_GB))
    return errors


def _ssh_fields(blob):
    """The length-prefixed fields of an OpenSSH public key blob (RFC 4253 section 6.6)."""
    fields = []
    pos = 0
    while pos < len(blob):
        if pos + 4 > len(blob):
            raise ValueError("truncated")
        size = int.from_bytes(blob[pos:pos + 4], "big")
        if size > len(blob) - pos - 4:
            raise ValueError("truncated")
        fields.append(blob[pos + 4:pos + 4 + size])
        pos += 4 + size
    return fields


def ssh_key_problem(line):
    """Why Azure would refuse an OpenSSH public key line (RSA >= 2048 bits or Ed25519 only), or None."""
    hint = "use an RSA key of at least %d bits or an Ed25519 key (ssh-keygen -t ed25519)" % MIN_RSA_BITS
    match = _SSH_KEY_RE.match((line or "").strip())
    if not match:
        return "not an OpenSSH public key line ('ssh-ed25519 AAAA...' or 'ssh-rsa AAAA...'); %s" % hint
    key_type = match.group("type")
    if key_type.startswith("ecdsa-") or key_type.startswith("sk-") or key_type == "ssh-dss":
        return "%s keys are not supported by Azure; %s" % (key_type, hint)
    if key_type not in ("ssh-rsa", "ssh-ed25519"):
        return "key type %s is not supported by Azure; %s" % (key_type, hint)
    try:
        fields = _ssh_fields(base64.b64decode(match.group("blob"), validate=True))
    except (ValueError, TypeError):
        return "the key data is not a valid OpenSSH public key; %s" % hint
    if not fields or fields[0].decode("latin-1") != key_type:
        return "the key data does not hold a %s key; %s" % (key_type, hint)
    if key_type == "ssh-ed25519":
        if len(fields) != 2 or len(fields[1]) != 32:
            return "the key data is not a valid Ed25519 public key; %s" % hint
        return None
    if len(fields) != 3:
        return "the key data is not a valid RSA public key; %s" % hint
    bits = int.from_bytes(fields[2], "big").bit_length()
    if bits < MIN_RSA_BITS:
        return "the RSA key has %d bits; Azure needs at least %d (ssh-keygen -t rsa -b 4096, or -t ed25519)" % (
            bits, MIN_RSA_BITS)
    return None


def validate_tags(tags, param="tags"):
    errors = []
    if len(tags) > 50:
        errors.append("%s: Azure allows at most 50 tags per resource (%d given)" % (param, len(tags)))
    for key, value in tags.items():
        if len(key) > 512 or re.search(r"[<>%&\\?/]", key):
            errors.append("%s: tag name %r is too long or contains one of < > %% & \\ ? /" % (param, key))
        if value is not None and len(str(value)) > 256:
            errors.append("%s: value of tag %r is longer than 256 characters" % (param, key))
    return errors


def validate_des(params):
    """Validate disk encryption set parameters.  Returns (errors, key_parts)."""
    errors = []
    if not _present(params):
        return errors, None
    etype = params.get("encryption_type") or CONFIDENTIAL_DES_TYPE
    if etype not in DES_ENCRYPTION_TYPES:
        errors.append("encryption_type: %r is not one of %s" % (etype, ", ".join(DES_ENCRYPTION_TYPES)))
    key_errors, key_parts = validate_key_url(params.get("key_url"))
    errors.extend(key_errors)
    vault = params.get("source_vault")
    if vault and not _ARM_ID_RE.match(vault) and "/" in vault:
        errors.append("source_vault: %r is neither a vault name nor a Key Vault resource id" % vault)
    identity = params.get("identity") or "SystemAssigned"
    uai = params.get("user_assigned_identity")
    if identity == "UserAssigned" and not uai:
        errors.append("user_assigned_identity: identity UserAssigned needs the resource id of a user-assigned "
                      "managed identity")
    if identity == "SystemAssigned" and uai:
        errors.append("user_assigned_identity: only used with identity: UserAssigned")
    if uai and not _ARM_ID_RE.match(uai):
        errors.append("user_assigned_identity: %r is not a resource id "
                      "(/subscriptions/.../Microsoft.ManagedIdentity/userAssignedIdentities/<name>)" % uai)
    if params.get("federated_client_id") and identity != "UserAssigned":
        errors.append("federated_client_id: a cross-tenant key needs identity: UserAssigned "
                      "(with user_assigned_identity)")
    if params.get("grant_key_permissions"):
        if params.get("wait") is False and identity == "SystemAssigned":
            errors.append("grant_key_permissions: the grant needs the set's system-assigned identity, which exists "
                          "only after creation; use wait: true or grant in a later task")
        if not params.get("source_vault"):
            errors.append("grant_key_permissions: needs source_vault (the vault name or id) to grant on")
        if identity == "UserAssigned" and not params.get("user_assigned_identity_principal_id"):
            errors.append("user_assigned_identity_principal_id: grant_key_permissions with identity UserAssigned "
                          "needs the identity's principal (object) id")
        if params.get("federated_client_id"):
            errors.append("grant_key_permissions: the key is in another tenant (federated_client_id); grant the "
                          "permissions in that tenant instead")
    errors.extend(validate_tags(params.get("tags") or {}))
    return errors, key_parts


def validate_vnet(params):
    errors = []
    if not _present(params):
        return errors
    spaces = []
    prefixes = params.get("address_prefixes") or []
    if not prefixes:
        errors.append("address_prefixes: is required to create a virtual network, e.g. ['10.0.0.0/16']")
    for prefix in prefixes:
        try:
            spaces.append(ipaddress.ip_network(prefix, strict=True))
        except ValueError as exc:
            errors.append("address_prefixes: %r is not a network in CIDR notation (%s)" % (prefix, exc))
    names = set()
    subnets = []
    for idx, subnet in enumerate(params.get("subnets") or []):
        where = "subnets[%d]" % idx
        if subnet.get("name") in names:
            errors.append("%s.name: subnet %r is listed twice" % (where, subnet.get("name")))
        names.add(subnet.get("name"))
        try:
            net = ipaddress.ip_network(subnet.get("address_prefix") or "", strict=True)
        except ValueError as exc:
            errors.append("%s.address_prefix: %r is not a network in CIDR notation (%s)"
                          % (where, subnet.get("address_prefix"), exc))
            continue
        if spaces and not any(net.version == s.version and net.subnet_of(s) for s in spaces):
            errors.append("%s.address_prefix: %s is outside the address space %s"
                          % (where, net, ", ".join(str(s) for s in spaces)))
        for other_name, other in subnets:
            if net.version == other.version and net.overlaps(other):
                errors.append("%s.address_prefix: %s overlaps subnet %r (%s)" % (where, net, other_name, other))
        subnets.append((subnet.get("name"), net))
    errors.extend(validate_tags(params.get("tags") or {}))
    return errors


def encode_custom_data(text):
    if text is None:
        return None
    return base64.b64encode(text.encode("utf-8")).decode("ascii")
