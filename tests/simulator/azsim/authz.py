"""Authorization as Azure decides it: ARM RBAC (actions over scopes) and Key Vault's data plane.

Nobody holds a right implicitly: a principal may do what its role assignments (ARM, RBAC vaults) or the vault's
access policies (access-policy vaults) grant, and a grant counts only once its propagation delay has passed.

Entry points (used by dispatch and by the resource providers' rules):

* ``authorize_arm(claims, action, scope)`` raises 403 ``AuthorizationFailed`` unless the caller holds ``action``
  at ``scope``;
* ``authorize_data(claims, vault, key_name, operation)`` raises Key Vault's 403 unless the caller may run the key
  ``operation`` (an access-policy key permission such as ``create`` or ``wrapKey``);
* ``data_allowed(oid, vault, key_name, operation)`` answers the same question for any principal (a disk encryption
  set's identity, the Confidential VM Orchestrator) without raising;
* ``action_allowed(oid, action, scope)`` the ARM counterpart.
"""
from __future__ import annotations

import threading
import time

from . import rbac
from .core import ApiError

# Key Vault key operations: access-policy permission (canonical spelling, as the vault spec's enum) -> RBAC data
# action. Source: Microsoft doc "Azure permissions for Security" (Microsoft.KeyVault data actions) and "Azure
# built-in roles for Security" (the Key Vault roles' dataActions).
KEY_OPERATIONS = {
    "get": "Microsoft.KeyVault/vaults/keys/read",
    "list": "Microsoft.KeyVault/vaults/keys/read",
    "create": "Microsoft.KeyVault/vaults/keys/create/action",
    "update": "Microsoft.KeyVault/vaults/keys/update/action",
    "import": "Microsoft.KeyVault/vaults/keys/import/action",
    "delete": "Microsoft.KeyVault/vaults/keys/delete",
    "recover": "Microsoft.KeyVault/vaults/keys/recover/action",
    "backup": "Microsoft.KeyVault/vaults/keys/backup/action",
    "restore": "Microsoft.KeyVault/vaults/keys/restore/action",
    "encrypt": "Microsoft.KeyVault/vaults/keys/encrypt/action",
    "decrypt": "Microsoft.KeyVault/vaults/keys/decrypt/action",
    "wrapKey": "Microsoft.KeyVault/vaults/keys/wrap/action",
    "unwrapKey": "Microsoft.KeyVault/vaults/keys/unwrap/action",
    "sign": "Microsoft.KeyVault/vaults/keys/sign/action",
    "verify": "Microsoft.KeyVault/vaults/keys/verify/action",
    "purge": "Microsoft.KeyVault/vaults/keys/purge/action",
    "release": "Microsoft.KeyVault/vaults/keys/release/action",
    "rotate": "Microsoft.KeyVault/vaults/keys/rotate/action",
    "getrotationpolicy": "Microsoft.KeyVault/vaults/keyrotationpolicies/read",
    "setrotationpolicy": "Microsoft.KeyVault/vaults/keyrotationpolicies/write",
}
_CANONICAL_OPERATION = {k.lower(): k for k in KEY_OPERATIONS}
ACCESS_POLICY_ALL = "all"


def canonical_operation(operation: str) -> str:
    op = _CANONICAL_OPERATION.get(str(operation).lower())
    if op is None:
        raise ValueError("unknown Key Vault key operation %r (one of %s)" % (operation, ", ".join(KEY_OPERATIONS)))
    return op


def kv_forbidden(message: str, inner: str) -> ApiError:
    return ApiError(403, "Forbidden", message,
                    body={"error": {"code": "Forbidden", "message": message, "innererror": {"code": inner}}})


class Authz:
    """The simulator's one authority on who may do what (see the module docstring)."""

    def __init__(self, sim, delay: float = 3.0):
        self.sim = sim
        self.delay = float(delay)
        self._epoch = None
        self._granted_at: dict[str, float] = {}       # role assignment id (lower) -> when it takes effect
        self._policy_seen: dict[tuple, float] = {}    # (vault id, oid, permission) -> when it takes effect

    # ------------------------------------------------------------ propagation
    def _sync_epoch(self):
        """A reset replaces the ARM store: forget what the old store's grants were."""
        store = self.sim.arm.role_assignments
        if store is not self._epoch:
            if self._epoch is not None:
                self._granted_at.clear()
                self._policy_seen.clear()
            self._epoch = store
            rbac.seed_default_assignments(self.sim)

    def note_role_assignment(self, assignment_id: str):
        """A role assignment was written now: it takes effect after the propagation delay.

        Source: Microsoft doc "Troubleshoot Azure RBAC" (role assignment changes can take several minutes to be
        detected; the caller sees 403 meanwhile)."""
        self._granted_at[assignment_id.lower()] = time.time() + self.delay

    def observe_vault(self, arm_vault: dict):
        """Start the propagation clock of access-policy permissions not seen before; drop revoked ones at once.

        Source: Microsoft doc "Azure Key Vault security" / access policies: changes to access policies propagate
        after a short delay (the same 403 is answered meanwhile)."""
        vid = arm_vault["id"].lower()
        now = time.time()
        current = set()
        for ap in (arm_vault.get("properties") or {}).get("accessPolicies") or []:
            oid = (ap.get("objectId") or "").lower()
            for perm in (ap.get("permissions") or {}).get("keys") or []:
                p = str(perm).lower()
                perms = [o.lower() for o in KEY_OPERATIONS] if p == ACCESS_POLICY_ALL else [p]
                for q in perms:
                    current.add((vid, oid, q))
        for k in [k for k in self._policy_seen if k[0] == vid and k not in current]:
            del self._policy_seen[k]
        for k in current:
            self._policy_seen.setdefault(k, now + self.delay)

    def observe_vaults(self):
        for res in list(self.sim.arm.resources.values()):
            if res.get("type", "").lower() == "microsoft.keyvault/vaults":
                self.observe_vault(res)

    # -------------------------------------------------------------------- ARM
    def _assignments_for(self, oid: str, scope: str) -> list[dict]:
        """Role definitions granted to ``oid`` at ``scope`` or any parent scope, already in effect."""
        self._sync_epoch()
        oid = (oid or "").lower()
        scope_l = scope.lower().rstrip("/")
        now = time.time()
        out = []
        for key, ra in self.sim.arm.role_assignments.items():
            p = ra["properties"]
            if (p.get("principalId") or "").lower() != oid:
                continue
            s = p["scope"].lower().rstrip("/")
            if not (s in ("", "/") or scope_l == s or scope_l.startswith(s + "/")):
                continue
            if self._granted_at.get(key, 0.0) > now:
                continue
            role = rbac.role_by_guid(p["roleDefinitionId"].rstrip("/").rsplit("/", 1)[-1])
            if role is not None:
                out.append(role)
        return out

    def action_allowed(self, oid: str, action: str, scope: str) -> bool:
        """Does ``oid`` hold ``action`` (e.g. ``Microsoft.Compute/virtualMachines/write``) at ``scope``?

        Source: Microsoft doc "Understand Azure role definitions" (Actions minus NotActions, wildcards, scope
        inheritance: a role assigned at a parent scope applies to every child scope)."""
        return any(rbac.permits(role, action, data=False) for role in self._assignments_for(oid, scope))

    def authorize_arm(self, claims: dict, action: str, scope: str):
        """403 AuthorizationFailed, with ARM's exact text, unless the caller holds ``action`` at ``scope``.

        Source: Microsoft doc "Troubleshoot Azure RBAC" (quotes "The client '...' with object id '...' does not
        have authorization to perform action '...' over scope '...' or the scope is invalid. If access was
        recently granted, please refresh your credentials.")."""
        oid = claims.get("oid", "")
        if self.action_allowed(oid, action, scope):
            return
        client = claims.get("appid") or claims.get("azp") or claims.get("upn") or oid
        raise ApiError(403, "AuthorizationFailed", "The client '%s' with object id '%s' does not have authorization "
                       "to perform action '%s' over scope '%s' or the scope is invalid. If access was recently "
                       "granted, please refresh your credentials." % (client, oid, action, scope))

    # ------------------------------------------------------------- Key Vault
    def _arm_vault(self, vault):
        if isinstance(vault, dict):
            return vault
        res = self.sim.arm.get(str(vault))
        if res is None:
            raise ValueError("no vault %s" % vault)
        return res

    def data_allowed(self, oid: str, vault, key_name: str, operation: str) -> bool:
        """May principal ``oid`` run key ``operation`` (e.g. ``get``, ``wrapKey``, ``release``) on ``key_name``?

        ``vault`` is the vault's ARM resource (dict) or its resource id. Access-policy vaults answer from their
        access policies, RBAC vaults (``enableRbacAuthorization``) from role assignments' dataActions at the key,
        vault or any parent scope. Source: Microsoft doc "Provide access to Key Vault keys, certificates, and
        secrets with Azure role-based access control" and "Assign a Key Vault access policy"."""
        self._sync_epoch()
        arm_vault = self._arm_vault(vault)
        op = canonical_operation(operation)
        oid = (oid or "").lower()
        if not oid:
            return False
        if (arm_vault.get("properties") or {}).get("enableRbacAuthorization"):
            scope = "%s/keys/%s" % (arm_vault["id"], key_name) if key_name else arm_vault["id"]
            action = KEY_OPERATIONS[op]
            return any(rbac.permits(role, action, data=True) for role in self._assignments_for(oid, scope))
        self.observe_vault(arm_vault)
        ready = self._policy_seen.get((arm_vault["id"].lower(), oid, op.lower()))
        return ready is not None and ready <= time.time()

    def authorize_data(self, claims: dict, vault, key_name: str, operation: str):
        """Key Vault's 403 for the caller, with the service's texts.

        Sources: access-policy vaults -- public issue Azure/azure-libraries-for-net#1067 quoting Key Vault's answer
        "The user, group or application '...;oid=...;iss=...' does not have secrets set permission on key vault
        '...;location=...'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=
        2125287" with innererror AccessDenied; RBAC vaults -- public issue pulumi/pulumi-azure-nextgen#195 quoting
        "Caller is not authorized to perform action on resource. If role assignments, deny assignments or role
        definitions were changed recently, please observe propagation time." (innererror ForbiddenByRbac)."""
        arm_vault = self._arm_vault(vault)
        oid = claims.get("oid", "")
        if self.data_allowed(oid, arm_vault, key_name, operation):
            return
        op = canonical_operation(operation)
        issuer = claims.get("iss") or "https://sts.windows.net/%s/" % self.sim.tenant_id
        caller = "appid=%s;oid=%s;iss=%s" % (claims.get("appid") or claims.get("azp") or "", oid, issuer)
        name, location = arm_vault["name"], arm_vault.get("location", "")
        if (arm_vault.get("properties") or {}).get("enableRbacAuthorization"):
            resource = "%s/keys/%s" % (arm_vault["id"].lower(), key_name.lower()) if key_name else \
                arm_vault["id"].lower()
            raise kv_forbidden("Caller is not authorized to perform action on resource.\r\nIf role assignments, deny "
                               "assignments or role definitions were changed recently, please observe propagation "
                               "time.\r\nCaller: %s\r\nAction: '%s'\r\nResource: '%s'\r\nAssignment: (not found)\r\n"
                               "DenyAssignmentId: null\r\nDecisionReason: null \r\nVault: %s;location=%s\r\n"
                               % (caller, KEY_OPERATIONS[op], resource, name, location), "ForbiddenByRbac")
        raise kv_forbidden("The user, group or application '%s' does not have keys %s permission on key vault "
                           "'%s;location=%s'. For help resolving this issue, please see "
                           "https://go.microsoft.com/fwlink/?linkid=2125287" % (caller, op, name, location),
                           "AccessDenied")


# ---------------------------------------------------------------- request -> ARM action
_METHOD_VERB = {"GET": "read", "HEAD": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete"}


def arm_action(method: str, path: str) -> tuple[str, str]:
    """The ARM operation (``Namespace/type[/child]/verb``) and scope a request needs, from its method and path.

    Source: Microsoft doc "Azure resource provider operations" (operation names are the provider namespace, the
    resource type path and read/write/delete/action) and "Understand scope for Azure RBAC" (the scope is the
    resource id; collection reads are checked at the parent)."""
    segs = [s for s in path.split("?")[0].split("/") if s]
    low = [s.lower() for s in segs]
    verb = _METHOD_VERB.get(method.upper(), "action")
    if not segs:
        return "Microsoft.Resources/subscriptions/read", "/"
    if low[0] == "subscriptions" and len(segs) == 1:
        return "Microsoft.Resources/subscriptions/read", "/"
    if low[0] == "tenants":
        return "Microsoft.Resources/tenants/read", "/"
    # the last 'providers' segment names the namespace (extension resources such as role assignments)
    if "providers" in low:
        i = len(low) - 1 - low[::-1].index("providers")
        if i + 1 < len(segs):
            ns = segs[i + 1]
            rest = segs[i + 2:]
            base = segs[:i]
            types, names = rest[0::2], rest[1::2]
            scope_parts = list(base)
            action_suffix = verb
            if method.upper() == "POST":
                # .../type/name/<action>: the last segment is the action
                if len(rest) % 2 == 1 and len(rest) >= 3:
                    types = rest[0:-1:2]
                    names = rest[1:-1:2]
                    action_suffix = "%s/action" % rest[-1]
                else:
                    action_suffix = "action"
            elif len(rest) % 2 == 1:
                # a collection (list) or a provider-level read: check at the parent scope
                names = names[:len(types) - 1]
            scope_parts += ["providers", ns]
            for t, n in zip(types, names):
                scope_parts += [t, n]
            if not names:
                scope_parts = list(base)
            typ = "/".join(types) if types else ""
            action = "%s/%s/%s" % (ns, typ, action_suffix) if typ else "%s/%s" % (ns, action_suffix)
            return action, "/" + "/".join(scope_parts)
    # subscription / resource group level (Microsoft.Resources)
    if len(low) >= 3 and low[2] == "resourcegroups":
        if len(segs) == 3:
            return "Microsoft.Resources/subscriptions/resourceGroups/read", "/" + "/".join(segs[:2])
        if len(segs) >= 5 and low[4] == "resources":
            return "Microsoft.Resources/subscriptions/resourceGroups/resources/read", "/" + "/".join(segs[:4])
        return "Microsoft.Resources/subscriptions/resourceGroups/%s" % verb, "/" + "/".join(segs[:4])
    if len(low) >= 3 and low[2] == "resources":
        return "Microsoft.Resources/subscriptions/resources/read", "/" + "/".join(segs[:2])
    if len(low) >= 3 and low[2] == "locations":
        return "Microsoft.Resources/subscriptions/locations/read", "/" + "/".join(segs[:2])
    if len(low) >= 3 and low[2] == "operationresults":
        return "Microsoft.Resources/subscriptions/operationresults/read", "/" + "/".join(segs[:2])
    return "Microsoft.Resources/subscriptions/read", "/" + "/".join(segs[:2])


# ------------------------------------------------------------------ dispatch hook
_pending = threading.local()


def _stash(**values):
    for k, v in values.items():
        setattr(_pending, k, v)


def authorize_call(sim, call):
    """The dispatch hook (``dispatch.authorize``): ARM throttling, RBAC and Compute's call-rate policies for ARM
    calls; the key permission for Key Vault data-plane calls. Throttling headers are kept for ``decorate``."""
    _stash(headers={}, vault_write=False)
    if call.service == "keyvault":
        if call.key_op:
            sim.authz.authorize_data(call.claims, call.arm_vault, call.key_name, call.key_op)
        return
    if call.service != "arm":
        return
    req = call.req
    _pending.headers = sim.throttle.admit_arm(req.method, req.path, call.principal)
    if call.action:
        _action, scope = arm_action(req.method, req.path)
        if scope != "/":      # tenant-level reads (subscriptions, tenants, role definitions) list what one may see
            sim.authz.authorize_arm(call.claims, call.action, scope)
    _pending.headers.update(sim.throttle.admit_compute(req.method, req.path))
    _pending.vault_write = req.method != "GET" and "/microsoft.keyvault/" in req.path.lower()


def decorate(sim, resp):
    """After the handler: the throttling headers go on the answer (errors included), and a vault write starts its
    access policies' propagation clock."""
    headers = getattr(_pending, "headers", None) or {}
    for k, v in headers.items():
        resp.headers.setdefault(k, v)
    if getattr(_pending, "vault_write", False) and resp.status < 300:
        with sim.lock:
            sim.authz.observe_vaults()
    _stash(headers={}, vault_write=False)
    return resp
