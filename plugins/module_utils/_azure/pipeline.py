# -*- coding: utf-8 -*-
# Copyright: contributors to confidential.azure
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Azure's JSON in and out for one service through the azure-core pipeline clients.py builds.

ARM calls no typed SDK of the design covers (resource groups, network, vault management, role assignments,
attestation providers), Microsoft Graph and MAA all go through ``ServiceRequests`` (Key Vault keys go through
azure-keyvault-keys' KeyClient, clients.SdkClients.keys): the same retries (429/5xx and dropped connections,
Retry-After honoured and capped), the same bounded wait on a 403 while a fresh grant propagates, and the same
error translation (Azure's code and message, one line).  ARM writes run their long-running part on
azure-mgmt-core's ARM polling with the collection's wait / no-wait contract.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time

try:
    from urllib.parse import quote, urlencode
except ImportError:  # pragma: no cover
    from urllib import quote, urlencode  # type: ignore

from . import errors
from .operation import Operation, canonical, first_answer, header, is_terminal, provisioning_state

CONNECT_TIMEOUT = 30
READ_TIMEOUT = 120


class ServiceRequests:
    """Requests to one service (base_url) over a pipeline client built by SdkClients (``client_factory()``)."""

    def __init__(self, sdk, base_url, client_factory, access_timeout=0):
        self.sdk = sdk
        self.base_url = base_url.rstrip('/')
        self._client_factory = client_factory
        self.access_timeout = access_timeout

    def url(self, path, api_version=None, params=None):
        absolute = path.startswith('https://') or path.startswith('http://')
        url = path if absolute else self.base_url + '/' + path.lstrip('/')
        query = []
        if api_version and 'api-version=' not in url:
            query.append(('api-version', api_version))
        for key, value in sorted((params or {}).items()):
            if value is not None:
                query.append((key, value))
        if query:
            url += ('&' if '?' in url else '?') + urlencode(query, quote_via=quote, safe="$'(),=")
        return url

    # -- requests ------------------------------------------------------------------------------------------------
    def send(self, method, path, api_version=None, body=None, params=None, headers=None):
        """The Response to one request (retries and the 403 grant wait included); connection and token failures
        raise AzureApiError / AzureAuthError."""
        from azure.core.rest import HttpRequest  # pylint: disable=import-outside-toplevel
        from .clients import translated  # pylint: disable=import-outside-toplevel

        request_headers = dict(headers or {})
        content = None
        if body is not None:
            content = json.dumps(body)
            request_headers['Content-Type'] = 'application/json'
        request = HttpRequest(method, self.url(path, api_version, params), content=content, headers=request_headers)
        waits_before = len(self.sdk.access_waits)
        with translated():
            answer = self._client_factory()._pipeline.run(  # pylint: disable=protected-access
                request, stream=False, connection_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT,
                connection_verify=self.sdk.session.connection_verify)
        new_waits = self.sdk.access_waits[waits_before:]
        return Response(answer, new_waits[-1] if new_waits else None)

    def request(self, method, path, api_version=None, body=None, params=None, headers=None):
        """(status, headers, json) for callers that read statuses themselves (Key Vault, Graph, MAA)."""
        response = self.send(method, path, api_version, body, params, headers)
        return response.status, response.headers, response.json

    def error_for(self, response, method, url):
        """The AzureApiError for a failed response; after a 403 that outlasted the grant wait, saying so."""
        exc = errors.from_response(response.status, response.text, response.headers, method, url)
        wait = response.access_wait
        if wait is not None and not wait.granted:
            exc.message = '%s (%s)' % (exc.message.rstrip(), wait.describe())
        return exc

    def checked(self, method, path, api_version=None, body=None, params=None, allow=()):
        """The Response of a request that succeeded (or answered a status in allow); else AzureApiError."""
        response = self.send(method, path, api_version, body, params)
        if not response.ok and response.status not in allow:
            raise self.error_for(response, method, self.url(path, api_version, params))
        return response

    # -- resources -----------------------------------------------------------------------------------------------
    def get(self, path, api_version, params=None):
        """The resource as a dict, or None when it does not exist (404)."""
        response = self.checked('GET', path, api_version, params=params, allow=(404,))
        return None if response.status == 404 else response.json

    def list(self, path, api_version, params=None):
        """Every item of a paged list (nextLink followed)."""
        items = []
        page = self.checked('GET', path, api_version, params=params).json or {}
        while True:
            items.extend(page.get('value') or [])
            if not page.get('nextLink'):
                return items
            page = self.checked('GET', page['nextLink']).json or {}

    def put(self, path, api_version, body, wait=True, timeout=1800):
        return self.write('PUT', path, api_version, body, wait, timeout)

    def patch(self, path, api_version, body, wait=True, timeout=1800):
        return self.write('PATCH', path, api_version, body, wait, timeout)

    def post(self, path, api_version, body=None, wait=True, timeout=1800):
        return self.write('POST', path, api_version, body, wait, timeout)

    def delete(self, path, api_version, wait=True, timeout=1800):
        return self.write('DELETE', path, api_version, None, wait, timeout)

    def write(self, method, path, api_version, body=None, wait=True, timeout=1800):
        """A write as an Operation; without wait nothing is polled, with wait ARM polling runs for at most
        timeout seconds (LroTimeout with the poll URL, LroFailed with Azure's error).  Deleting what does not
        exist is status NotFound, not an error."""
        url = self.url(path, api_version)
        first = self.checked(method, url, body=body, allow=(404,) if method == 'DELETE' else ())
        if first.status == 404:
            return Operation.finished('NotFound', None, url)
        started = first_answer(method, first.status, first.headers, first.json,
                               url if method in ('PUT', 'PATCH') else None)
        if started.done or not wait:
            return started
        from azure.core.polling import LROPoller  # pylint: disable=import-outside-toplevel

        poller = LROPoller(self._client_factory(), first.pipeline_response,
                           lambda response: _json(response.http_response), self.sdk.arm_polling())
        try:
            return waited(poller, started, timeout)
        except errors.AzureApiError as exc:
            if method == 'DELETE' and exc.status == 404:  # the operation's Location answers 404 once it is gone
                return Operation(True, 'Succeeded', None, started.poll_url, None, started.poll_mode)
            raise

    def wait_provisioned(self, path, api_version, timeout=1800):
        """Wait until a resource another run left in a transitional provisioningState reaches a terminal one
        (Failed or Canceled raise LroFailed); the resource, or None once it is gone."""
        deadline = time.monotonic() + timeout
        while True:
            resource = self.get(path, api_version)
            state = provisioning_state(resource) or 'Succeeded'
            if resource is None or is_terminal(state):
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise errors.LroTimeout('resource still %s after %ss' % (state, timeout), self.url(path, api_version),
                                        self.url(path, api_version), state)
            self.sdk.sleep(min(self.sdk.poll_interval, remaining))
        if resource is not None and canonical(state) != 'Succeeded':
            raise errors.LroFailed(200, 'ProvisioningState%s' % canonical(state), 'provisioningState is %s' % state,
                                   method='GET', url=self.url(path, api_version))
        return resource


class Response:
    """One answer: status, headers, text and JSON; access_wait when it came after waiting on a 403."""

    def __init__(self, pipeline_response, access_wait=None):
        self.pipeline_response = pipeline_response
        http = pipeline_response.http_response
        self.status = http.status_code
        self.headers = dict(http.headers or {})
        self.text = _text(http)
        self.access_wait = access_wait

    @property
    def json(self):
        try:
            return json.loads(self.text) if self.text and self.text.strip() else None
        except ValueError:
            return None

    @property
    def ok(self):
        return 200 <= self.status < 300

    def header(self, name):
        return header(self.headers, name)


def waited(poller, started, timeout):
    """Wait on an LROPoller for at most timeout seconds; the finished Operation."""
    from .clients import translated  # pylint: disable=import-outside-toplevel

    with translated(errors.LroFailed):
        poller.wait(timeout)
        if not poller.done():
            raise errors.LroTimeout('operation still %s after %ss; wait on poll_url to continue'
                                    % (poller.status(), timeout), started.poll_url, started.resource_url,
                                    poller.status())
        resource = poller.result()
    status = poller.status()
    return Operation(True, canonical(status) if status else 'Succeeded', resource, started.poll_url,
                     started.resource_url, started.poll_mode)


def _text(http_response):
    try:
        return http_response.text()
    except Exception:  # pylint: disable=broad-except
        return ''


def _json(http_response):
    text = _text(http_response)
    try:
        return json.loads(text) if text and text.strip() else None
    except ValueError:
        return None
