"""``--env-file PATH``: the simulator's connection as a shell file of exports, so ``source PATH`` is all a user does.

Beside PATH goes the cloud file AZURE_CLOUD_ENVIRONMENT points at (the JSON object of the first stdout line's
``cloud_environment``: arm_endpoint, authority_host, keyvault_dns_suffix, attestation_endpoint, graph_endpoint,
ca_bundle). Both files hold a secret: they are written owner-only, each in one rename."""
from __future__ import annotations

import json
import os
import shlex


def cloud_file_for(env_path: str) -> str:
    base, _ext = os.path.splitext(os.path.abspath(env_path))
    return base + ".cloud.json"


def env_lines(info: dict, cloud_file: str) -> list[str]:
    values = [("AZURE_SUBSCRIPTION_ID", info["subscription_id"]), ("AZURE_CLIENT_ID", info["client_id"]),
              ("AZURE_SECRET", info["client_secret"]), ("AZURE_TENANT", info["tenant_id"]),
              ("AZURE_CLOUD_ENVIRONMENT", cloud_file),
              ("REQUESTS_CA_BUNDLE", info["cloud_environment"]["ca_bundle"])]
    return ["export %s=%s" % (k, shlex.quote(str(v))) for k, v in values]


def _write_private(path: str, text: str):
    tmp = "%s.tmp-%d" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def write_env_file(path: str, info: dict) -> tuple[str, str]:
    """Write PATH (exports) and its cloud file; returns both absolute paths."""
    path = os.path.abspath(os.path.expanduser(path))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    cloud_file = cloud_file_for(path)
    _write_private(cloud_file, json.dumps(info["cloud_environment"], indent=2) + "\n")
    header = "# Azure simulator connection (tests/simulator/run --env-file): source this file.\n"
    _write_private(path, header + "\n".join(env_lines(info, cloud_file)) + "\n")
    return path, cloud_file
