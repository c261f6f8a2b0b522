# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Confidential VM image catalogue and OS <-> TEE rules.

Pure: no Ansible, no Azure SDK.  Sources: the seeds ("About Azure confidential VMs", OS support table) and
control-plane.md (known image references).  Ubuntu 20.04 and RHEL 9.x are AMD SEV-SNP only.
"""

from __future__ import (absolute_import, division, print_function)

__metaclass__ = type

import re

from .sizes import SNP, TDX

BOTH = (SNP, TDX)
SNP_ONLY = (SNP,)


class CvmImage(object):
    def __init__(self, publisher, offer, sku, os_type, os_name, tees):
        self.publisher = publisher
        self.offer = offer
        self.sku = sku
        self.os_type = os_type
        self.os_name = os_name
        self.tees = tees

    @property
    def urn(self):
        return "%s:%s:%s" % (self.publisher, self.offer, self.sku)

    def to_dict(self):
        return {"publisher": self.publisher, "offer": self.offer, "sku": self.sku, "os_type": self.os_type,
                "os": self.os_name, "tees": list(self.tees)}


# Known CVM marketplace images (publisher, offer, sku); matching is case-insensitive.  The rows follow the seed's OS
# table ("About Azure confidential VMs", OS support).  Windows Server CVM images: offer windows-cvm, SKU
# 20xx-datacenter-cvm, as in Microsoft's public CVM deployment templates (the Compute spec's x-ms-example swaps offer
# and SKU).  Azure Edition and Windows 11 images are the general images whose SecurityType feature is
# TrustedLaunchAndConfidentialVmSupported.
_WS = "MicrosoftWindowsServer"
_W11 = "MicrosoftWindowsDesktop"
CATALOGUE = [
    CvmImage("Canonical", "0001-com-ubuntu-confidential-vm-focal", "20_04-lts-cvm", "Linux", "Ubuntu 20.04", SNP_ONLY),
    CvmImage("Canonical", "0001-com-ubuntu-confidential-vm-jammy", "22_04-lts-cvm", "Linux", "Ubuntu 22.04", BOTH),
    CvmImage("Canonical", "ubuntu-24_04-lts", "cvm", "Linux", "Ubuntu 24.04", BOTH),
    CvmImage("RedHat", "rhel-cvm", "9_2_cvm_sev_snp", "Linux", "RHEL 9.2", SNP_ONLY),
    CvmImage("RedHat", "rhel-cvm", "9_3_cvm_sev_snp", "Linux", "RHEL 9.3", SNP_ONLY),
    CvmImage(_WS, "windows-cvm", "2019-datacenter-cvm", "Windows", "Windows Server 2019 Datacenter", BOTH),
    CvmImage(_WS, "windows-cvm", "2022-datacenter-cvm", "Windows", "Windows Server 2022 Datacenter", BOTH),
    CvmImage(_WS, "WindowsServer", "2022-datacenter-azure-edition", "Windows", "Windows Server 2022 Azure Edition",
             BOTH),
    CvmImage(_WS, "WindowsServer", "2022-datacenter-azure-edition-core", "Windows",
             "Windows Server 2022 Azure Edition Core", BOTH),
    CvmImage(_WS, "WindowsServer", "2022-datacenter-smalldisk-g2", "Windows", "Windows Server 2022", BOTH),
    CvmImage(_WS, "WindowsServer", "2019-datacenter-smalldisk-g2", "Windows", "Windows Server 2019", BOTH),
    CvmImage(_W11, "windows-11", "win11-22h2-pro", "Windows", "Windows 11 22H2 Pro", BOTH),
    CvmImage(_W11, "windows-11", "win11-22h2-pron", "Windows", "Windows 11 22H2 Pro N", BOTH),
    CvmImage(_W11, "windows-11", "win11-22h2-ent", "Windows", "Windows 11 22H2 Enterprise", BOTH),
    CvmImage(_W11, "windows-11", "win11-22h2-entn", "Windows", "Windows 11 22H2 Enterprise N", BOTH),
    CvmImage(_W11, "windows-11", "win11-22h2-avd", "Windows", "Windows 11 22H2 Enterprise multi-session", BOTH),
]

# Generic rules for images not in the catalogue but clearly marked as CVM images by their publisher.
# (publisher regex, offer regex, sku regex, os_type, os name, tees)
_RULES = [
    (r"^canonical$", r"focal", r".*", "Linux", "Ubuntu 20.04", SNP_ONLY),
    (r"^canonical$", r".*", r"^20_04", "Linux", "Ubuntu 20.04", SNP_ONLY),
    (r"^redhat$", r".*", r".*", "Linux", "RHEL 9", SNP_ONLY),
    (r"^canonical$", r".*", r".*", "Linux", "Ubuntu", BOTH),
    (r"^microsoftwindows(server|desktop)$", r".*", r".*", "Windows", "Windows", BOTH),
    (r".*", r".*", r".*", None, None, BOTH),
]

_CVM_MARK = re.compile(r"(cvm|confidential)", re.IGNORECASE)


def swapped_windows_reference(publisher, offer, sku):
    """The corrected (offer, sku) when a Windows CVM reference has offer and SKU swapped, else None."""
    if (publisher or "").lower() == _WS.lower() and (sku or "").lower() == "windows-cvm" and \
            (offer or "").lower().endswith("-cvm"):
        return "windows-cvm", offer
    return None


def known_images_hint():
    return ", ".join(i.urn for i in CATALOGUE)


def lookup(publisher, offer, sku):
    """Classify a marketplace image reference.

    Returns a dict: {known, cvm, os_type, os, tees, urn}.  ``cvm`` is True for catalogue images and for images whose
    offer or SKU marks them as confidential VM images (``cvm`` / ``confidential`` in the name).
    """
    pub_l, offer_l, sku_l = (publisher or "").lower(), (offer or "").lower(), (sku or "").lower()
    for image in CATALOGUE:
        if (image.publisher.lower(), image.offer.lower(), image.sku.lower()) == (pub_l, offer_l, sku_l):
            out = image.to_dict()
            out.update(known=True, cvm=True, urn=image.urn)
            return out
    marked = bool(_CVM_MARK.search(offer or "") or _CVM_MARK.search(sku or ""))
    for pub_re, offer_re, sku_re, os_type, os_name, tees in _RULES:
        if re.search(pub_re, pub_l) and re.search(offer_re, offer_l) and re.search(sku_re, sku_l):
            return {"publisher": publisher, "offer": offer, "sku": sku, "os_type": os_type, "os": os_name,
                    "tees": list(tees), "known": False, "cvm": marked,
                    "urn": "%s:%s:%s" % (publisher, offer, sku)}
    raise AssertionError("unreachable: the last rule matches everything")


def parse_urn(urn):
    """'Publisher:Offer:Sku[:Version]' -> dict(publisher, offer, sku, version) or None."""
    if not isinstance(urn, str):
        return None
    parts = urn.split(":")
    if len(parts) not in (3, 4) or not all(parts):
        return None
    return {"publisher": parts[0], "offer": parts[1], "sku": parts[2],
            "version": parts[3] if len(parts) == 4 else "latest"}
