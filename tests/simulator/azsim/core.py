"""Request/response objects, ARM error helpers and deterministic ids."""
from __future__ import annotations

import json
import uuid
from urllib.parse import parse_qs, unquote, urlsplit

NAMESPACE = uuid.UUID("6a1f3c1e-4d0b-5a6e-9c1a-a25e0c0f7d11")


def det_uuid(*parts: str) -> str:
    """Deterministic UUID derived from ``parts``."""
    return str(uuid.uuid5(NAMESPACE, "/".join(str(p) for p in parts)))


class Request:
    __slots__ = ("method", "raw_path", "path", "query", "headers", "body", "host", "_json", "client")

    def __init__(self, method: str, raw_path: str, headers, body: bytes, host: str, client: str = ""):
        self.method = method.upper()
        self.raw_path = raw_path
        parts = urlsplit(raw_path)
        self.path = unquote(parts.path) or "/"
        self.query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.body = body or b""
        self.host = host
        self.client = client
        self._json = None

    @property
    def api_version(self):
        return self.query.get("api-version")

    def json(self):
        if self._json is None:
            if not self.body.strip():
                self._json = {}
            else:
                self._json = json.loads(self.body.decode("utf-8"))
        return self._json


class Response:
    __slots__ = ("status", "body", "headers", "drop", "raw", "content_type")

    def __init__(self, status: int = 200, body=None, headers: dict | None = None, raw: bytes | None = None,
                 content_type: str = "application/json; charset=utf-8", drop: bool = False):
        self.status = status
        self.body = body
        self.headers = dict(headers or {})
        self.raw = raw
        self.content_type = content_type
        self.drop = drop

    def payload(self) -> bytes:
        if self.raw is not None:
            return self.raw
        if self.body is None:
            return b""
        return json.dumps(self.body, separators=(",", ":")).encode("utf-8")


class ApiError(Exception):
    """An error the simulator answers with (ARM envelope unless ``body`` is given)."""

    def __init__(self, status: int, code: str, message: str, target=None, details=None, headers=None, body=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.target = target
        self.details = details
        self.headers = headers or {}
        self.body = body

    def to_response(self) -> Response:
        if self.body is not None:
            return Response(self.status, self.body, self.headers)
        err = {"code": self.code, "message": self.message}
        if self.target is not None:
            err["target"] = self.target
        if self.details:
            err["details"] = self.details
        return Response(self.status, {"error": err}, self.headers)


def bad_request(code: str, message: str, target=None, details=None) -> ApiError:
    return ApiError(400, code, message, target, details)
