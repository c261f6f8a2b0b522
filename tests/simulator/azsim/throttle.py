"""Request throttling as Azure documents it: ARM's token buckets, then Compute's call-rate policies.

``--throttle-scale S`` divides every bucket size and every Compute window length by S while keeping the sustained
rates Azure's: bursts reach the limits S times sooner, long runs are throttled as on Azure. Scale 1 is Azure."""
from __future__ import annotations

import collections
import datetime
import json
import math
import threading
import time

from .core import ApiError

# Source: Microsoft doc "Understand how Azure Resource Manager throttles requests" (regional throttling and token
# bucket algorithm): per subscription per principal, and per tenant, reads 250 / 25 per second, deletes and writes
# 200 / 10 per second; a global subscription limit of 15 times the per-principal one for all principals together.
ARM_BUCKETS = {"reads": (250, 25.0), "writes": (200, 10.0), "deletes": (200, 10.0)}
GLOBAL_FACTOR = 15

# Source: Microsoft doc "Troubleshooting API throttling errors" (Compute) and its recorded headers
# ("Microsoft.Compute/HighCostGet3Min;139,Microsoft.Compute/HighCostGet30Min;699", "PutVM3Min;239,
# PutVM30Min;1199", "LowCostGet3Min;3999,LowCostGet30Min;31999"): named policies over 3- and 30-minute windows,
# per subscription and region. The disk policies (CreateUpdateDisks, DeleteDisks, GetDisk) carry the names the
# disk resource provider's x-ms-ratelimit-remaining-resource headers use; their sizes are this simulator's estimate.
COMPUTE_POLICIES = {
    "PutVM": ((240, 180), (1200, 1800)),
    "DeleteVM": ((240, 180), (1200, 1800)),
    "LowCostGet": ((4000, 180), (32000, 1800)),
    "HighCostGet": ((140, 180), (700, 1800)),
    "CreateUpdateDisks": ((1000, 180), (8000, 1800)),
    "DeleteDisks": ((1000, 180), (8000, 1800)),
    "GetDisk": ((15000, 180), (120000, 1800)),
    "GetOperation": ((15000, 180), (30000, 1800)),
}
_DISK_TYPES = ("disks", "diskencryptionsets", "snapshots", "diskaccesses")


def _kind(method: str) -> str:
    m = method.upper()
    if m in ("GET", "HEAD"):
        return "reads"
    return "deletes" if m == "DELETE" else "writes"


def compute_policy(method: str, path: str) -> str | None:
    """The Compute policy family a request counts against (None when Compute does not see it)."""
    segs = [s.lower() for s in path.split("?")[0].split("/") if s]
    if "microsoft.compute" not in segs:
        return None
    rest = segs[segs.index("microsoft.compute") + 1:]
    if not rest:
        return None
    m = method.upper()
    if rest[0] == "locations" and len(rest) >= 3 and rest[2] in ("operations", "operationresults"):
        return "GetOperation"
    if rest[0] in _DISK_TYPES:
        return "GetDisk" if m in ("GET", "HEAD") else "DeleteDisks" if m == "DELETE" else "CreateUpdateDisks"
    if rest[0] != "virtualmachines":
        return None       # resource SKUs, images, usages...: no published policy to mirror
    if m in ("GET", "HEAD"):
        return "HighCostGet" if len(rest) == 1 else "LowCostGet"      # a list of VMs, or one VM (and its views)
    return "DeleteVM" if m == "DELETE" else "PutVM"


class _Bucket:
    __slots__ = ("size", "rate", "tokens", "stamp")

    def __init__(self, size: float, rate: float):
        self.size, self.rate, self.tokens, self.stamp = size, rate, size, time.monotonic()

    def refill(self, now: float):
        self.tokens = min(self.size, self.tokens + max(0.0, now - self.stamp) * self.rate)
        self.stamp = max(self.stamp, now)

    def wait(self) -> float:
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


class _Window:
    __slots__ = ("limit", "seconds", "hits")

    def __init__(self, limit: int, seconds: float):
        self.limit, self.seconds, self.hits = limit, seconds, collections.deque()

    def trim(self, now: float):
        while self.hits and self.hits[0] <= now - self.seconds:
            self.hits.popleft()

    def remaining(self) -> int:
        return max(0, self.limit - len(self.hits))

    def wait(self, now: float) -> float:
        return 0.0 if len(self.hits) < self.limit else self.hits[0] + self.seconds - now


def _utc(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).isoformat()


class Throttle:
    def __init__(self, scale: float = 1.0):
        if scale < 1:
            raise ValueError("--throttle-scale must be >= 1")
        self.scale = float(scale)
        self.lock = threading.Lock()
        self._buckets: dict[tuple, _Bucket] = {}
        self._windows: dict[tuple, _Window] = {}

    def reset(self):
        with self.lock:
            self._buckets.clear()
            self._windows.clear()

    def _bucket(self, key, kind, factor=1):
        b = self._buckets.get(key)
        if b is None:
            size, rate = ARM_BUCKETS[kind]
            b = self._buckets[key] = _Bucket(max(1.0, size * factor / self.scale), rate * factor)
        return b

    def admit_arm(self, method: str, path: str, oid: str) -> dict:
        """Take one token from the caller's and the subscription's bucket; 429 when either is empty.

        Source: Microsoft doc "Understand how Azure Resource Manager throttles requests" (429 with Retry-After;
        x-ms-ratelimit-remaining-subscription-reads/-writes/-deletes, x-ms-ratelimit-remaining-tenant-*) and public
        issue webdevops/azure-metrics-exporter#36 (error code SubscriptionRequestsThrottled)."""
        segs = [s for s in path.split("?")[0].split("/") if s]
        sub = segs[1].lower() if len(segs) >= 2 and segs[0].lower() == "subscriptions" else None
        kind = _kind(method)
        level = "subscription" if sub else "tenant"
        now = time.monotonic()
        with self.lock:
            mine = self._bucket((level, sub, (oid or "").lower(), kind), kind)
            shared = self._bucket((level, sub, "*", kind), kind, GLOBAL_FACTOR) if sub else None
            for b in (mine, shared):
                if b is not None:
                    b.refill(now)
            blocked = [b for b in (mine, shared) if b is not None and b.tokens < 1]
            header = "x-ms-ratelimit-remaining-%s-%s" % (level, kind)
            if blocked:
                wait = max(1, math.ceil(max(b.wait() for b in blocked)))
                noun = kind[:-1]
                msg = ("Number of '%s' requests for subscription '%s' actor '%s' exceeded. Please try again after "
                       "'%d' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling"
                       % (noun, sub, oid, wait)) if sub else (
                    "Number of '%s' requests for tenant actor '%s' exceeded. Please try again after '%d' seconds "
                    "after additional tokens are available. Refer to https://aka.ms/arm-throttling" % (noun, oid, wait))
                code = "SubscriptionRequestsThrottled" if sub else "TenantRequestsThrottled"
                raise ApiError(429, code, msg, headers={"Retry-After": str(wait), header: "0"})
            for b in (mine, shared):
                if b is not None:
                    b.tokens -= 1
            return {header: str(int(mine.tokens))}

    def admit_compute(self, method: str, path: str) -> dict:
        """Count the request against its Compute policies; 429 OperationNotAllowed / TooManyRequests when one
        window is full.

        Source: Microsoft doc "Troubleshooting API throttling errors" (x-ms-ratelimit-remaining-resource
        "<RP>/<policy>;<count>" on every answer, the 429 body with operationGroup/startTime/endTime/
        allowedRequestCount/measuredRequestCount and Retry-After)."""
        family = compute_policy(method, path)
        if family is None:
            return {}
        segs = [s.lower() for s in path.split("?")[0].split("/") if s]
        sub = segs[1] if len(segs) >= 2 else ""
        now = time.monotonic()
        with self.lock:
            windows = []
            for limit, seconds in COMPUTE_POLICIES[family]:
                name = "%s%dMin" % (family, seconds // 60)
                key = (sub, name)
                w = self._windows.get(key)
                if w is None:
                    w = self._windows[key] = _Window(max(1, math.ceil(limit / self.scale)), seconds / self.scale)
                w.trim(now)
                windows.append((name, w))
            full = [(n, w) for n, w in windows if w.remaining() == 0]
            if full:
                name, w = max(full, key=lambda nw: nw[1].wait(now))
                wait = max(1, math.ceil(w.wait(now)))
                header = ",".join("Microsoft.Compute/%s;%d" % (n, x.remaining()) for n, x in windows)
                wall = time.time()
                detail = json.dumps({"operationGroup": name, "startTime": _utc(wall - (now - w.hits[0])),
                                     "endTime": _utc(wall + wait), "allowedRequestCount": w.limit,
                                     "measuredRequestCount": len(w.hits) + 1}, separators=(",", ":"))
                raise ApiError(429, "OperationNotAllowed", "The server rejected the request because too many "
                               "requests have been received for this subscription.",
                               details=[{"code": "TooManyRequests", "target": name, "message": detail}],
                               headers={"Retry-After": str(wait), "x-ms-ratelimit-remaining-resource": header})
            for _n, w in windows:
                w.hits.append(now)
            return {"x-ms-ratelimit-remaining-resource":
                    ",".join("Microsoft.Compute/%s;%d" % (n, w.remaining()) for n, w in windows),
                    "x-ms-request-charge": "1"}
