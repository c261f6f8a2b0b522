"""JSONL request log with secrets masked."""
from __future__ import annotations

import json
import threading
import time

_SECRET_FIELDS = {"client_secret", "password", "adminpassword", "access_token", "refresh_token",
                  "client_assertion", "authorization", "key_hsm", "d", "p", "q", "dp", "dq", "qi", "k", "value",
                  "target", "custom_data", "customdata"}
MASK = "***"


def mask(obj):
    if isinstance(obj, dict):
        return {k: (MASK if k.lower() in _SECRET_FIELDS and isinstance(v, str) else mask(v)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [mask(v) for v in obj]
    return obj


def _body_of(raw: bytes, content_type: str):
    if not raw:
        return None
    text = raw.decode("utf-8", "replace")
    if "json" in content_type or text[:1] in "{[":
        try:
            return mask(json.loads(text))
        except ValueError:
            pass
    if "x-www-form-urlencoded" in content_type or ("=" in text and "&" in text):
        pairs = []
        for part in text.split("&"):
            k, _sep, v = part.partition("=")
            pairs.append("%s=%s" % (k, MASK if k.lower() in _SECRET_FIELDS else v))
        return "&".join(pairs)
    return text[:2000]


class RequestLog:
    def __init__(self, path: str):
        self.path = path
        self.lock = threading.Lock()
        self.entries: list[dict] = []
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for the process lifetime

    @property
    def count(self) -> int:
        return len(self.entries)

    def write(self, req, resp, elapsed: float, service: str):
        resp_body = None
        if resp.raw is None and resp.body is not None and resp.status >= 400:
            resp_body = mask(resp.body)
        entry = {"seq": 0, "time": round(time.time(), 3), "service": service, "method": req.method,
                 "path": req.path, "api_version": req.api_version, "status": resp.status,
                 "host": req.host, "query": {k: v for k, v in req.query.items() if k != "api-version"},
                 "body": _body_of(req.body, req.headers.get("content-type", "")),
                 "error": resp_body, "duration_ms": round(elapsed * 1000, 2)}
        with self.lock:
            entry["seq"] = len(self.entries)
            self.entries.append(entry)
            self._file.write(json.dumps(entry) + "\n")
            self._file.flush()

    def since(self, seq: int) -> list[dict]:
        with self.lock:
            return list(self.entries[seq:])

    def close(self):
        with self.lock:
            self._file.close()
