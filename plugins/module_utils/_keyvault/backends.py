# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What keyvault_key and keyvault do, given an AzureModule.

Each run: validate (no request) -> read (one GET per resource) -> plan (pure) -> write unless check mode.
"""

from __future__ import (absolute_import, division, print_function)
from __future__ import annotations

__metaclass__ = type

from .._azure import api_versions as V
from .._azure import cloud as cloud_mod
from .._azure import errors as azerr
from .._azure.ids import resource_id
from .._azure.result import invalid_parameters, join_errors, shape
from . import api, facts, grants, key, release_policy as rp, vault as vault_mod

ORCHESTRATOR_PERMISSIONS = ("get", "release")


def _fail_params(m, errors):
    m.fail_json(msg=invalid_parameters(errors), errors=errors, changed=False)


def _dns_suffix(m):
    """The cloud's Key Vault DNS suffix, read from the settings alone (no credentials, no request)."""
    try:
        return cloud_mod.from_setting(m.params.get("cloud_environment")).keyvault_dns_suffix
    except cloud_mod.CloudConfigError as exc:
        m.fail_json(msg=str(exc))


class _Backend:
    """What a run records (actions, before / after) and the common result shape it ends with (result.shape);
    ``result`` carries the actions so far into a failure too."""

    resource = None  # the result key of the resource

    def __init__(self, m):
        self.m = m
        self.p = m.params
        self.result = {"changed": False, "actions": []}
        self.before = {}
        self.after = {}

    def _act(self, action):
        """One change, done or (check mode) to be done."""
        self.result["changed"] = True
        self.result["actions"].append(action)

    def _result(self):
        diff = {"before": self.before, "after": self.after} if self.m.diff_mode else None
        return shape(self.result, self.resource, False, self.result["actions"], diff)


# ============================================================================ keyvault_key

class KeyBackend(_Backend):
    """A no-change run reads the key only, when the play's facts cache (token cache on) holds the region's
    attestation provider that the key's policy names and a grant confirmed earlier in the play; anything
    written is built from fresh reads (facts.py)."""

    resource = "key"

    def __init__(self, m):
        super().__init__(m)
        self._facts = None
        #: check mode, the vault does not exist yet: its ARM id ("" when unknown), else None
        self.vault_pending = None

    @property
    def facts(self):
        if self._facts is None:
            self._facts = facts.Facts.of_params(self.p)
        return self._facts

    # -- validation ----------------------------------------------------------------------------------------
    def validate(self):
        suffix = _dns_suffix(self.m)
        errors = key.validate(self.p, suffix)
        if errors:
            _fail_params(self.m, errors)
        self.vault_url, self.vault_name = key.parse_vault_url(self.p["vault_url"], suffix)

    # -- lookups -------------------------------------------------------------------------------------------
    def _given_vault_id(self):
        vault_id = self.p.get("vault_id")
        if not vault_id and self.p.get("vault_resource_group"):
            vault_id = resource_id(self.m.subscription_id, self.p["vault_resource_group"], "Microsoft.KeyVault",
                                   "vaults", self.vault_name)
        return vault_id

    def _vault(self):
        vault_id = self._given_vault_id()
        if not vault_id:
            vault_id = api.find_vault_id(self.m.arm, self.m.subscription_id, self.vault_name)
            if not vault_id:
                self.m.fail_json(msg="vault %s was not found in subscription %s; set vault_id (or vault_resource_group) "
                                     "when the vault lives in another subscription, or "
                                     "grant_confidential_vm_orchestrator: false"
                                     % (self.vault_name, self.m.subscription_id))
        vault = api.get_vault(self.m.arm, vault_id)
        if vault is None:
            self.m.fail_json(msg="vault %s does not exist; create it first (confidential.azure.keyvault) or fix "
                                 "vault_id / vault_resource_group" % vault_id)
        return vault

    def _orchestrator(self):
        oid = self.p.get("orchestrator_object_id")
        if oid:
            return oid
        try:
            oid = api.service_principal_object_id(self.m.graph, key.CVM_ORCHESTRATOR_APP_ID)
        except azerr.AzureApiError as exc:
            self.m.fail_json(msg="could not look up the Confidential VM Orchestrator service principal in Microsoft "
                                 "Graph (%s). Give its object id in orchestrator_object_id (az ad sp show --id %s "
                                 "--query id -o tsv)" % (exc.summary(), key.CVM_ORCHESTRATOR_APP_ID),
                             azure_error=exc.to_dict())
        if not oid:
            self.m.fail_json(msg="the Confidential VM Orchestrator service principal (appId %s) does not exist in this "
                                 "tenant, so confidential VMs cannot release the key. A directory administrator "
                                 "creates it once per tenant with: az ad sp create --id %s  (or "
                                 "New-MgServicePrincipal -AppId %s); then re-run. Set "
                                 "grant_confidential_vm_orchestrator: false to skip the grant."
                                 % ((key.CVM_ORCHESTRATOR_APP_ID,) * 3))
        return oid

    def _region_authority(self, bundle):
        """The region's default attestation provider; the cached answer only when it confirms the key's policy."""
        location = vault_mod.normalize_location(self.p["location"])
        parts = (getattr(self.m.cloud, "arm_endpoint", None), self.m.subscription_id, location)
        cached = self.facts.get("attestation-default", parts, facts.ATTESTATION_TTL)
        if cached and bundle is not None:
            try:
                if key.policy_confirms(bundle, key.resolve_policy(self.p, [cached])):
                    return cached
            except (key.KeyParamError, rp.PolicyError):
                pass
        uri = api.default_attestation_uri(self.m.arm, self.m.subscription_id, location)
        self.facts.put("attestation-default", parts, uri)
        return uri

    def _policy(self, bundle=None):
        authorities = None
        if key.needs_authority_lookup(self.p):
            authorities = [self._region_authority(bundle)]
        try:
            policy = key.resolve_policy(self.p, authorities)
        except (key.KeyParamError, rp.PolicyError) as exc:
            _fail_params(self.m, getattr(exc, "errors", [str(exc)]))
        if policy is not None:
            problems = rp.lint(policy)
            if problems:  # e.g. an attestUri the service returned that is not https
                _fail_params(self.m, ["release_policy: %s" % e for e in problems])
        return policy

    # -- run -----------------------------------------------------------------------------------------------
    def run(self):
        self.validate()
        kv = api.keys_client(self.m, self.facts, self.vault_url)
        name = self.p["name"]
        bundle = self._read_key(kv, name)
        api.remember_challenge(self.facts, self.vault_url)
        if self.p["state"] == "absent":
            return self._absent(kv, bundle)

        pending = self.vault_pending is not None
        deleted = api.get_deleted_key(kv, name) if bundle is None and self.p.get("recover_deleted") and \
            not pending else None
        have = bundle if bundle is not None else deleted
        policy = self._policy(have)
        want = key.desired(self.p, policy, key.current(have)["tags"] if have is not None else None)
        if len(want.get("tags") or {}) > key.MAX_TAGS:
            _fail_params(self.m, ["tags: the key would have %d tags after merging O(tags) into its %d current ones; "
                                  "Key Vault allows at most %d per key. Set append_tags: false to replace them"
                                  % (len(want["tags"]), len(have.get("tags") or {}), key.MAX_TAGS)])
        grant_wanted = self.p["grant_confidential_vm_orchestrator"]
        unchanged = bundle is not None and not self.p["rotate"] and \
            not key.compare(key.current(bundle), want).changed
        confirmed = self._confirmed_grant() if grant_wanted and unchanged else None
        release_wanted = bool(self.p.get(grants.RELEASE_PRINCIPALS_PARAM))
        vault = self._vault() if ((grant_wanted and confirmed is None) or release_wanted) and not pending else None
        if vault is not None:
            sku = (((vault.get("properties") or {}).get("sku") or {}).get("name") or "").lower()
            if want["kty"] == "RSA-HSM" and sku == "standard":
                self.m.fail_json(msg="vault %s is a standard vault; key_type RSA-HSM (and exportable keys) need a "
                                     "Premium vault. Change the vault's sku to premium (confidential.azure.keyvault "
                                     "sku: premium)" % vault.get("id"))
        if vault is not None:
            self._warn_chain(vault, want)
        oid = self._orchestrator() if grant_wanted and confirmed is None else None
        self._release_grant(vault, plan_only=True)

        write = not self.m.check_mode
        existed = bundle is not None
        if have is None:
            self._act("create key %s" % name)
            self.after = dict(want)
            if write:
                bundle = api.create_key(kv, name, key.create_body(want))
        else:
            plan = key.compare(key.current(have), want, rotate=self.p["rotate"])
            if plan.errors:
                prefix = "deleted key %s was not recovered: " % name if deleted is not None else ""
                self.m.fail_json(msg=prefix + join_errors(plan.errors), errors=plan.errors, diff=plan.diff(),
                                 changed=False, actions=[], key=key.to_result(have, self.vault_url))
            if deleted is not None:
                bundle = self._recover(kv, name, deleted)
                existed = write
            if self.p["rotate"]:
                self._act("create a new version of key %s" % name)
                self.before["version"] = key.version_of((bundle.get("key") or {}).get("kid"))
                self.after["version"] = "(new)"
                self.before.update(plan.diff()["before"])
                self.after.update(plan.diff()["after"])
                if write:
                    bundle = api.create_key(kv, name, key.create_body(want))
            elif plan.changed:
                self._act("update key %s: %s" % (name, ", ".join(sorted(plan.update))))
                self.before.update(plan.diff()["before"])
                self.after.update(plan.diff()["after"])
                if write:
                    version = key.version_of((bundle.get("key") or {}).get("kid"))
                    bundle = api.update_key(kv, name, version, key.update_body(want, plan))

        rotation = None
        if self.p.get("rotation_policy") is not None:
            rotation = self._rotation(kv, name, existed=existed)
        if confirmed is not None:
            self.result["orchestrator_grant"] = confirmed
        elif grant_wanted:
            self._grant(vault, oid)
        self._release_grant(vault)

        versions = None
        if self.p.get("include_versions") and bundle:
            versions = key.version_entries(api.list_versions(kv, name))
        self.result["key"] = key.to_result(bundle, self.vault_url, versions, rotation) if bundle else {}
        if self.m.check_mode and not bundle:
            self.result["key"] = self._predicted(want, rotation)
        return self._result()

    def _predicted(self, want, rotation):
        """Check mode, a key it would create: the result as the create request would make it.  Key Vault gives the
        version on creation, so kid / key_url are the version-less key id and version is None."""
        body = key.create_body(want)
        kid = "%skeys/%s" % (self.vault_url, self.p["name"])
        bundle = {"key": {"kid": kid, "kty": body["kty"], "key_ops": body["key_ops"]},
                  "attributes": body["attributes"], "tags": body.get("tags") or {}}
        if body.get("release_policy"):
            bundle["release_policy"] = body["release_policy"]
        out = key.to_result(bundle, self.vault_url, None, rotation)
        out.update(name=self.p["name"], key_size=body["key_size"])
        return out

    def _read_key(self, kv, name):
        """The key's bundle, or None when it does not exist.  A vault_url that does not answer at all (its DNS name
        does not resolve, no connection) is, in check mode, the vault a task before this one would create; else a
        failure that names vault_url and why."""
        try:
            return api.get_key(kv, name)
        except azerr.AzureApiError as exc:
            if exc.status != 0:
                raise
            unreachable = exc
        exists, vault_id = self._vault_exists()
        if self.m.check_mode and exists is not True:
            self.vault_pending = vault_id or ""
            if exists is None:
                self.m.warn("check mode: vault_url %s does not answer (%s); taken as the vault an earlier task would "
                            "create" % (self.vault_url, unreachable.message))
            return None
        if exists:
            why = ("vault %s exists, but this machine cannot reach its data plane: check DNS (a private endpoint "
                   "needs its privatelink zone), proxy and firewall" % vault_id)
        elif exists is False:
            where = vault_id or "no vault %s in subscription %s" % (self.vault_name, self.m.subscription_id)
            why = ("the vault does not exist (%s): create it first (confidential.azure.keyvault) and pass its "
                   "vault.vault_uri as vault_url" % where)
        else:
            why = ("the vault may not exist (create it first with confidential.azure.keyvault and pass its "
                   "vault.vault_uri as vault_url), or this machine cannot reach it (DNS, proxy, firewall)")
        self.m.fail_json(msg="vault_url %s does not answer (%s): %s" % (self.vault_url, unreachable.message, why),
                         azure_error=unreachable.to_dict(), changed=False)
        return None

    def _vault_exists(self):
        """(True / False / None when ARM cannot tell, the vault's ARM id or None): one ARM read, on the failure
        path only."""
        vault_id = self._given_vault_id()
        try:
            if not vault_id:
                if not self.vault_name:
                    return None, None
                vault_id = api.find_vault_id(self.m.arm, self.m.subscription_id, self.vault_name)
                return (True, vault_id) if vault_id else (False, None)
            return api.get_vault(self.m.arm, vault_id) is not None, vault_id
        except azerr.AzureError:
            return None, vault_id

    def _pending_vault(self):
        """What the grants are planned against when the vault does not exist yet (check mode): its id only."""
        return {"id": self.vault_pending or self.vault_url, "properties": {"enableRbacAuthorization": True}}

    def _warn_chain(self, vault, want):
        """The rest of the CMK chain Azure checks later (disk encryption set creation): say it now."""
        props = vault.get("properties") or {}
        if want.get("exportable") and not props.get("enablePurgeProtection"):
            self.m.warn("vault %s has purge protection off; a confidential disk encryption set will refuse the key. "
                        "Turn it on (confidential.azure.keyvault enable_purge_protection: true)" % vault.get("id"))
        location = self.p.get("location")
        # the CMK rule "vault in the VM's region" is not about a key the guest releases
        if location and vault.get("location") and not key.released_to_guest(self.p) and \
                vault_mod.normalize_location(vault["location"]) != vault_mod.normalize_location(location):
            self.m.warn("vault %s is in %s but location is %s; confidential VMs need the CMK vault in their own "
                        "region" % (vault.get("id"), vault["location"], location))

    def _recover(self, kv, name, deleted):
        """recover_deleted: bring the soft-deleted key back (all versions) before it is compared and updated like
        an existing key.  Check mode answers the deleted key as it would come back."""
        self._act("recover deleted key %s" % name)
        self.before["state"], self.after["state"] = "deleted", "present"
        if self.m.check_mode:
            return deleted
        try:
            return api.recover_deleted_key(kv, name) or deleted
        except azerr.LroTimeout as exc:  # the recovery was sent: say so (changed, actions)
            self.m.fail_json(msg=str(exc), operation=exc.to_dict(), **self.result)

    def _absent(self, kv, bundle):
        if bundle is None:
            self.result["key"] = {}
            return self._result()
        self._act("delete key %s" % self.p["name"])
        have = key.current(bundle)
        if not self.m.check_mode:
            api.delete_key(kv, self.p["name"])
            self.facts.forget("orchestrator-grant", self._grant_fact())
        self.result["key"] = {}
        self.result["deleted_key"] = key.to_result(bundle, self.vault_url)
        self.before, self.after = have, {}
        return self._result()

    def _rotation(self, kv, name, existed):
        wanted = key.rotation_policy_desired(self.p["rotation_policy"])
        have = api.get_rotation_policy(kv, name) if existed else None
        if key.rotation_policy_compared(have) == key.rotation_policy_compared(wanted):
            return have
        self._act("set the rotation policy of key %s" % name)
        self.before["rotation_policy"] = key.rotation_policy_compared(have) if have else None
        self.after["rotation_policy"] = key.rotation_policy_compared(wanted)
        if self.m.check_mode:
            return wanted
        return api.put_rotation_policy(kv, name, wanted) or wanted

    def _grant(self, vault, oid):
        if self.vault_pending is not None:
            wanted = list(ORCHESTRATOR_PERMISSIONS)
            outcome = {"mode": None, "scope": self.vault_pending or None, "principal_id": oid, "permissions": wanted,
                       "before": [], "after": wanted, "missing": wanted, "changed": True,
                       "note": "the vault does not exist yet; the grant is made once it does"}
        else:
            try:
                outcome = grants.ensure_key_permissions(self.m.arm, vault, oid, ORCHESTRATOR_PERMISSIONS,
                                                        key_name=self.p["name"], scope="key",
                                                        check_mode=self.m.check_mode)
            except grants.GrantError as exc:
                self.m.fail_json(msg=str(exc), **self.result)
        self.result["orchestrator_grant"] = dict((k, v) for k, v in outcome.items() if k != "changed")
        if outcome["changed"]:
            self._act("grant the Confidential VM Orchestrator %s %s on key %s (%s)"
                      % (oid, ", ".join(outcome.get("missing") or ORCHESTRATOR_PERMISSIONS), self.p["name"],
                         outcome.get("mode") or "once the vault exists"))
            self.before["orchestrator_grant"] = outcome["before"]
            self.after["orchestrator_grant"] = outcome["after"]
        if not (outcome["changed"] and self.m.check_mode):
            self.facts.put("orchestrator-grant", self._grant_fact(), facts.settled(outcome))

    def _grant_fact(self):
        return (self.vault_url.lower(), self.p["name"], self.p.get("vault_id"), self.p.get("vault_resource_group"),
                self.p.get("orchestrator_object_id"), ",".join(ORCHESTRATOR_PERMISSIONS), "key")

    def _confirmed_grant(self):
        """The orchestrator grant as confirmed or made earlier in the play (facts cache), or None."""
        return self.facts.get("orchestrator-grant", self._grant_fact(), facts.GRANT_TTL)

    def _release_grant(self, vault, plan_only=False):
        """release_principal_ids: "Key Vault Crypto Service Release User" at this key's scope (grants.py)."""
        if not self.p.get(grants.RELEASE_PRINCIPALS_PARAM):
            return
        try:
            if self.vault_pending is not None:  # check mode, no vault yet: nothing is held; its mode is not known
                vault = self._pending_vault()
                grants.check_key_release(vault, self.p)
                if plan_only:
                    return
                outcome = grants.plan_key_release(vault, self.p["name"], self.p[grants.RELEASE_PRINCIPALS_PARAM], [])
                outcome = dict((k, v) for k, v in outcome.items() if k != "requests")
                outcome["changed"] = bool(outcome["missing"])
            elif plan_only:
                grants.check_key_release(vault, self.p)
                return
            else:
                outcome = grants.ensure_key_release(self.m.arm, vault, self.p["name"],
                                                    self.p[grants.RELEASE_PRINCIPALS_PARAM], self.m.check_mode)
        except grants.GrantError as exc:
            self.m.fail_json(msg=str(exc), **self.result)
        self.result["release_grant"], before, after = grants.release_report(outcome)
        for text in grants.broader_warnings(outcome):
            self.m.warn(text)
        if outcome["changed"]:
            self._act("grant %s Key Vault Crypto Service Release User on key %s"
                      % (", ".join(sorted(outcome.get("missing") or [])), self.p["name"]))
            self.before["release_principal_ids"], self.after["release_principal_ids"] = before, after


def run_key(m):
    return KeyBackend(m).run()


# ============================================================================ keyvault (the vault)

class VaultBackend(_Backend):
    """The vault, then the automation principal's own data-plane access to it (the one place that grants it)."""

    resource = "vault"

    def run(self):
        errors = vault_mod.validate(self.p)
        if errors:
            _fail_params(self.m, errors)
        arm = self.m.arm
        self.rid = resource_id(self.m.subscription_id, self.p["resource_group"], "Microsoft.KeyVault", "vaults",
                               self.p["name"])
        have = api.get_vault(arm, self.rid)
        if self.p["state"] == "absent":
            self._absent(have)
            return self._result()
        self.principal = self.m.session.principal() if self.p["grant_automation_principal"] else None
        resource = self._create() if have is None else self._update(have)
        if self.principal is not None and self._rbac(have):
            self._grant_role(resource, exists=have is not None or not self.m.check_mode)
        self.result["vault"] = vault_mod.to_result(resource)
        return self._result()

    def _absent(self, have):
        self.result["vault"] = {}
        if have is not None:
            self._act("delete key vault %s" % self.p["name"])
            self.before, self.after = vault_mod.to_result(have), {}
            if not self.m.check_mode:
                op = self.m.arm.delete(self.rid, V.KEYVAULT_MANAGEMENT, wait=self.p["wait"],
                                       timeout=self.p["wait_timeout"])
                if not op.done:
                    self.result["operation"] = op.to_dict()

    def _rbac(self, have):
        """Whether the vault authorizes with Azure RBAC once this run is done."""
        wanted = self.p.get("enable_rbac_authorization")
        if wanted is not None:
            return wanted
        if have is None:
            return vault_mod.CREATE_DEFAULTS["enable_rbac_authorization"]
        return vault_mod.current(have)["enable_rbac_authorization"]

    def _automation_access(self, tenant, rbac):
        if self.principal is None or rbac:
            return []
        return [vault_mod.automation_entry(self.principal.object_id, tenant)]

    def _report_policy_grant(self, policies, tenant):
        """automation_grant for an access-policy vault, from the policies it has before the run."""
        oid = self.principal.object_id
        missing = grants.missing_permissions(policies, oid, vault_mod.AUTOMATION_KEY_PERMISSIONS)
        before = grants.policy_permissions(policies, oid)
        after = grants.normalize_permissions(before + missing)
        self.result["automation_grant"] = {"mode": "access_policy", "scope": self.rid, "principal_id": oid,
                                           "permissions": list(vault_mod.AUTOMATION_KEY_PERMISSIONS),
                                           "before": before, "after": after, "missing": missing}
        if missing:
            self.before["automation_grant"] = before
            self.after["automation_grant"] = after

    def _create(self):
        tenant = self.p.get("tenant_id") or getattr(self.principal, "tenant_id", None) or \
            getattr(getattr(self.m.session, "settings", None), "tenant", None)
        if not tenant:
            self.m.fail_json(msg="tenant_id is needed to create a vault (the credentials do not name a tenant); "
                                 "set tenant_id or AZURE_TENANT")
        rbac = self._rbac(None)
        extra = self._automation_access(tenant, rbac)
        body = vault_mod.create_body(self.p, tenant, extra)
        self._act("create key vault %s" % self.p["name"])
        self.after.update(vault_mod.desired(self.p, creating=True))
        if self.p.get("access_policies"):
            self.after["access_policies"] = vault_mod.access_policy_entries(self.p, tenant)
        if extra:
            self._report_policy_grant([], tenant)
        if self.m.check_mode:
            return vault_mod.predicted(body, self.rid, self.p["name"], _dns_suffix(self.m))
        try:
            op = self.m.arm.put(self.rid, V.KEYVAULT_MANAGEMENT, body, wait=self.p["wait"],
                                timeout=self.p["wait_timeout"])
        except azerr.AzureApiError as exc:
            raise api.with_hint(exc)
        if not op.done:
            self.result["operation"] = op.to_dict()
        return op.resource

    def _update(self, have):
        rbac = self._rbac(have)
        props = have.get("properties") or {}
        extra = self._automation_access(props.get("tenantId"), rbac)
        plan = vault_mod.compare(have, self.p, extra)
        if plan.errors:
            self.m.fail_json(msg=join_errors(plan.errors), errors=plan.errors, diff=plan.diff(), changed=False,
                             vault=vault_mod.to_result(have))
        if extra:
            self._report_policy_grant(props.get("accessPolicies"), props.get("tenantId"))
        self._warn_unfit(have)
        if not plan.changed:
            return have
        if plan.patch:
            self._act("update key vault %s: %s" % (self.p["name"], ", ".join(sorted(plan.patch))))
        for entry in plan.access:
            self._act("add an access policy for %s on key vault %s" % (entry.get("objectId"), self.p["name"]))
        self.result["changed"] = True
        diff = plan.diff()
        self.before.update(diff["before"])
        self.after.update(diff["after"])
        if self.m.check_mode:
            return have
        resource = have
        body = vault_mod.patch_body(plan)
        if body:
            op = self.m.arm.patch(self.rid, V.KEYVAULT_MANAGEMENT, body, wait=self.p["wait"],
                                  timeout=self.p["wait_timeout"])
            resource = op.resource or resource
            if not op.done:
                self.result["operation"] = op.to_dict()
        for entry in plan.access:
            self.m.arm.put(self.rid + "/accessPolicies/add", V.KEYVAULT_MANAGEMENT,
                           {"properties": {"accessPolicies": [entry]}}, wait=True, timeout=self.p["wait_timeout"])
        if plan.access:
            resource = api.get_vault(self.m.arm, self.rid) or resource
        return resource

    def _warn_unfit(self, have):
        if self.p.get("allow_unfit_for_confidential_disks") or self.p.get("enable_purge_protection"):
            return
        if not vault_mod.current(have)["enable_purge_protection"]:
            self.m.warn("vault %s has purge protection off, so a confidential disk encryption set cannot use its keys; "
                        "set enable_purge_protection: true (irreversible) to make it usable" % self.rid)

    def _grant_role(self, resource, exists):
        """Key Vault Crypto Officer at vault scope for the automation principal on an RBAC vault; ``exists``: the
        vault is there to read role assignments at (false in check mode for a vault it would create)."""
        oid = self.principal.object_id
        wanted = list(vault_mod.AUTOMATION_KEY_PERMISSIONS)
        if resource is None and not self.m.check_mode:
            self.m.warn("the vault is still being created (wait: false); re-run with wait: true to grant the "
                        "automation principal its role on the vault")
            return
        try:
            if not exists or not (resource or {}).get("id"):
                # check mode, vault not created yet: nothing can be held at a scope that does not exist
                stub = {"id": self.rid, "properties": {"enableRbacAuthorization": True}}
                outcome = grants.plan_grant(stub, oid, wanted, scope="vault", assignments=[])
                outcome.pop("requests")
                outcome["changed"] = True
            else:
                if not (resource.get("properties") or {}).get("enableRbacAuthorization"):
                    resource = dict(resource, properties=dict(resource.get("properties") or {},
                                                              enableRbacAuthorization=True))
                outcome = grants.ensure_key_permissions(self.m.arm, resource, oid, wanted, scope="vault",
                                                        check_mode=self.m.check_mode,
                                                        principal_type=self.principal.principal_type,
                                                        timeout=self.p["wait_timeout"])
        except grants.GrantError as exc:
            self.m.fail_json(msg=str(exc), **self.result)
        self.result["automation_grant"] = dict((k, v) for k, v in outcome.items() if k != "changed")
        if outcome["changed"]:
            self._act("grant the automation principal %s its key permissions on key vault %s"
                      % (oid, self.p["name"]))
            self.before["automation_grant"] = outcome["before"]
            self.after["automation_grant"] = outcome["after"]


def run_vault(m):
    return VaultBackend(m).run()


# ============================================================================ keyvault_key_info

def run_key_info(m):
    p = m.params
    suffix = _dns_suffix(m)
    errors = key.validate(dict(vault_url=p["vault_url"], name=p["name"], state="absent"), suffix)
    if errors:
        _fail_params(m, errors)
    vault_url = key.parse_vault_url(p["vault_url"], suffix)[0]
    play_facts = facts.Facts.of_params(p)
    kv = api.keys_client(m, play_facts, vault_url)
    bundle = api.get_key(kv, p["name"])
    api.remember_challenge(play_facts, vault_url)
    if bundle is None:
        return {"changed": False, "exists": False, "key": {}}
    versions = key.version_entries(api.list_versions(kv, p["name"])) if p.get("include_versions") else None
    rotation = api.get_rotation_policy(kv, p["name"]) if p.get("include_rotation_policy") else None
    if p.get("include_rotation_policy") and rotation is None:
        rotation = {}
    return {"changed": False, "exists": True, "key": key.to_result(bundle, vault_url, versions, rotation)}
