"""Fault injection rules, scripted by tests through ``/_sim/faults``.

A rule: ``{"match": {"method": "PUT", "path": "<regex on the URL path>", "api_version": "...",
"service": "arm|keyvault|entra|graph|attestation"}, "action": "status|drop|delay|lro_fail|lro_hang",
"status": 429, "retry_after": 2, "seconds": 1.5, "error": {"code": ..., "message": ...}, "count": 2}``.
``count`` (default 1) is how many matching requests the rule affects; ``null`` or 0 = unlimited.
``lro_fail`` / ``lro_hang`` apply to the long-running operation the matching request starts."""
from __future__ import annotations

import itertools
import re
import threading
import time

from .core import ApiError, Response

ACTIONS = ("status", "drop", "delay", "lro_fail", "lro_hang")
_DEFAULT_ERRORS = {
    429: ("TooManyRequests", "The request is being throttled as the limit has been reached for operation type - "
          "Read_ObservationWindow_00:05:00. For more information, see - https://aka.ms/srpthrottlinglimits"),
    500: ("InternalServerError", "Encountered internal server error. Diagnostic information: timestamp '%s', "
          "subscription id '', tracking id '', request correlation id ''."),
    502: ("BadGateway", "The server received an invalid response from an upstream server."),
    503: ("ServiceUnavailable", "The server (leader) is currently unable to receive requests. Please retry your "
          "request."),
    504: ("GatewayTimeout", "The gateway did not receive a response from 'Microsoft.Compute' within the specified "
          "time period."),
}


class Fault:
    def __init__(self, fid: int, spec: dict):
        self.id = fid
        self.match = dict(spec.get("match") or {})
        self.action = spec.get("action", "status")
        if self.action not in ACTIONS:
            raise ApiError(400, "InvalidFault", "action must be one of %s" % ", ".join(ACTIONS))
        self.status = int(spec.get("status", 500))
        self.retry_after = spec.get("retry_after")
        self.seconds = float(spec.get("seconds", 0))
        self.error = spec.get("error")
        count = spec.get("count", 1)
        self.remaining = None if not count else int(count)
        self.hits = 0
        self._path = re.compile(self.match["path"], re.I) if self.match.get("path") else None

    def matches(self, req, service: str) -> bool:
        m = self.match
        if m.get("method") and m["method"].upper() != req.method:
            return False
        if m.get("service") and m["service"] != service:
            return False
        if m.get("api_version") and m["api_version"] != req.api_version:
            return False
        if self._path is not None and not self._path.search(req.path):
            return False
        return True

    def to_dict(self) -> dict:
        return {"id": self.id, "match": self.match, "action": self.action, "status": self.status,
                "retry_after": self.retry_after, "seconds": self.seconds, "error": self.error,
                "remaining": self.remaining, "hits": self.hits}

    def apply_before(self, req):
        """Return a Response to short-circuit the request, or None to continue."""
        if self.action == "drop":
            return Response(0, drop=True)
        if self.action == "delay":
            time.sleep(self.seconds)
            return None
        if self.action == "status":
            code, message = _DEFAULT_ERRORS.get(self.status, ("Error%d" % self.status, "Injected failure."))
            if "%s" in message:
                message = message % time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
            err = dict(self.error or {"code": code, "message": message})
            headers = {}
            if self.retry_after is not None:
                headers["Retry-After"] = str(self.retry_after)
            elif self.status == 429:
                headers["Retry-After"] = "1"
            return Response(self.status, {"error": err}, headers)
        return None  # lro_* act later

    def lro_error(self) -> dict:
        return dict(self.error or {"code": "InternalExecutionError", "message": "An internal execution error "
                                   "occurred. Please retry later."})


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.rules: list[Fault] = []
        self._ids = itertools.count(1)

    def add(self, spec: dict) -> dict:
        fault = Fault(next(self._ids), spec)
        with self.lock:
            self.rules.append(fault)
        return fault.to_dict()

    def list(self) -> list[dict]:
        with self.lock:
            return [f.to_dict() for f in self.rules]

    def clear(self):
        with self.lock:
            self.rules = []

    def take(self, req, service: str = ""):
        if not self.rules:
            return None
        with self.lock:
            for fault in self.rules:
                if fault.matches(req, service):
                    fault.hits += 1
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            self.rules.remove(fault)
                    return fault
        return None
