# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Resource group: validation, comparison, bodies, results. Pure Python."""

from __future__ import (absolute_import, division, print_function)
from __future__ import annotations

__metaclass__ = type

import re

from .._azure.result import Changes, merge_tags

_RG_NAME = re.compile(r"^[-\w._()]{1,90}$")
_LOCATION = re.compile(r"^[a-z0-9]+$")


def normalize_location(location):
    return (location or "").replace(" ", "").lower()


def validate(params):
    errors = []
    name = params.get("name")
    if not isinstance(name, str) or not _RG_NAME.match(name) or name.endswith("."):
        errors.append("name %r must be 1-90 letters, digits, '-', '_', '.', '(' or ')' and not end with a period"
                      % (name,))
    if params.get("state", "present") == "present":
        location = params.get("location")
        if location is not None and not _LOCATION.match(normalize_location(location)):
            errors.append("location %r is not an Azure region name; use e.g. eastus or westeurope" % location)
        tags = params.get("tags") or {}
        if len(tags) > 50:
            errors.append("tags: %d given, Azure allows at most 50 per resource group" % len(tags))
    return errors


class Plan(Changes):
    """What differs between the group and the task (result.Changes) and the tags to set."""

    def __init__(self):
        super(Plan, self).__init__()
        self.tags = None


def compare(resource, params):
    plan = Plan()
    have_location = normalize_location(resource.get("location"))
    if params.get("location") is not None and normalize_location(params["location"]) != have_location:
        plan.changes["location"] = (have_location, normalize_location(params["location"]))
        plan.errors.append("location: resource group %s is in %s, you asked for %s; a resource group cannot move. "
                           "Use location: %s or another name" % (resource.get("name"), have_location,
                                                                 normalize_location(params["location"]), have_location))
    have_tags = dict(resource.get("tags") or {})
    plan.tags = merge_tags(params.get("tags"), have_tags, params.get("append_tags", True))
    if plan.tags != have_tags:
        plan.changes["tags"] = (have_tags, plan.tags)
    return plan


def create_body(params):
    body = {"location": normalize_location(params["location"])}
    if params.get("tags") is not None:
        body["tags"] = dict(params["tags"])
    return body


def to_result(resource):
    if not resource:
        return {}
    return {
        "id": resource.get("id"),
        "name": resource.get("name"),
        "location": normalize_location(resource.get("location")),
        "tags": dict(resource.get("tags") or {}),
        "provisioning_state": (resource.get("properties") or {}).get("provisioningState"),
    }
