# -*- coding: utf-8 -*-
# Copyright: contributors to confidential.azure
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Azure resource ids. Pure Python."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    from urllib.parse import quote
except ImportError:  # pragma: no cover
    from urllib import quote  # type: ignore


def resource_group_id(subscription_id, resource_group):
    return '/subscriptions/%s/resourceGroups/%s' % (subscription_id, quote(resource_group, safe=''))


def resource_id(subscription_id, resource_group, provider, resource_type, name, *children):
    """'/subscriptions/s/resourceGroups/rg/providers/Microsoft.X/type/name[/childType/childName...]'."""
    if len(children) % 2:
        raise ValueError('children must come in (type, name) pairs')
    path = '%s/providers/%s/%s/%s' % (resource_group_id(subscription_id, resource_group), provider, resource_type,
                                      quote(name, safe=''))
    for index in range(0, len(children), 2):
        path += '/%s/%s' % (children[index], quote(children[index + 1], safe=''))
    return path


def parse_resource_id(rid):
    """Split an ARM id into subscription, resource_group, provider, type, name (lower-level keys too)."""
    parts = [p for p in (rid or '').split('/') if p]
    out = {}
    lowered = [p.lower() for p in parts]
    if 'subscriptions' in lowered:
        out['subscription_id'] = parts[lowered.index('subscriptions') + 1]
    if 'resourcegroups' in lowered:
        out['resource_group'] = parts[lowered.index('resourcegroups') + 1]
    if 'providers' in lowered:
        start = lowered.index('providers')
        rest = parts[start + 1:]
        if rest:
            out['provider'] = rest[0]
            pairs = rest[1:]
            if len(pairs) >= 2:
                out['type'] = pairs[0]
                out['name'] = pairs[1]
                out['children'] = [(pairs[i], pairs[i + 1]) for i in range(2, len(pairs) - 1, 2)]
    return out


def same_id(left, right):
    """ARM ids compare case-insensitively."""
    if left is None or right is None:
        return left is right
    return left.rstrip('/').lower() == right.rstrip('/').lower()
