# -*- coding: utf-8 -*-
# Copyright: contributors to confidential.azure
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Azure error bodies turned into one exception type with a one-line summary. Pure Python."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json


class AzureError(Exception):
    """Base class of every error this layer raises on purpose."""

    def summary(self):
        return str(self)

    def to_dict(self):
        return dict(message=str(self))


class AzureAuthError(AzureError):
    """Credentials are missing, wrong, or a token could not be obtained."""


class AzureApiError(AzureError):
    """A non-success answer from an Azure REST API, in ARM's error shape."""

    def __init__(self, status, code, message, target=None, details=None, request_id=None, method=None, url=None):
        super(AzureApiError, self).__init__(message)
        self.status = status
        self.code = code or 'Unknown'
        self.message = message or ''
        self.target = target
        self.details = details or []
        self.request_id = request_id
        self.method = method
        self.url = url

    def summary(self):
        text = '%s %s' % (self.code, _one_line(self.message))
        if self.target:
            text += ' (target: %s)' % self.target
        if self.details:
            text += ' [details: %s]' % '; '.join(
                '%s: %s' % (d.get('code', '?'), _one_line(d.get('message', ''))) for d in self.details[:5])
        where = ' on %s %s' % (self.method, _path_only(self.url)) if self.method and self.url else ''
        text = 'Azure API error %s%s: %s' % (self.status, where, text)
        if self.request_id:
            text += ' (x-ms-request-id %s)' % self.request_id
        return text

    def __str__(self):
        return self.summary()

    def to_dict(self):
        return dict(status=self.status, code=self.code, message=self.message, target=self.target,
                    details=self.details, request_id=self.request_id)


class LroFailed(AzureApiError):
    """A long-running operation ended Failed or Canceled."""


class LroTimeout(AzureError):
    """A long-running operation did not finish in time; poll_url lets a later task wait for it."""

    def __init__(self, message, poll_url=None, resource_url=None, last_status=None):
        super(LroTimeout, self).__init__(message)
        self.poll_url = poll_url
        self.resource_url = resource_url
        self.last_status = last_status

    def to_dict(self):
        return dict(message=str(self), poll_url=self.poll_url, resource_url=self.resource_url,
                    last_status=self.last_status)


def _one_line(text):
    return ' '.join(str(text).split())


def _path_only(url):
    # Never echo query strings (they may carry signatures) in messages.
    return url.split('?', 1)[0]


def _details(raw):
    out = []
    for item in raw or []:
        if isinstance(item, dict):
            out.append(dict(code=item.get('code'), message=item.get('message'), target=item.get('target')))
    return out


def from_response(status, body, headers=None, method=None, url=None):
    """Build an AzureApiError from an HTTP status, a body (bytes, text or parsed JSON) and headers."""
    headers = headers or {}
    request_id = _header(headers, 'x-ms-request-id') or _header(headers, 'request-id')
    data = body
    if isinstance(body, bytes):
        body = body.decode('utf-8', 'replace')
    if isinstance(body, str):
        try:
            data = json.loads(body) if body.strip() else None
        except ValueError:
            data = None
    code, message, target, details = None, None, None, None
    if isinstance(data, dict):
        err = data.get('error', data)
        if isinstance(err, dict):
            code, message, target = err.get('code'), err.get('message'), err.get('target')
            details = _details(err.get('details'))
            inner = err.get('innererror') or err.get('innerError')
            if isinstance(inner, dict) and inner.get('code') and inner.get('code') != code:
                details = (details or []) + [dict(code=inner.get('code'), message=inner.get('message'))]
        elif isinstance(err, str):  # Entra ID: {"error": "invalid_client", "error_description": "..."}
            code, message = err, data.get('error_description')
    if not message:
        text = body if isinstance(body, str) else ''
        message = _one_line(text)[:300] or 'HTTP %s with no error body' % status
    if not code:
        code = {400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 409: 'Conflict',
                429: 'TooManyRequests'}.get(status, 'HttpError%s' % status)
    return AzureApiError(status, code, message, target, details, request_id, method, url)


def _header(headers, name):
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None
