# -*- coding: utf-8 -*-
# Copyright: contributors to confidential.azure
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ARM long-running operations: where to poll and what a poll answer means. Pure Python.

ARM answers a long PUT/PATCH with 200/201 and an Azure-AsyncOperation (or Location) header and a
provisioningState; a long DELETE or POST action with 202 and Location / Azure-AsyncOperation.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

SUCCEEDED = 'Succeeded'
TERMINAL = ('succeeded', 'failed', 'canceled', 'cancelled')


class LroResult:
    """The state of an operation after the request (and, when waited for, after polling)."""

    def __init__(self, done, status, resource=None, poll_url=None, resource_url=None, poll_mode=None):
        self.done = done
        self.status = status
        self.resource = resource
        self.poll_url = poll_url
        self.resource_url = resource_url
        self.poll_mode = poll_mode

    def to_dict(self):
        """What a later task needs to wait on (no secrets: operation URLs carry no signature in ARM)."""
        return dict(done=self.done, status=self.status, poll_url=self.poll_url, resource_url=self.resource_url,
                    poll_mode=self.poll_mode)


class PollStep:
    def __init__(self, done, status, error=None, body=None):
        self.done = done
        self.status = status
        self.error = error
        self.body = body

    @property
    def failed(self):
        return self.done and self.status.lower() != 'succeeded'


def header(headers, name):
    name = name.lower()
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return value
    return None


def provisioning_state(body):
    if isinstance(body, dict):
        props = body.get('properties')
        if isinstance(props, dict) and props.get('provisioningState'):
            return props['provisioningState']
    return None


def start(method, status, headers, body, resource_url):
    """Interpret the first answer of a mutating request; returns an LroResult (done or not)."""
    method = method.upper()
    async_url = header(headers, 'Azure-AsyncOperation')
    location = header(headers, 'Location')
    if method in ('PUT', 'PATCH'):
        state = provisioning_state(body)
        if async_url:
            done = state is not None and state.lower() in TERMINAL and status == 200
            return LroResult(done, state or 'InProgress', body, async_url, resource_url, 'async')
        if status == 202 and location:
            return LroResult(False, 'InProgress', body, location, resource_url, 'location')
        if state is not None and state.lower() not in TERMINAL:
            return LroResult(False, state, body, resource_url, resource_url, 'resource')
        return LroResult(True, state or SUCCEEDED, body, None, resource_url, None)
    # DELETE and POST actions
    if status == 202 or (status == 201 and (async_url or location)):
        if async_url:
            return LroResult(False, 'InProgress', body, async_url, resource_url, 'async-final-location'
                             if location else 'async')
        if location:
            return LroResult(False, 'InProgress', body, location, resource_url, 'location')
    return LroResult(True, SUCCEEDED, body, None, resource_url, None)


def interpret_poll(mode, status, body):
    """Interpret one poll answer. mode is 'async', 'async-final-location', 'location' or 'resource'."""
    if mode in ('async', 'async-final-location'):
        text = (body or {}).get('status', 'InProgress') if isinstance(body, dict) else 'InProgress'
        if str(text).lower() in TERMINAL:
            return PollStep(True, _canonical(text), (body or {}).get('error'), body)
        return PollStep(False, text, None, body)
    if mode == 'location':
        if status == 202:
            return PollStep(False, 'InProgress', None, body)
        if status == 404:  # a DELETE's Location answers 404 once the resource is gone
            return PollStep(True, SUCCEEDED, None, None)
        return PollStep(True, SUCCEEDED, None, body)
    if mode == 'resource':
        if status == 404:
            return PollStep(True, 'Failed', dict(code='ResourceNotFound',
                                                 message='the resource disappeared while being provisioned'), None)
        state = provisioning_state(body) or SUCCEEDED
        if state.lower() in TERMINAL:
            error = None
            if state.lower() != 'succeeded':
                error = dict(code='ProvisioningState%s' % _canonical(state),
                             message='provisioningState is %s' % state)
            return PollStep(True, _canonical(state), error, body)
        return PollStep(False, state, None, body)
    raise ValueError('unknown poll mode %r' % mode)


def _canonical(text):
    text = str(text)
    return {'succeeded': 'Succeeded', 'failed': 'Failed', 'canceled': 'Canceled',
            'cancelled': 'Canceled'}.get(text.lower(), text)
