"""Persistence: the simulator's state as one JSON document (``--state-file``), saved atomically when dirty."""
from __future__ import annotations

import json
import os


def snapshot(sim) -> dict:
    with sim.lock:
        return {"arm": sim.arm.snapshot(), "kv": sim.kv.snapshot(), "graph": sim.graph_principals}


def load(sim, path: str):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    with sim.lock:
        sim.arm.restore(data.get("arm") or {})
        sim.kv.restore(data.get("kv") or {})
        if data.get("graph"):
            sim.graph_principals = data["graph"]


def save(sim, path: str):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(snapshot(sim), f)
    os.replace(tmp, path)
