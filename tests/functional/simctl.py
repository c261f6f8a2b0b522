"""Start, stop and drive the local Azure simulator from tests and benchmarks (used by conftest.py)."""
from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIM_RUN = os.path.join(REPO, "tests", "simulator", "run")


class Simulator:
    """Handle on a running simulator process."""

    def __init__(self, proc, info: dict, cloud_env_file: str):
        self.proc = proc
        self.info = info
        self.cloud_env_file = cloud_env_file
        self.ca_bundle = info["cloud_environment"]["ca_bundle"]
        self.base_url = info["cloud_environment"]["arm_endpoint"].rstrip("/")
        self._ctx = ssl.create_default_context(cafile=self.ca_bundle)
        self._tokens: dict[str, str] = {}

    # -- conveniences for tests
    @property
    def subscription_id(self) -> str:
        return self.info["subscription_id"]

    @property
    def subscriptions(self) -> list[str]:
        """Every subscription the simulator serves, the default (``subscription_id``) first."""
        return list(self.info.get("subscriptions") or [self.info["subscription_id"]])

    @property
    def env(self) -> dict:
        i = self.info
        return {"AZURE_SUBSCRIPTION_ID": i["subscription_id"], "AZURE_CLIENT_ID": i["client_id"],
                "AZURE_SECRET": i["client_secret"], "AZURE_TENANT": i["tenant_id"],
                "AZURE_CLOUD_ENVIRONMENT": self.cloud_env_file, "REQUESTS_CA_BUNDLE": self.ca_bundle,
                "SSL_CERT_FILE": self.ca_bundle}

    def url(self, path: str) -> str:
        return self.base_url + "/" + path.lstrip("/")

    def admin(self, method: str, path: str, body=None, raw: bytes | None = None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.url(path), data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, context=self._ctx, timeout=30) as resp:
                text = resp.read()
        except urllib.error.HTTPError as err:
            text = err.read()
            raise AssertionError("simulator admin %s %s -> %s %s" % (method, path, err.code, text[:500]))
        return json.loads(text) if text else None

    def token(self, resource: str | None = None) -> str:
        """A bearer token from the simulator's token endpoint (client credentials)."""
        resource = resource or self.base_url
        if resource not in self._tokens:
            i = self.info
            form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": i["client_id"],
                                           "client_secret": i["client_secret"],
                                           "scope": resource.rstrip("/") + "/.default"}).encode()
            req = urllib.request.Request(self.url("/%s/oauth2/v2.0/token" % i["tenant_id"]), data=form,
                                         method="POST")
            with urllib.request.urlopen(req, context=self._ctx, timeout=30) as resp:
                self._tokens[resource] = json.loads(resp.read())["access_token"]
        return self._tokens[resource]

    def call(self, method: str, path: str, body=None, api_version: str | None = None, auth: bool = True,
             headers: dict | None = None, resource: str | None = None, raw: bytes | None = None):
        """One HTTPS request; returns (status, headers (lower-case keys), decoded JSON or None)."""
        url = path if path.startswith("https://") else self.url(path)
        if api_version:
            url += ("&" if "?" in url else "?") + "api-version=" + api_version
        hdrs = {"Content-Type": "application/json"}
        if auth:
            hdrs["Authorization"] = "Bearer " + self.token(resource)
        hdrs.update(headers or {})
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, context=self._ctx, timeout=60) as resp:
                status, rh, text = resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as err:
            status, rh, text = err.code, err.headers, err.read()
        try:
            doc = json.loads(text) if text else None
        except ValueError:
            doc = text.decode("utf-8", "replace")
        return status, {k.lower(): v for k, v in rh.items()}, doc

    def rg_path(self, rg: str) -> str:
        return "/subscriptions/%s/resourceGroups/%s" % (self.subscription_id, rg)

    def mark(self) -> int:
        return self.admin("GET", "/_sim/requests/mark")["mark"]

    def requests(self, since: int | None = None) -> list[dict]:
        return self.admin("GET", "/_sim/requests?since=%d" % (since or 0))["requests"]

    def fault(self, action: str = "status", method: str | None = None, path: str | None = None,
              count: int | None = 1, **kwargs) -> dict:
        """Inject a fault: action status|drop|delay|lro_fail|lro_hang; path is a regex on the URL path."""
        match = {k: v for k, v in (("method", method), ("path", path),
                                   ("api_version", kwargs.pop("api_version", None)),
                                   ("service", kwargs.pop("service", None))) if v}
        spec = dict(kwargs, action=action, match=match, count=count)
        return self.admin("POST", "/_sim/faults", spec)

    def clear_faults(self):
        self.admin("DELETE", "/_sim/faults")

    def set_delay(self, seconds: float, pattern: str | None = None):
        body = {"seconds": seconds}
        if pattern:
            body["pattern"] = pattern
        return self.admin("POST", "/_sim/delay", body)

    def reset(self):
        self.admin("POST", "/_sim/reset")

    def remove_principal(self, app_id: str):
        self.admin("DELETE", "/_sim/graph/servicePrincipals/%s" % app_id)

    def add_trust_root(self, pem: bytes):
        return self.admin("POST", "/_sim/attestation/trust-roots", raw=pem)


def start_simulator(tmpdir: str, extra_args=()) -> Simulator:
    proc = subprocess.Popen([sys.executable, SIM_RUN, "--port", "0", "--state-dir", tmpdir] + list(extra_args),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise RuntimeError("simulator did not start: %s" % proc.stderr.read())
    info = json.loads(line)
    cloud_env_file = os.path.join(tmpdir, "cloud_environment.json")
    with open(cloud_env_file, "w", encoding="utf-8") as f:
        json.dump(info["cloud_environment"], f)
    return Simulator(proc, info, cloud_env_file)


def stop_simulator(sim: Simulator):
    sim.proc.terminate()
    try:
        sim.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        sim.proc.kill()
        sim.proc.wait()
