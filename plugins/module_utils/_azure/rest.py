# -*- coding: utf-8 -*-
# Copyright: contributors to confidential.azure
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One REST client for ARM, Key Vault and Graph: bearer tokens, retries, long-running operations, errors.

It speaks JSON through azure-core's pipeline (imported when the first request is sent) and returns plain
dicts, so callers never depend on SDK model classes or versions.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time

try:
    from urllib.parse import quote, urlencode
except ImportError:  # pragma: no cover
    from urllib import quote, urlencode  # type: ignore

from . import access, errors, lro
from .retry import RetryPolicy

USER_AGENT = 'confidential.azure/0.1.0'


class Response:
    def __init__(self, status, headers, text):
        self.status = status
        self.headers = headers
        self.text = text
        self._json = None
        self._parsed = False
        self.access_wait = None  # access.AccessWait when this answer came after waiting on 403

    @property
    def json(self):
        if not self._parsed:
            self._parsed = True
            try:
                self._json = json.loads(self.text) if self.text and self.text.strip() else None
            except ValueError:
                self._json = None
        return self._json

    @property
    def ok(self):
        return 200 <= self.status < 300

    def header(self, name):
        return lro.header(self.headers, name)


class RestClient:
    """Requests against one service (base_url) with a token for one scope."""

    def __init__(self, base_url, scope, credential_factory, connection_verify=True, retry=None,
                 sleep=time.sleep, poll_interval=5.0, transport=None, timeout=120, access_timeout=0):
        self.base_url = base_url.rstrip('/')
        self.scope = scope
        self._credential_factory = credential_factory
        self._verify = connection_verify
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self.poll_interval = poll_interval
        self._transport = transport
        self._timeout = timeout
        self._pipeline = None
        # Seconds a 403 "lacks permission" answer is retried for a fresh grant to take effect (0: not at all).
        self.access_timeout = access_timeout
        self.access_waits = []

    # -- transport -------------------------------------------------------------------------------------------
    def _client(self):
        if self._pipeline is None:
            from azure.core import PipelineClient  # pylint: disable=import-outside-toplevel
            from azure.core.pipeline import policies  # pylint: disable=import-outside-toplevel

            transport = self._transport
            if transport is None:
                from azure.core.pipeline.transport import RequestsTransport  # pylint: disable=import-outside-toplevel
                transport = RequestsTransport(connection_verify=self._verify)
            self._pipeline = PipelineClient(self.base_url, transport=transport, policies=[
                policies.HeadersPolicy({'Accept': 'application/json'}),
                policies.UserAgentPolicy(USER_AGENT),
                policies.BearerTokenCredentialPolicy(self._credential_factory(), self.scope),
            ])
        return self._pipeline

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

    def _send_once(self, method, url, body, headers):
        from azure.core.rest import HttpRequest  # pylint: disable=import-outside-toplevel
        from azure.core.exceptions import ClientAuthenticationError  # pylint: disable=import-outside-toplevel

        request_headers = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body)
            request_headers['Content-Type'] = 'application/json'
        request = HttpRequest(method, url, content=data, headers=request_headers)
        try:
            http = self._client().send_request(request, stream=False, connection_timeout=30,
                                               read_timeout=self._timeout)
        except ClientAuthenticationError as exc:
            raise errors.AzureAuthError('could not get an access token for %s: %s'
                                        % (self.scope, ' '.join(str(exc.message or exc).split())[:500]))
        return Response(http.status_code, dict(http.headers), http.text())

    def send(self, method, path, api_version=None, body=None, params=None, headers=None):
        """Send with retries (429/5xx with Retry-After, dropped connections) and, when access_timeout is set,
        with a bounded backoff on 403 answers saying a permission is missing (a grant still propagating).
        Returns the last Response; one that came after waiting carries .access_wait."""
        url = self.url(path, api_version, params)
        response = self._send_retrying(method, url, body, headers)
        if not (self.access_timeout and access.is_access_denied(response.status, response.text)):
            return response
        wait = access.AccessWait(method, errors._path_only(url), access.missing_permission(response.text),
                                 access.caller_object_id(response.text))
        self.access_waits.append(wait)
        for step in access.delays(self.access_timeout):
            self._sleep(step)
            wait.waited += step
            wait.attempts += 1
            response = self._send_retrying(method, url, body, headers)
            if not access.is_access_denied(response.status, response.text):
                wait.granted = True
                break
        response.access_wait = wait
        return response

    def error_for(self, response, method, url):
        """The AzureApiError for a failed response; after a 403 that outlasted the wait, saying so."""
        exc = errors.from_response(response.status, response.text, response.headers, method, url)
        wait = response.access_wait
        if wait is not None and not wait.granted:
            exc.message = '%s (%s)' % (exc.message.rstrip(), wait.describe())
        return exc

    def _send_retrying(self, method, url, body, headers):
        from azure.core.exceptions import ServiceRequestError, ServiceResponseError  # pylint: disable=import-outside-toplevel

        attempt = 0
        while True:
            try:
                response = self._send_once(method, url, body, headers)
            except (ServiceRequestError, ServiceResponseError) as exc:
                if not self.retry.should_retry(attempt, connection_error=True):
                    raise errors.AzureApiError(0, 'ConnectionError', 'no answer from %s after %d attempts: %s'
                                               % (self.base_url, attempt + 1, exc), method=method, url=url)
                self._sleep(self.retry.delay(attempt))
                attempt += 1
                continue
            if response.ok or not self.retry.should_retry(attempt, status=response.status):
                return response
            self._sleep(self.retry.delay(attempt, response.header('Retry-After')))
            attempt += 1

    def request(self, method, path, api_version=None, body=None, params=None, headers=None):
        """(status, headers, json) for callers that handle statuses themselves (Key Vault, Graph)."""
        response = self.send(method, path, api_version, body, params, headers)
        return response.status, response.headers, response.json

    def _checked(self, method, path, api_version, body=None, params=None, allow=()):
        response = self.send(method, path, api_version, body, params)
        if not response.ok and response.status not in allow:
            raise self.error_for(response, method, self.url(path, api_version, params))
        return response

    # -- resources -------------------------------------------------------------------------------------------
    def get(self, path, api_version, params=None):
        """The resource as a dict, or None when it does not exist (404)."""
        response = self._checked('GET', path, api_version, params=params, allow=(404,))
        return None if response.status == 404 else response.json

    def list(self, path, api_version, params=None):
        items = []
        response = self._checked('GET', path, api_version, params=params)
        while True:
            page = response.json or {}
            items.extend(page.get('value') or [])
            next_link = page.get('nextLink')
            if not next_link:
                return items
            response = self._checked('GET', next_link, None)

    def put(self, path, api_version, body, wait=True, timeout=1800):
        return self._mutate('PUT', path, api_version, body, wait, timeout)

    def patch(self, path, api_version, body, wait=True, timeout=1800):
        return self._mutate('PATCH', path, api_version, body, wait, timeout)

    def post(self, path, api_version, body=None, wait=True, timeout=1800):
        return self._mutate('POST', path, api_version, body, wait, timeout)

    def delete(self, path, api_version, wait=True, timeout=1800):
        response = self._checked('DELETE', path, api_version, allow=(404,))
        if response.status == 404:
            return lro.LroResult(True, 'NotFound', None, None, self.url(path, api_version))
        result = lro.start('DELETE', response.status, response.headers, response.json, None)
        return self.wait(result, timeout) if wait and not result.done else result

    def _mutate(self, method, path, api_version, body, wait, timeout):
        response = self._checked(method, path, api_version, body)
        resource_url = self.url(path, api_version) if method != 'POST' else None
        result = lro.start(method, response.status, response.headers, response.json, resource_url)
        return self.wait(result, timeout) if wait and not result.done else result

    def wait(self, result, timeout=1800):
        """Poll until the operation ends; raises LroFailed or LroTimeout. result: LroResult or its to_dict()."""
        if isinstance(result, dict):
            result = lro.LroResult(result.get('done', False), result.get('status', 'InProgress'), None,
                                   result.get('poll_url'), result.get('resource_url'),
                                   result.get('poll_mode') or 'async')
        if result.done:
            return result
        deadline = time.monotonic() + timeout
        last = result.status
        while True:
            response = self.send('GET', result.poll_url)
            if not response.ok and response.status != 404:
                raise errors.from_response(response.status, response.text, response.headers, 'GET', result.poll_url)
            step = lro.interpret_poll(result.poll_mode, response.status, response.json)
            last = step.status
            if step.done:
                return self._finish(result, step)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise errors.LroTimeout('operation still %s after %ss; wait on poll_url to continue'
                                        % (last, timeout), result.poll_url, result.resource_url, last)
            retry_after = response.header('Retry-After')
            interval = self.retry.delay(0, retry_after) if retry_after else self.poll_interval
            self._sleep(max(0.0, min(interval, remaining)))

    def _finish(self, result, step):
        if step.failed:
            err = step.error or {}
            raise errors.LroFailed(200, err.get('code') or 'OperationFailed', err.get('message') or
                                   'the operation ended %s' % step.status, err.get('target'),
                                   errors._details(err.get('details')), method='LRO', url=result.poll_url)
        resource = step.body
        if result.poll_mode in ('async',) and result.resource_url:
            resource = self.get(result.resource_url, None)
        elif result.poll_mode == 'async-final-location':
            resource = None
        return lro.LroResult(True, step.status, resource, result.poll_url, result.resource_url, result.poll_mode)
