# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the resource_group module does, given an AzureModule: validate (no request) -> one GET -> plan (pure)
-> write unless check mode -> the common result (result.Outcome)."""

from __future__ import (absolute_import, division, print_function)

__metaclass__ = type

from .._azure import api_versions as V
from .._azure.ids import resource_group_id
from .._azure.result import Outcome, invalid_parameters, join_errors
from . import group


def run_resource_group(m):
    p = m.params
    problems = group.validate(p)
    if problems:
        m.fail_json(msg=invalid_parameters(problems), errors=problems, changed=False)
    arm = m.arm
    rid = resource_group_id(m.subscription_id, p["name"])
    have = arm.get(rid, V.RESOURCES)
    out = Outcome("resource_group", m.diff_mode)
    if p["state"] == "absent":
        if have is not None:
            out.act("delete resource group %s and everything in it" % p["name"], group.to_result(have), {})
            if not m.check_mode:
                op = arm.delete(rid, V.RESOURCES, wait=p["wait"], timeout=p["wait_timeout"])
                if not op.done:
                    out.extra["operation"] = op.to_dict()
        return out.to_dict()
    if have is None:
        body = group.create_body(p)
        out.act("create resource group %s in %s" % (p["name"], body["location"]), {}, body)
        if not m.check_mode:
            out.resource = group.to_result(arm.put(rid, V.RESOURCES, body, wait=True,
                                                   timeout=p["wait_timeout"]).resource)
        return out.to_dict()
    plan = group.compare(have, p)
    if plan.errors:
        m.fail_json(msg=join_errors(plan.errors), errors=plan.errors, diff=plan.diff(), changed=False,
                    resource_group=group.to_result(have))
    resource = have
    if plan.changed:
        diff = plan.diff()
        out.act("update the tags of resource group %s" % p["name"], diff["before"], diff["after"])
        if not m.check_mode:
            resource = arm.patch(rid, V.RESOURCES, {"tags": plan.tags}, wait=True,
                                 timeout=p["wait_timeout"]).resource or resource
        else:
            resource = dict(have, tags=plan.tags)
    out.resource = group.to_result(resource)
    return out.to_dict()
