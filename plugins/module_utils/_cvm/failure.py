# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one exception the compute managers raise to stop a run with a message for the user. Pure."""

from __future__ import (absolute_import, division, print_function)

__metaclass__ = type


class ManagerFailure(Exception):
    """msg is the one-line message; extra is merged into the failed task's result."""

    def __init__(self, msg, **extra):
        super(ManagerFailure, self).__init__(msg)
        self.msg = msg
        self.extra = extra
