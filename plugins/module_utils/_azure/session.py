# -*- coding: utf-8 -*-
# Copyright: contributors to confidential.azure
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An authenticated view of one subscription in one cloud: the single place clients are built.

Used by modules (through AzureModule) and by the inventory plugin; no Ansible import here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import threading
import time

from . import cloud as cloud_mod
from . import access, credentials, token_cache
from .errors import AzureAuthError

TOKEN_CACHE_ENV = 'CONFIDENTIAL_AZURE_TOKEN_CACHE'


class SharedCredential:
    """A credential threads share: one get_token per scope and options until the token has 5 minutes left."""

    MIN_REMAINING = 300

    def __init__(self, inner):
        self._inner = inner
        self._lock = threading.Lock()
        self._tokens = {}

    def get_token(self, *scopes, **kwargs):
        key = (scopes, repr(sorted(kwargs.items())))
        with self._lock:
            token = self._tokens.get(key)
            if token is None or token.expires_on - self.MIN_REMAINING <= time.time():
                token = self._inner.get_token(*scopes, **kwargs)
                self._tokens[key] = token
            return token

    def close(self):
        close = getattr(self._inner, 'close', None)
        if close:
            close()


class AzureSession:
    def __init__(self, params, env=None, sleep=None, transport=None, run_command=None):
        self.params = params
        self._run_command = run_command
        self.env = os.environ if env is None else env
        self.cloud = cloud_mod.from_setting(params.get('cloud_environment'), self.env)
        self.settings = credentials.resolve(params, self.env)
        self._credential = None
        self._sdk = None
        self._sleep = sleep
        self._transport = transport

    # -- settings --------------------------------------------------------------------------------------------
    @property
    def subscription_id(self):
        sub = self.settings.subscription_id
        if not sub and self.settings.kind == 'cli' and self._run_command:
            sub = credentials.cli_subscription_id(self._run_command)
            self.settings.subscription_id = sub
        if not sub:
            raise AzureAuthError('no subscription: set subscription_id (or AZURE_SUBSCRIPTION_ID)')
        return sub

    @property
    def connection_verify(self):
        mode = self.params.get('cert_validation_mode') or credentials.env_value(self.env, 'cert_validation_mode')
        if mode == 'ignore':
            return False
        return self.cloud.ca_bundle or True

    @property
    def authority(self):
        adfs = self.params.get('adfs_authority_url') or credentials.env_value(self.env, 'adfs_authority_url')
        if adfs:
            return adfs
        if self.cloud.name == 'AzureCloud' and credentials.env_value(self.env, 'authority_host'):
            return credentials.env_value(self.env, 'authority_host')
        return self.cloud.authority_host

    @property
    def disable_instance_discovery(self):
        flag = self.params.get('disable_instance_discovery')
        if flag is None:
            # A custom cloud (Azure Stack Hub, a local simulator) is not in Microsoft's discovery list.
            return self.cloud.name not in cloud_mod.KNOWN_CLOUDS or bool(self.params.get('adfs_authority_url'))
        return flag

    @property
    def token_cache_path(self):
        return self.params.get('token_cache') or self.env.get(TOKEN_CACHE_ENV) or None

    # -- clients ---------------------------------------------------------------------------------------------
    def credential(self):
        if self._credential is None:
            def build():
                return credentials.build(self.settings, self.authority, self.connection_verify,
                                         self.disable_instance_discovery)
            if self.token_cache_path:  # built on a cache miss only: a cached task skips azure.identity
                self._credential = token_cache.CachingCredential(build, self.token_cache_path,
                                                                 self.settings.cache_key(self.authority))
            else:
                self._credential = build()
        return self._credential

    @property
    def access_timeout(self):
        """Seconds a data-plane 403 is retried while a fresh grant propagates (access_propagation_timeout)."""
        value = self.params.get('access_propagation_timeout')
        return access.DEFAULT_TIMEOUT if value is None else value

    def access_waits(self):
        """What every client waited for after 403 answers (plain dicts, safe to return)."""
        return [wait.to_dict() for wait in (self._sdk.access_waits if self._sdk is not None else [])]

    def _arm_token(self):
        from azure.core.exceptions import ClientAuthenticationError  # pylint: disable=import-outside-toplevel

        try:
            return self.credential().get_token(self.cloud.arm_scope).token
        except ClientAuthenticationError as exc:
            raise AzureAuthError('could not get an access token for %s: %s'
                                 % (self.cloud.arm_scope, ' '.join(str(exc.message or exc).split())[:500]))

    def principal(self):
        """The automation principal (object id from the oid claim of its ARM access token)."""
        from . import principal as principal_mod  # pylint: disable=import-outside-toplevel

        return principal_mod.from_claims(principal_mod.token_claims(self._arm_token()), self.settings.describe())

    def prepare_threads(self):
        """Before worker threads share this session (and before its clients are built): one token request per scope
        for all threads (azure-core's token policy has no lock; the Azure CLI credential does not cache), the
        subscription resolved, the compute and ARM clients built, the ARM token fetched."""
        if not isinstance(self.credential(), SharedCredential):
            self._credential = SharedCredential(self.credential())
        sub = self.subscription_id
        self.sdk.compute()
        self.sdk.arm()
        self._arm_token()
        return sub

    @property
    def sdk(self):
        """The Azure SDK clients (clients.SdkClients): compute(), keys(vault_url), arm() and the JSON requests over
        the same pipelines; each imported on first use."""
        if self._sdk is None:
            from .clients import SdkClients  # pylint: disable=import-outside-toplevel
            kwargs = dict(transport=self._transport)
            if self._sleep is not None:
                kwargs['sleep'] = self._sleep
            self._sdk = SdkClients(self, **kwargs)
        return self._sdk

    @property
    def arm(self):
        """ARM requests (pipeline.ServiceRequests) for what no typed SDK covers."""
        return self.sdk.arm_requests()

    @property
    def graph(self):
        return self.sdk.graph_requests()
