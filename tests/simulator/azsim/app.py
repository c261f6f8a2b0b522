"""The simulator: its identity, endpoints and services (dispatch, admin API and persistence live in their own
modules: dispatch.py, admin.py, persistence.py)."""
from __future__ import annotations

import os
import re
import threading

from . import persistence
from .core import Request, Response, det_uuid
from .entra import Entra
from .faults import Faults
from .reqlog import RequestLog

ORCHESTRATOR_APP_ID = "bf7b6499-ff71-4aa2-97a4-f372087be7f0"
KEYVAULT_DNS_SUFFIX = "vault.azsim.local"


class Simulator:
    def __init__(self, state_dir: str, location: str = "eastus", provisioning_delay: float = 0.0,
                 state_file: str | None = None, ca_bundle: str | None = None, rbac_delay: float = 3.0,
                 throttle_scale: float = 1.0):
        self.state_dir = state_dir
        self.location = location
        self.provisioning_delay = provisioning_delay
        self.route_delays: list[tuple[re.Pattern, float]] = []
        self.state_file = state_file
        self.ca_bundle = ca_bundle
        self.lock = threading.RLock()
        self.port = 0
        self._ensure_listener = None
        self.tenant_id = det_uuid("tenant")
        self.subscription_id = det_uuid("subscription")
        self.subscriptions = [self.subscription_id, det_uuid("subscription", 2)]   # the first is the default
        self.client_id = det_uuid("client")
        self.client_secret = "azsim-" + det_uuid("client-secret").replace("-", "")[:24]
        self.entra = Entra(self)
        self.faults = Faults()
        self.log = RequestLog(os.path.join(state_dir, "requests.jsonl"))
        self._req_counter = 0
        self._dirty = False
        from .arm import Arm
        from .keyvault import KeyVaultDataPlane
        from .maa_glue import Attestation
        from .admin import AdminApi
        from .dispatch import Dispatcher
        from .authz import Authz
        from .throttle import Throttle
        self.authz = Authz(self, delay=rbac_delay)
        self.throttle = Throttle(scale=throttle_scale)
        self.arm = Arm(self)
        self.kv = KeyVaultDataPlane(self)
        self.attestation = Attestation(self)
        self.dispatcher = Dispatcher(self)
        self.admin_api = AdminApi(self)
        self.graph_principals: dict[str, dict] = {}
        self._default_principals()

    # ------------------------------------------------------------------ setup
    def _default_principals(self):
        self.graph_principals = {}
        self.add_principal(self.client_id, "azsim-automation")
        self.add_principal(ORCHESTRATOR_APP_ID, "Confidential VM Orchestrator")

    def add_principal(self, app_id: str, name: str) -> dict:
        sp = {"id": det_uuid("sp", app_id), "appId": app_id, "displayName": name,
              "servicePrincipalType": "Application", "accountEnabled": True, "appOwnerOrganizationId": self.tenant_id}
        self.graph_principals[app_id.lower()] = sp
        return sp

    @property
    def caller_object_id(self) -> str:
        return det_uuid("sp", self.client_id)

    def attach(self, port: int, ensure_listener):
        self.port = port
        self._ensure_listener = ensure_listener
        if self.state_file and os.path.exists(self.state_file):
            self.load(self.state_file)
        for n, v in list(self.kv.vaults.items()):
            res = self.arm.get(v.get("arm_id", ""))
            if res is not None:      # the port may differ from the run that saved the state
                res["properties"]["vaultUri"] = self.kv.register_vault(v["name"], v["arm_id"])

    def ensure_listener(self, ip: str):
        if self._ensure_listener is not None:
            self._ensure_listener(ip)

    @property
    def base_url(self) -> str:
        return "https://127.0.0.1:%d" % self.port

    def attestation_endpoint(self, location: str | None = None) -> str:
        return "%s/attestation/shared%s" % (self.base_url, (location or self.location).lower())

    def connection_info(self) -> dict:
        return {
            "cloud_environment": {
                "name": "AzureSimulator",
                "arm_endpoint": self.base_url + "/",
                "authority_host": self.base_url + "/",
                "keyvault_dns_suffix": KEYVAULT_DNS_SUFFIX,
                "attestation_endpoint": self.attestation_endpoint(),
                "graph_endpoint": self.base_url + "/",
                "ca_bundle": self.ca_bundle,
            },
            "subscription_id": self.subscription_id,
            "subscriptions": list(self.subscriptions),
            "tenant_id": self.tenant_id,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "location": self.location,
            "state_dir": self.state_dir,
        }

    def delay_for(self, path: str) -> float:
        for pattern, seconds in self.route_delays:
            if pattern.search(path):
                return seconds
        return self.provisioning_delay

    # ------------------------------------------------------------ persistence
    def mark_dirty(self):
        self._dirty = True

    def snapshot(self) -> dict:
        return persistence.snapshot(self)

    def load(self, path: str):
        persistence.load(self, path)

    def autosave(self):
        if self.state_file and self._dirty:
            self._dirty = False
            persistence.save(self, self.state_file)

    def close(self):
        self._dirty = self._dirty or bool(self.state_file)
        try:
            self.autosave()
        finally:
            self.log.close()

    def reset(self):
        with self.lock:
            self.arm.reset()
            self.kv.reset()
            self.faults.clear()
            self.throttle.reset()
            self.route_delays = []
            self._default_principals()
            self.attestation.reset()
            self.mark_dirty()

    # --------------------------------------------------------------- dispatch
    def handle(self, req: Request) -> Response:
        return self.dispatcher.handle(req)

    def authenticate_arm(self, req: Request) -> dict:
        return self.dispatcher.authenticate_arm(req)
