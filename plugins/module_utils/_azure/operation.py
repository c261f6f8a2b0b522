# -*- coding: utf-8 -*-
# Copyright: contributors to confidential.azure
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The result of an ARM write (PUT / PATCH / DELETE / POST action), waited for or not. Pure Python.

Polling itself is azure-mgmt-core's ARM polling (clients.py); this file only reads Azure's FIRST answer so a
task run with ``wait: false`` can say whether the operation is still running and where a later task polls it
(Azure-AsyncOperation, else Location, else the resource's own provisioningState).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

SUCCEEDED = 'Succeeded'
TERMINAL = ('succeeded', 'failed', 'canceled', 'cancelled')


class Operation:
    """done, status, the resource (Azure's JSON) and, while running, where to poll."""

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

    @classmethod
    def finished(cls, status, resource=None, resource_url=None):
        return cls(True, status, resource, None, resource_url, None)


def header(headers, name):
    name = name.lower()
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return value
    return None


def provisioning_state(body):
    props = body.get('properties') if isinstance(body, dict) else None
    return props.get('provisioningState') if isinstance(props, dict) else None


def is_terminal(state):
    return str(state).lower() in TERMINAL


def canonical(state):
    text = str(state)
    return {'succeeded': 'Succeeded', 'failed': 'Failed', 'canceled': 'Canceled',
            'cancelled': 'Canceled'}.get(text.lower(), text)


def first_answer(method, status, headers, body, resource_url):
    """The Operation Azure's first answer to a write describes (ARM's asynchronous-operation rules)."""
    method = method.upper()
    async_url = header(headers, 'Azure-AsyncOperation')
    location = header(headers, 'Location')
    if method in ('PUT', 'PATCH'):
        state = provisioning_state(body)
        if async_url:
            done = state is not None and is_terminal(state) and status == 200
            return Operation(done, state or 'InProgress', body, async_url, resource_url, 'async')
        if status == 202 and location:
            return Operation(False, 'InProgress', body, location, resource_url, 'location')
        if state is not None and not is_terminal(state):
            return Operation(False, state, body, resource_url, resource_url, 'resource')
        return Operation(True, state or SUCCEEDED, body, None, resource_url, None)
    if status == 202 or (status == 201 and (async_url or location)):
        if async_url:
            mode = 'async-final-location' if location else 'async'
            return Operation(False, 'InProgress', body, async_url, resource_url, mode)
        if location:
            return Operation(False, 'InProgress', body, location, resource_url, 'location')
    return Operation(True, SUCCEEDED, body, None, resource_url, None)
