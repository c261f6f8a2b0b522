# -*- coding: utf-8 -*-
# Copyright: contributors to confidential.azure
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    # The same authentication and cloud options as the modules, readable from the environment too.
    DOCUMENTATION = r'''
options:
  auth_source:
    description:
      - Where credentials come from; see the modules' O(auth_source). C(auto) takes the inventory file's
        options, then environment variables, then the profile file, then the Azure CLI.
    type: str
    choices: [auto, cli, env, credential_file, msi]
    env:
      - name: ANSIBLE_AZURE_AUTH_SOURCE
  profile:
    description: Section of C(~/.azure/credentials) to use.
    type: str
    env:
      - name: AZURE_PROFILE
  subscription_id:
    description: Subscription to list.
    type: str
    env:
      - name: AZURE_SUBSCRIPTION_ID
  client_id:
    description: Application (client) id of a service principal.
    type: str
    env:
      - name: AZURE_CLIENT_ID
  secret:
    description: Client secret of the service principal.
    type: str
    env:
      - name: AZURE_SECRET
      - name: AZURE_CLIENT_SECRET
  tenant:
    description: Directory (tenant) id.
    type: str
    env:
      - name: AZURE_TENANT
      - name: AZURE_TENANT_ID
  ad_user:
    description: User principal name for username/password sign-in.
    type: str
    env:
      - name: AZURE_AD_USER
  password:
    description: Password of O(ad_user).
    type: str
    env:
      - name: AZURE_PASSWORD
  x509_certificate_path:
    description: PEM file with the service principal's certificate and private key.
    type: path
    env:
      - name: AZURE_X509_CERTIFICATE_PATH
  thumbprint:
    description: Accepted for compatibility with azure.azcollection; not needed.
    type: str
    env:
      - name: AZURE_THUMBPRINT
  adfs_authority_url:
    description: Authority URL to sign in with instead of the cloud's.
    type: str
    env:
      - name: AZURE_ADFS_AUTHORITY_URL
  cloud_environment:
    description:
      - A cloud name, a custom cloud dict (C(arm_endpoint), C(authority_host), C(keyvault_dns_suffix),
        C(attestation_endpoint), C(graph_endpoint), C(ca_bundle)), the path of a JSON file with those keys, or an
        ARM metadata endpoint URL (V(https://<arm>/metadata/endpoints?api-version=2022-09-01)), read once and
        cached, with TLS trust from E(REQUESTS_CA_BUNDLE).
    type: raw
    env:
      - name: AZURE_CLOUD_ENVIRONMENT
  cert_validation_mode:
    description: V(ignore) turns off TLS certificate validation.
    type: str
    choices: [validate, ignore]
    env:
      - name: AZURE_CERT_VALIDATION_MODE
  disable_instance_discovery:
    description: Skip Microsoft Entra instance discovery (default true for custom clouds).
    type: bool
  token_cache:
    description: Opt-in token cache file (mode 0600); see the modules' O(token_cache).
    type: path
    env:
      - name: CONFIDENTIAL_AZURE_TOKEN_CACHE
'''
