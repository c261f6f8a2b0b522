#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) confidential.azure contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
---
module: temp_disk_probe
short_description: Find, validate and inspect the Azure temp (resource) disk (read-only)
description:
  - Internal module of the C(confidential.azure.temp_disk_encryption) role.
  - Discovers the temp disk from the udev links Azure's agents create, validates that a
    device is the temp disk (fails closed), reports the live dm-crypt mapping, mounts,
    swaps and what the installed systemd/kernel/cryptsetup support.
  - In O(mode=verify) checks the end state (mapping, mount source, no plaintext mount,
    swap only on dm devices) and fails listing every violation.
  - Never changes anything.
version_added: 0.1.0
options:
  mode:
    description: C(probe) before changes, C(verify) after.
    type: str
    choices: [probe, verify]
    default: probe
  device:
    description: Device the user names; it must still validate as the temp disk.
    type: str
  mapper_name:
    description: dm-crypt mapping name.
    type: str
    required: true
  mount_point:
    description: Mount point of the encrypted file system.
    type: str
    required: true
  cipher:
    description: Desired cipher.
    type: str
    default: aes-xts-plain64
  key_size:
    description: Desired key size in bits.
    type: int
    default: 512
  sector_size:
    description: Desired sector size (C(auto), C(512) or C(4096)).
    type: str
    default: auto
  workqueue:
    description: Bypass dm-crypt workqueues (C(auto) = when supported).
    type: str
    default: auto
  accept_blank:
    description: Accept a user-named device without any signature as the temp disk.
    type: bool
    default: false
  swap_file:
    description: Expected swap file (verify mode), empty for none.
    type: str
    default: ''
author:
  - confidential.azure maintainers (@confidential-azure)
'''

EXAMPLES = r'''
- name: Probe the temp disk
  confidential.azure.temp_disk_probe:
    mapper_name: azure_tmp
    mount_point: /mnt
  register: probe
'''

RETURN = r'''
device:
  description: Stable path of the temp disk used in crypttab.
  type: str
  returned: success
  sample: /dev/disk/azure/resource
device_real:
  description: Kernel device node of the temp disk.
  type: str
  returned: success
evidence:
  description: Why the device is considered the temp disk.
  type: str
  returned: success
mapping:
  description: The live mapping (active, cipher, key_size, sector_size, device, flags).
  type: dict
  returned: success
reboot_required:
  description: Desired options differ from the live mapping; applied at next boot.
  type: bool
  returned: success
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.confidential.azure.plugins.module_utils._guestdisk.host import Host
from ansible_collections.confidential.azure.plugins.module_utils._guestdisk.tempdisk import ProbeFailure, TempDiskProbe


def main():
    module = AnsibleModule(
        argument_spec=dict(
            mode=dict(type="str", default="probe", choices=["probe", "verify"]),
            device=dict(type="str"),
            mapper_name=dict(type="str", required=True),
            mount_point=dict(type="str", required=True),
            cipher=dict(type="str", default="aes-xts-plain64"),
            key_size=dict(type="int", default=512),
            sector_size=dict(type="str", default="auto"),
            workqueue=dict(type="str", default="auto"),
            accept_blank=dict(type="bool", default=False),
            swap_file=dict(type="str", default=""),
        ),
        supports_check_mode=True,
    )

    def run(args):
        if module.get_bin_path(args[0]) is None:
            return 127, "", "%s not found" % args[0]
        return module.run_command(args, check_rc=False)

    probe = TempDiskProbe(Host(run), module.params)
    try:
        result = probe.run()
    except ProbeFailure as failure:
        for warning in probe.warnings:
            module.warn(warning)
        module.fail_json(msg=str(failure), **failure.result)
    for warning in probe.warnings:
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
