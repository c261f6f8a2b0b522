# -*- coding: utf-8 -*-
# Copyright: contributors to confidential.azure
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The authentication and cloud options every module (and the inventory plugin) takes."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

AUTH_SOURCES = ['auto', 'cli', 'env', 'credential_file', 'msi']

AZURE_COMMON_ARGS = dict(
    auth_source=dict(type='str', choices=AUTH_SOURCES),
    profile=dict(type='str'),
    subscription_id=dict(type='str'),
    client_id=dict(type='str'),
    secret=dict(type='str', no_log=True),
    tenant=dict(type='str'),
    ad_user=dict(type='str'),
    password=dict(type='str', no_log=True),
    x509_certificate_path=dict(type='path'),
    thumbprint=dict(type='str'),
    adfs_authority_url=dict(type='str'),
    cloud_environment=dict(type='raw'),
    cert_validation_mode=dict(type='str', choices=['validate', 'ignore']),
    disable_instance_discovery=dict(type='bool'),
    token_cache=dict(type='path', no_log=False),
    access_propagation_timeout=dict(type='int'),
)
