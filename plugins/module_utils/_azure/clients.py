# -*- coding: utf-8 -*-
# Copyright: contributors to confidential.azure
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Azure SDK clients and pipelines, built in one place from an AzureSession.

- ``compute()``: azure-mgmt-compute's ComputeManagementClient (virtual machines, disks, disk encryption sets,
  resource SKUs);
- ``keys(vault_url)``: azure-keyvault-keys' KeyClient for one vault (Key Vault's challenge authentication);
- ``arm()``: azure-mgmt-core's ARMPipelineClient; ``arm_requests()`` sends Azure's JSON over it for the ARM calls
  no typed SDK of the design covers (resource groups, network, vault management, role assignments);
- ``graph_requests()``, ``service_requests(url)``: the same over azure-core pipelines for Microsoft Graph and MAA
  (pipeline.ServiceRequests).

All use the session's credential and cloud (custom ARM endpoint and token scopes, custom CA bundle), the same
retries (429/5xx honour Retry-After, capped) and, for Key Vault, the bounded wait on 403 answers while a fresh
grant propagates (access.py).  Long-running operations run on azure-mgmt-core's ARM polling behind ``operation()``
and ``ServiceRequests.write()``, with the collection's wait / no-wait contract (operation.Operation, LroTimeout,
LroFailed).

Nothing here imports an SDK at import time: a module imports only the clients it calls.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import json
import threading
import time

try:
    from urllib.parse import urlparse
except ImportError:  # pragma: no cover
    from urlparse import urlparse  # type: ignore

from . import access, errors
from .operation import first_answer
from .retry import RetryPolicy as Backoff

USER_AGENT = 'confidential.azure/0.1.0'
POLL_INTERVAL = 5


class SdkClients:
    """Lazily built SDK clients for one session; each is built at most once."""

    def __init__(self, session, transport=None, sleep=None, poll_interval=POLL_INTERVAL):
        self.session = session
        self._transport = transport
        self._sleep = sleep or time.sleep
        self.poll_interval = poll_interval
        self._built = {}
        self._lock = threading.RLock()
        self.access_waits = []

    # -- shared options --------------------------------------------------------------------------------------
    def _common(self, access_timeout=0):
        options = dict(connection_verify=self.session.connection_verify, user_agent=USER_AGENT,
                       retry_policy=retry_policy(access_timeout, self.access_waits, self._sleep))
        if self._transport is not None:
            options['transport'] = self._transport
        return options

    def _once(self, key, build):
        with self._lock:  # vm_batch's threads share the clients
            if key not in self._built:
                try:
                    self._built[key] = build()
                except ImportError as exc:
                    raise errors.AzureError('%s; install the collection\'s requirements on the control node '
                                            '(pip install -r requirements.txt: azure-mgmt-compute, azure-keyvault-keys, '
                                            'azure-mgmt-core)' % exc)
            return self._built[key]

    # -- clients ---------------------------------------------------------------------------------------------
    def compute(self):
        """ComputeManagementClient for the session's subscription and cloud."""
        def build():
            from azure.mgmt.compute import ComputeManagementClient  # pylint: disable=import-outside-toplevel

            cloud = self.session.cloud
            return ComputeManagementClient(self.session.credential(), self.session.subscription_id,
                                           base_url=cloud.arm_endpoint, credential_scopes=[cloud.arm_scope],
                                           polling_interval=self.poll_interval, **self._common())
        return self._once('compute', build)

    def keys(self, vault_url):
        """KeyClient for one vault; its challenge names the tenant and resource the token is asked for."""
        base = vault_url.rstrip('/') + '/'

        def build():
            from azure.keyvault.keys import KeyClient  # pylint: disable=import-outside-toplevel

            return KeyClient(base, self.session.credential(), verify_challenge_resource=verify_challenge(
                self.session.cloud, base), **self._common(self.session.access_timeout))
        return self._once('keys ' + base, build)

    def arm(self):
        """ARMPipelineClient for the ARM calls no typed SDK of the design covers."""
        def build():
            from azure.core.configuration import Configuration  # pylint: disable=import-outside-toplevel
            from azure.core.pipeline import policies  # pylint: disable=import-outside-toplevel
            from azure.mgmt.core import ARMPipelineClient  # pylint: disable=import-outside-toplevel
            from azure.mgmt.core.policies import (  # pylint: disable=import-outside-toplevel
                ARMChallengeAuthenticationPolicy)

            cloud = self.session.cloud
            options = self._common()
            config = Configuration()
            config.headers_policy = policies.HeadersPolicy({'Accept': 'application/json'})
            config.user_agent_policy = policies.UserAgentPolicy(USER_AGENT)
            config.proxy_policy = policies.ProxyPolicy()
            config.redirect_policy = policies.RedirectPolicy()
            config.retry_policy = options.pop('retry_policy')
            config.custom_hook_policy = policies.CustomHookPolicy()
            config.logging_policy = policies.NetworkTraceLoggingPolicy()
            config.authentication_policy = ARMChallengeAuthenticationPolicy(self.session.credential(),
                                                                            cloud.arm_scope)
            options.pop('user_agent')
            return ARMPipelineClient(cloud.arm_endpoint, config=config, **options)
        return self._once('arm', build)

    def _service_client(self, base_url, scope, access_timeout):
        """A PipelineClient for a service outside ARM (Graph, MAA) with the same policies;
        scope None sends no token (MAA's attest endpoints are anonymous)."""
        from azure.core import PipelineClient  # pylint: disable=import-outside-toplevel
        from azure.core.pipeline import policies  # pylint: disable=import-outside-toplevel

        options = self._common(access_timeout)
        chain = [policies.HeadersPolicy({'Accept': 'application/json'}), policies.UserAgentPolicy(USER_AGENT),
                 policies.ProxyPolicy(), options.pop('retry_policy')]
        if scope:
            chain.append(policies.BearerTokenCredentialPolicy(self.session.credential(), scope))
        chain.append(policies.NetworkTraceLoggingPolicy())
        options.pop('user_agent')
        return PipelineClient(base_url, policies=chain, **options)

    # -- JSON requests through the pipelines (pipeline.ServiceRequests) ----------------------------------------------
    def arm_requests(self):
        """ARM requests on the ARM pipeline client (resource groups, network, vaults, role assignments)."""
        return self._requests('arm requests', self.session.cloud.arm_endpoint, self.arm)

    def graph_requests(self):
        cloud = self.session.cloud
        return self.service_requests(cloud.graph_endpoint, cloud.graph_scope)

    def service_requests(self, base_url, scope=None, access_timeout=0):
        base = base_url.rstrip('/')
        return self._requests('requests %s %s %s' % (base, scope, access_timeout), base, lambda: self._once(
            'client %s %s %s' % (base, scope, access_timeout),
            lambda: self._service_client(base, scope, access_timeout)), access_timeout)

    def _requests(self, key, base_url, client_factory, access_timeout=0):
        from .pipeline import ServiceRequests  # pylint: disable=import-outside-toplevel

        return self._once(key, lambda: ServiceRequests(self, base_url, client_factory, access_timeout))

    def arm_polling(self):
        """azure-mgmt-core's ARM polling at this session's interval, a Retry-After on a poll capped like every
        other Retry-After."""
        from azure.mgmt.core.polling.arm_polling import ARMPolling  # pylint: disable=import-outside-toplevel

        cap = Backoff().max_retry_after

        class CappedArmPolling(ARMPolling):
            def _extract_delay(self):
                return min(super(CappedArmPolling, self)._extract_delay(), cap)

        return CappedArmPolling(self.poll_interval)

    def sleep(self, seconds):
        self._sleep(seconds)


def verify_challenge(cloud, vault_url):
    """Whether the KeyClient checks that the challenge's resource matches the vault's domain (a token for Key
    Vault is never sent to a look-alike host).  Always on Microsoft's clouds; a custom cloud whose vaults are not
    served under its keyvault_dns_suffix (Azure Stack Hub by IP, a local simulator) cannot pass the check."""
    from . import cloud as cloud_mod  # pylint: disable=import-outside-toplevel

    if cloud.name in cloud_mod.KNOWN_CLOUDS:
        return True
    host = urlparse(vault_url).hostname or ''
    return host.lower().endswith('.' + cloud.keyvault_dns_suffix)


def response_json(http_response):
    """The JSON body of an azure-core HTTP response, or None (no body, not JSON, body not readable)."""
    try:
        text = http_response.text()
    except Exception:  # pylint: disable=broad-except
        return None
    try:
        return json.loads(text) if text and text.strip() else None
    except ValueError:
        return None


# -- retries -----------------------------------------------------------------------------------------------------
def retry_policy(access_timeout=0, waits=None, sleep=time.sleep, backoff=None):
    """azure-core's RetryPolicy with this collection's numbers: 5 retries (3 of them for error answers), backoff 1 s
    doubling up to 30 s, Retry-After honoured up to 5 minutes (plus up to 1 s of jitter), 10 throttling answers
    (429) on top;
    with access_timeout, 403 "lacks permission" answers are retried
    with access.delays() while a grant propagates (each wait recorded in ``waits``)."""
    from azure.core.pipeline.policies import RetryPolicy  # pylint: disable=import-outside-toplevel

    backoff = backoff or Backoff()

    class CollectionRetryPolicy(RetryPolicy):
        def get_retry_after(self, response):
            hinted = super(CollectionRetryPolicy, self).get_retry_after(response)
            return None if hinted is None else min(hinted, backoff.max_retry_after) + backoff.jitter(hinted)

        def increment(self, settings, response=None, error=None):
            status = getattr(getattr(response, 'http_response', None), 'status_code', None)
            if error is None and status == 429 and settings.get('throttled', 0) < backoff.throttle_retries:
                settings['throttled'] = settings.get('throttled', 0) + 1
                settings['total'] += 1  # given back: the base class takes one retry for this 429
                settings['status'] += 1
            return super(CollectionRetryPolicy, self).increment(settings, response, error)

        def send(self, request):
            response = super(CollectionRetryPolicy, self).send(request)
            if not access_timeout:
                return response
            http = response.http_response
            text = _text(http)
            if not access.is_access_denied(http.status_code, text):
                return response
            wait = access.AccessWait(request.http_request.method, errors._path_only(request.http_request.url),
                                     access.missing_permission(text), access.caller_object_id(text))
            if waits is not None:
                waits.append(wait)
            for step in access.delays(access_timeout):
                sleep(step)
                wait.waited += step
                wait.attempts += 1
                response = super(CollectionRetryPolicy, self).send(request)
                if not access.is_access_denied(response.http_response.status_code, _text(response.http_response)):
                    wait.granted = True
                    break
            if not wait.granted:
                try:
                    response.http_response.access_wait = wait  # api_error() says the refusal outlasted the wait
                except AttributeError:  # pragma: no cover - a response type without attributes
                    pass
            return response

    return CollectionRetryPolicy(retry_total=backoff.max_retries, retry_backoff_factor=backoff.base_delay,
                                 retry_backoff_max=backoff.max_delay)


def _text(http_response):
    try:
        return http_response.text()
    except Exception:  # pylint: disable=broad-except
        return ''


# -- errors -------------------------------------------------------------------------------------------------------
def api_error(exc, error_class=errors.AzureApiError):
    """The AzureApiError for an azure-core HttpResponseError (its status, Azure's code, message and details)."""
    response = getattr(exc, 'response', None)
    if response is None:
        return error_class(0, 'ConnectionError', ' '.join(str(getattr(exc, 'message', None) or exc).split()))
    request = getattr(response, 'request', None)
    method = getattr(request, 'method', None)
    url = getattr(request, 'url', None)
    built = errors.from_response(response.status_code, _text(response), dict(response.headers or {}), method, url)
    wait = getattr(response, 'access_wait', None)
    if wait is not None and not wait.granted:
        built.message = '%s (%s)' % (built.message.rstrip(), wait.describe())
    if error_class is not errors.AzureApiError:
        built = error_class(built.status, built.code, built.message, built.target, built.details, built.request_id,
                            method, url)
    return built


@contextlib.contextmanager
def translated(error_class=errors.AzureApiError):
    """SDK exceptions become this layer's AzureAuthError / AzureApiError (one-line summary, no traceback)."""
    from azure.core import exceptions as core  # pylint: disable=import-outside-toplevel

    try:
        yield
    except core.ClientAuthenticationError as exc:
        if getattr(exc, 'response', None) is not None:
            raise api_error(exc, error_class)
        raise errors.AzureAuthError('could not get an access token: %s'
                                    % ' '.join(str(exc.message or exc).split())[:500])
    except core.HttpResponseError as exc:
        raise api_error(exc, error_class)
    except (core.ServiceRequestError, core.ServiceResponseError) as exc:
        raise errors.AzureApiError(0, 'ConnectionError', 'no answer from Azure: %s' % exc)


def get_or_none(call):
    """call()'s result, or None when Azure answers 404 (the resource does not exist)."""
    from azure.core.exceptions import ResourceNotFoundError  # pylint: disable=import-outside-toplevel

    try:
        with translated():
            return call()
    except errors.AzureApiError as exc:
        if exc.status == 404:
            return None
        raise
    except ResourceNotFoundError:  # pragma: no cover - translated() maps it
        return None


def raw(pipeline_response, _deserialized, _headers):
    """``cls=raw`` makes an SDK get or long-running operation return Azure's JSON as a dict (what the pure code
    reads)."""
    return response_json(pipeline_response.http_response)


def as_dict(model):
    """An SDK model as Azure's JSON (REST names): serialize() for msrest-style models (azure-mgmt-compute < 34
    and azure-keyvault-keys' generated models), as_dict() for the TypeSpec models (dict-like, REST names)."""
    if model is None or isinstance(model, dict):
        return model
    if hasattr(model, 'serialize'):
        return model.serialize(keep_readonly=True)
    return json.loads(json.dumps(model.as_dict(), default=str))


# -- long-running operations of the typed SDKs ----------------------------------------------------------------------
def _first_response(poller):
    method = poller.polling_method()
    initial = getattr(method, '_initial_response', None)
    return getattr(initial, 'http_response', None)


def _accepted(http_response):
    """The Operation as Azure's first answer describes it (nothing polled yet)."""
    request = http_response.request
    resource_url = request.url if request.method in ('PUT', 'PATCH') else None
    return first_answer(request.method, http_response.status_code, dict(http_response.headers or {}),
                        response_json(http_response), resource_url)


def operation(begin, wait, timeout):
    """Run an SDK long-running operation with the wait / no-wait contract.

    begin(polling) calls the SDK's begin_* method with ``polling=polling`` (and ``cls=raw`` for dict results).
    Without wait, nothing is polled: the result describes Azure's first answer (done False while it runs, with the
    poll URL a later task can wait on).  With wait, azure-mgmt-core's ARM polling runs for at most timeout
    seconds: a timeout raises LroTimeout with the poll URL, a Failed or Canceled end raises LroFailed."""
    from .pipeline import waited  # pylint: disable=import-outside-toplevel

    if not wait:
        with translated():
            poller = begin(False)
        started = _accepted(_first_response(poller))
        if started.done:
            started.resource = poller.result()
        return started
    with translated():
        poller = begin(True)
    return waited(poller, _accepted(_first_response(poller)), timeout)
