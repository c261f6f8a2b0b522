# -*- coding: utf-8 -*-
# Copyright: contributors to confidential.azure
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
options:
  auth_source:
    description:
      - Where credentials come from.
      - C(auto) takes, in this order, credentials given as module parameters, then environment variables,
        then the profile file (C(~/.azure/credentials)), then the Azure CLI's signed-in account.
      - Can also be set with the E(ANSIBLE_AZURE_AUTH_SOURCE) environment variable.
    type: str
    choices: [auto, cli, env, credential_file, msi]
  profile:
    description:
      - Section of C(~/.azure/credentials) to use (same file format as azure.azcollection).
      - Can also be set with E(AZURE_PROFILE).
    type: str
  subscription_id:
    description:
      - Subscription to work in. Defaults to E(AZURE_SUBSCRIPTION_ID), the profile, or the Azure CLI's account.
      - Like every option here, a value given as a parameter wins over the environment, the profile and the CLI,
        whichever of them supplies the credential.
    type: str
  client_id:
    description:
      - Application (client) id of a service principal or user-assigned managed identity.
      - Can also be set with E(AZURE_CLIENT_ID).
    type: str
  secret:
    description:
      - Client secret of the service principal. Can also be set with E(AZURE_SECRET) or E(AZURE_CLIENT_SECRET).
    type: str
  tenant:
    description:
      - Directory (tenant) id. Can also be set with E(AZURE_TENANT) or E(AZURE_TENANT_ID).
    type: str
  ad_user:
    description:
      - User principal name for username/password sign-in. Can also be set with E(AZURE_AD_USER).
    type: str
  password:
    description:
      - Password of O(ad_user). Can also be set with E(AZURE_PASSWORD).
    type: str
  x509_certificate_path:
    description:
      - PEM file holding the service principal's certificate and private key.
      - Can also be set with E(AZURE_X509_CERTIFICATE_PATH) or E(AZURE_CLIENT_CERTIFICATE_PATH).
    type: path
  thumbprint:
    description:
      - Thumbprint of O(x509_certificate_path); accepted for compatibility with azure.azcollection, not needed.
    type: str
  adfs_authority_url:
    description:
      - Authority URL to sign in with instead of the cloud's (ADFS, Azure Stack Hub).
      - Can also be set with E(AZURE_ADFS_AUTHORITY_URL).
    type: str
  cloud_environment:
    description:
      - The cloud to talk to. A name (V(AzureCloud), V(AzureChinaCloud), V(AzureUSGovernment)), or a custom cloud
        as a dict with C(arm_endpoint), C(authority_host), C(keyvault_dns_suffix) and optionally
        C(attestation_endpoint), C(graph_endpoint) (defaults to C(arm_endpoint)) and C(ca_bundle) (a PEM file
        of CAs to trust for every endpoint), or the path of a JSON file with those keys.
      - Or, as azure.azcollection and the Azure CLI take it, an ARM metadata endpoint URL
        (V(https://<arm>/metadata/endpoints?api-version=2022-09-01), or just V(https://<arm>)). The endpoints are
        read from it once and cached for an hour in C(~/.cache/confidential-azure/cloud-metadata) (a private
        directory; E(CONFIDENTIAL_AZURE_METADATA_CACHE) names another directory, or V(off)). TLS trust for the
        metadata request and every later request comes from E(REQUESTS_CA_BUNDLE) when set (a PEM file).
      - Azure Stack Hub and the collection's local simulator are custom clouds.
      - Can also be set with E(AZURE_CLOUD_ENVIRONMENT) (a name, the path of such a JSON file, or a metadata URL).
      - Key Vault tokens are requested for the scope C(https://<keyvault_dns_suffix>/.default).
    type: raw
  cert_validation_mode:
    description:
      - V(ignore) turns off TLS certificate validation (never do this outside a lab).
      - Can also be set with E(AZURE_CERT_VALIDATION_MODE).
    type: str
    choices: [validate, ignore]
  disable_instance_discovery:
    description:
      - Skip Microsoft Entra instance discovery. Defaults to true for custom clouds and ADFS, false otherwise.
    type: bool
  token_cache:
    description:
      - Opt-in. Path of a file in which access tokens are cached between tasks, so a play does not request
        a token per task. The file is created with mode 0600 and holds bearer tokens, so keep it private and
        delete it after the play. Can also be set with E(CONFIDENTIAL_AZURE_TOKEN_CACHE).
      - Off by default.
    type: path
  access_propagation_timeout:
    description:
      - Seconds a Key Vault data-plane request refused with 403 because a permission is missing keeps being
        retried (backoff from 2 s, at most 30 s per wait), for access granted moments earlier - an access policy
        or a role assignment, for example by M(confidential.azure.keyvault) - to take effect.
      - What was waited for is returned in C(access_waits). A 403 that outlasts the wait fails, naming the missing
        permission. A 403 from the vault firewall or Azure Policy is never waited for.
      - V(0) does not wait. Default V(300) (five minutes); at most V(3600).
    type: int
requirements:
  - python >= 3.8
  - azure-core >= 1.31.0
  - azure-identity >= 1.19.0
notes:
  - Environment variables use the same names as azure.azcollection and AWX's Azure credential
    (E(AZURE_SUBSCRIPTION_ID), E(AZURE_CLIENT_ID), E(AZURE_SECRET), E(AZURE_TENANT)) and azure-identity's own
    (E(AZURE_CLIENT_SECRET), E(AZURE_TENANT_ID), E(AZURE_FEDERATED_TOKEN_FILE), E(AZURE_AUTHORITY_HOST)).
  - Transient failures (HTTP 429, 5xx, dropped connections) are retried with exponential backoff that honours
    C(Retry-After).
'''
