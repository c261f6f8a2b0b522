# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Key Vault, vault, resource group, attestation and Graph calls, through the plumbing layer's clients.

Every call takes a client (``m.arm``, the KeyClient keys_client() builds, ``m.graph``) and returns plain dicts;
keys_client() is how keyvault_key, keyvault_key_info and disk_encryption_set's key check get a vault's KeyClient.
Key Vault errors are re-raised as the plumbing's AzureApiError with a hint for the fix appended.
"""

from __future__ import (absolute_import, division, print_function)
from __future__ import annotations

__metaclass__ = type

import re

from .._azure import api_versions as V
from .._azure import errors as azerr
from . import facts, release_policy as rp

try:
    from urllib.parse import quote, urlparse
except ImportError:  # pragma: no cover
    from urllib import quote  # type: ignore
    from urlparse import urlparse  # type: ignore

# ---------------------------------------------------------------------------- error hints

_HINTS = (
    (re.compile(r"AKV\.SKR\.1001"), "exportable keys need a Premium vault (or Managed HSM) and Key Vault API 7.3 or "
     "later: create the vault with sku premium (confidential.azure.keyvault) or set exportable: false"),
    (re.compile(r"AKV\.SKR\.1004"), "an exportable key needs a release policy: set release_policy (e.g. default_cvm "
     "with location)"),
    (re.compile(r"AKV\.SKR\.1005"), "a non-exportable key must not carry a release policy: remove release_policy or "
     "set exportable: true"),
    (re.compile(r"standard (vault|tier|sku)|hardware key operation", re.I),
     "RSA-HSM keys need a Premium vault: change the vault's sku to premium (confidential.azure.keyvault sku: "
     "premium) or use key_type RSA with exportable: false"),
    (re.compile(r"ObjectIsDeletedButRecoverable|deleted but recoverable", re.I),
     "a deleted key of this name is in the vault's soft-delete bin: set recover_deleted: true "
     "(confidential.azure.keyvault_key) to recover it with all its versions, or recover it with az keyvault key "
     "recover, wait for its scheduled purge date, or use another name"),
    (re.compile(r"VaultAlreadyExists", re.I),
     "vault names are global and a deleted vault keeps its name in the soft-delete bin until its purge date (with "
     "purge protection that cannot be shortened): recover it (az keyvault recover --name <vault>; its keys come "
     "back with it) or choose another name"),
    (re.compile(r"ForbiddenByFirewall|Client address is not authorized", re.I),
     "the vault's firewall blocks this control node: add its address to the vault's network rules or run from an "
     "allowed network"),
    (re.compile(r"does not have (keys|key) .*permission|AccessDenied|ForbiddenByRbac|not authorized to perform", re.I),
     "the identity running Ansible lacks this permission on the vault: run confidential.azure.keyvault for the vault "
     "first (grant_automation_principal: true, the default, gives it the key permissions on an access-policy vault "
     "and the role Key Vault Crypto Officer on an RBAC vault), or grant them yourself (az keyvault set-policy "
     "--object-id <principal> --key-permissions ..., or az role assignment create --role 'Key Vault Crypto Officer' "
     "--scope <vault id>)"),
    (re.compile(r"ForbiddenByPolicy|Forbidden", re.I),
     "the request was refused (403); check the vault's network rules, Azure Policy assignments and the permissions "
     "of the identity running Ansible"),
    (re.compile(r"PrincipalNotFound", re.I),
     "the principal is not (yet) visible to Azure RBAC; if it was just created wait a minute and re-run"),
)


def hint_for(code, message):
    text = "%s %s" % (code or "", message or "")
    for pattern, hint in _HINTS:
        if pattern.search(text):
            return hint
    return None


def with_hint(exc):
    """Append the fix to an AzureApiError's message (once)."""
    hint = hint_for(exc.code, exc.message) or hint_for(exc.code, " ".join(
        "%s %s" % (d.get("code"), d.get("message")) for d in exc.details or []))
    if hint and "Hint:" not in exc.message:
        exc.message = "%s Hint: %s" % (exc.message.rstrip(), hint)
    return exc


# ---------------------------------------------------------------------------- Key Vault keys (KeyClient)
#
# Every call goes through azure-keyvault-keys' KeyClient (AzureModule.sdk.keys(vault_url)): the SDK builds the
# request from its models, and the JSON Key Vault answered (captured with azure-core's raw_response_hook) is what
# the pure code reads, so results keep Key Vault's own field names and attributes.

_CHALLENGES = {}  # vault origin -> the WWW-Authenticate of the 401 challenge it answered in this process


def _origin(url):
    parsed = urlparse(url)
    return "%s://%s" % (parsed.scheme.lower(), parsed.netloc.lower())


def challenge_seen(vault_url):
    """The vault's Bearer challenge (WWW-Authenticate) this process saw, or None."""
    return _CHALLENGES.get(_origin(vault_url))


def seed_challenge(vault_url, header):
    """Hand the KeyClient the vault's challenge read earlier in the play, so that its first request carries a
    token instead of eliciting a 401 (Key Vault's challenge discovery costs one request in every process).

    azure-keyvault-keys keeps challenges in its own per-process cache (``_shared.http_challenge_cache``, the same
    in 4.5 and 4.11); from 4.6 the SDK checks the challenge's resource against the vault's domain before it asks
    for a token, and a stale challenge is answered with a new 401 that the SDK follows.  The header comes from this
    play's owner-only facts file or from expected_challenge().  Without that module the SDK elicits the challenge."""
    if not header:
        return False
    try:
        from azure.keyvault.keys._shared import http_challenge_cache  # pylint: disable=import-outside-toplevel
        from azure.keyvault.keys._shared.http_challenge import (  # pylint: disable=import-outside-toplevel
            HttpChallenge)

        base = vault_url.rstrip("/") + "/"
        http_challenge_cache.set_challenge_for_url(base, HttpChallenge(base, header))
    except (ImportError, AttributeError, ValueError, TypeError):
        return False
    return True


def expected_challenge(authority, tenant, scope, vault_url, any_host=False):
    """The Bearer challenge a vault of this cloud answers for this tenant, or None when the vault is not under
    the scope's domain (the same check the KeyClient makes before it asks for a token).

    ``any_host``: the cloud serves vaults off its Key Vault domain (Azure Stack Hub by IP, a local simulator), so
    the KeyClient cannot check the challenge's resource and would take whatever resource a 401 names; seeding the
    cloud's own Key Vault resource is then the stricter choice, whatever the vault's host."""
    if not (authority and tenant and scope):
        return None
    resource = scope[:-len("/.default")] if scope.endswith("/.default") else scope
    host = (urlparse(vault_url).hostname or "").lower()
    domain = (urlparse(resource).hostname or "").lower()
    if not domain or not (any_host or host.endswith("." + domain)):
        return None
    return 'Bearer authorization="%s/%s", resource="%s"' % (authority.rstrip("/"), tenant, resource)


class KeyArgumentError(ValueError):
    """A request body field the KeyClient has no parameter for (never dropped silently)."""


def _answers(call, allow_404=False):
    """The JSON of every successful answer to ``call(raw_response_hook)`` (pages of a list, or the one result).

    The hook also sees the challenge (401) and refused (403) answers that the pipeline retries; only 2xx count.
    A 404 is ``None`` with allow_404; other errors are AzureApiError with Azure's code and a hint."""
    from .._azure import clients  # pylint: disable=import-outside-toplevel

    seen = []

    def hook(pipeline_response):
        response = pipeline_response.http_response
        header = response.headers.get("WWW-Authenticate") or ""
        if response.status_code == 401 and header.lower().startswith("bearer "):
            _CHALLENGES[_origin(response.request.url)] = header
        seen.append(response)

    try:
        with clients.translated():
            call(hook)
    except azerr.AzureApiError as exc:
        if allow_404 and exc.status == 404:
            return None
        raise with_hint(exc)
    return [clients.response_json(r) for r in seen if 200 <= r.status_code < 300]


def _answer(call, allow_404=False):
    answers = _answers(call, allow_404)
    return answers[-1] if answers else None


def _release_policy(wire):
    """KeyReleasePolicy of a release_policy body ({contentType, data (base64url), immutable})."""
    from azure.keyvault.keys import KeyReleasePolicy  # pylint: disable=import-outside-toplevel

    _only(wire, ("contentType", "data", "immutable"), "release_policy")
    return KeyReleasePolicy(rp.b64url_decode(wire["data"]), content_type=wire.get("contentType"),
                            immutable=wire.get("immutable"))


def _only(body, known, where):
    unknown = sorted(set(body) - set(known))
    if unknown:
        raise KeyArgumentError("%s: KeyClient has no parameter for %s" % (where, ", ".join(unknown)))


def key_arguments(body, creating):
    """KeyClient keywords for a KeyCreateParameters (creating) or KeyUpdateParameters body built by key.py."""
    _only(body, ("kty", "key_size", "key_ops", "attributes", "tags", "release_policy") if creating else
          ("key_ops", "attributes", "tags", "release_policy"), "key body")
    attrs = body.get("attributes") or {}
    _only(attrs, ("enabled", "exportable") if creating else ("enabled",), "key attributes")
    out = {}
    for field, keyword in (("key_size", "size"), ("key_ops", "key_operations"), ("tags", "tags")):
        if field in body:
            out[keyword] = body[field]
    for field in ("enabled", "exportable"):
        if field in attrs:
            out[field] = attrs[field]
    if body.get("release_policy") is not None:
        out["release_policy"] = _release_policy(body["release_policy"])
    return out


def keys_client(m, play_facts, vault_url):
    """The vault's KeyClient (``m.sdk.keys``), given the vault's challenge (as the play already read it, else the
    one Key Vault answers for the session's tenant and cloud) so that its first request carries a token: no 401
    round trip.  After the first call, remember_challenge() keeps what the vault answered for the play."""
    from .._azure import clients  # pylint: disable=import-outside-toplevel

    session = m.session
    cloud = getattr(session, "cloud", None)
    off_domain = cloud is not None and not clients.verify_challenge(cloud, vault_url)
    header = play_facts.get("keyvault-challenge", (vault_url.lower(),), facts.ATTESTATION_TTL) or \
        expected_challenge(getattr(session, "authority", None),
                           getattr(getattr(session, "settings", None), "tenant", None),
                           getattr(cloud, "keyvault_scope", None), vault_url, any_host=off_domain)
    seed_challenge(vault_url, header)
    return m.sdk.keys(vault_url)


def remember_challenge(play_facts, vault_url):
    """Keep the vault's challenge this process saw in the play's facts (used only with the token cache on)."""
    header = challenge_seen(vault_url)
    if header:
        play_facts.put("keyvault-challenge", (vault_url.lower(),), header)


def get_key(keys, name, version=None):
    """The KeyBundle of the latest version (or of ``version``), or None when Key Vault answers 404."""
    return _answer(lambda hook: keys.get_key(name, version, raw_response_hook=hook), allow_404=True)


def create_key(keys, name, body):
    """The first version, or a new version of an existing key (rotate with the requested properties)."""
    kwargs = key_arguments(body, creating=True)
    return _answer(lambda hook: keys.create_key(name, body["kty"], raw_response_hook=hook, **kwargs))


def update_key(keys, name, version, body):
    kwargs = key_arguments(body, creating=False)
    return _answer(lambda hook: keys.update_key_properties(name, version, raw_response_hook=hook, **kwargs))


def delete_key(keys, name):
    """Delete all versions (soft delete): one DELETE; the SDK's poller (it waits for the deleted-key entry to be
    readable, for a later recover or purge) is not run."""
    return _answer(lambda hook: keys.begin_delete_key(name, raw_response_hook=hook), allow_404=True)


def get_deleted_key(keys, name):
    """The DeletedKeyBundle of the key in the vault's soft-delete bin, or None when Key Vault answers 404."""
    return _answer(lambda hook: keys.get_deleted_key(name, raw_response_hook=hook), allow_404=True)


#: Seconds recover_deleted_key waits for Key Vault to serve a recovered key (as long as grants wait for ARM writes).
RECOVER_TIMEOUT = 600


def recover_deleted_key(keys, name, timeout=None):
    """Recover a soft-deleted key (all its versions): one POST, then the SDK's poller GETs the key until Key Vault
    serves it again, for at most ``timeout`` seconds (LroTimeout after that).  The KeyBundle Key Vault last
    answered (the poller's GET, else the recover answer)."""
    timeout = RECOVER_TIMEOUT if timeout is None else timeout

    def recover(hook):
        poller = keys.begin_recover_deleted_key(name, raw_response_hook=hook)
        poller.wait(timeout)
        if not poller.done():
            url = "%s/keys/%s" % ((getattr(keys, "vault_url", None) or "").rstrip("/"), name)
            raise azerr.LroTimeout("Key Vault accepted the recovery of deleted key %s but did not serve the key within "
                                   "%s seconds; re-run the task once the key is back (it is then compared and "
                                   "updated like any existing key)" % (name, timeout), url, url, poller.status())
    return _answer(recover)


def list_versions(keys, name):
    """Every version's KeyItem (all pages), [] when the key does not exist."""
    def walk(hook):
        for _item in keys.list_properties_of_key_versions(name, raw_response_hook=hook):
            pass
    pages = _answers(walk, allow_404=True) or []
    return [item for page in pages for item in (page or {}).get("value") or []]


def get_rotation_policy(keys, name):
    return _answer(lambda hook: keys.get_key_rotation_policy(name, raw_response_hook=hook), allow_404=True)


def rotation_policy_model(body):
    """KeyRotationPolicy of a rotation policy body ({lifetimeActions, attributes.expiryTime}) built by key.py."""
    from azure.keyvault.keys import (  # pylint: disable=import-outside-toplevel
        KeyRotationLifetimeAction, KeyRotationPolicy)

    _only(body, ("lifetimeActions", "attributes"), "rotation_policy")
    _only(body.get("attributes") or {}, ("expiryTime",), "rotation_policy attributes")
    actions = []
    for item in body.get("lifetimeActions") or []:
        _only(item, ("trigger", "action"), "rotation_policy lifetime action")
        trigger = item.get("trigger") or {}
        _only(trigger, ("timeAfterCreate", "timeBeforeExpiry"), "rotation_policy trigger")
        _only(item.get("action") or {}, ("type",), "rotation_policy action")
        actions.append(KeyRotationLifetimeAction(item["action"]["type"],
                                                 time_after_create=trigger.get("timeAfterCreate"),
                                                 time_before_expiry=trigger.get("timeBeforeExpiry")))
    return KeyRotationPolicy(lifetime_actions=actions, expires_in=(body.get("attributes") or {}).get("expiryTime"))


def put_rotation_policy(keys, name, body):
    """The policy Key Vault stored (None when this SDK version does not hand the answer back)."""
    policy = rotation_policy_model(body)
    return _answer(lambda hook: keys.update_key_rotation_policy(name, policy, raw_response_hook=hook))


# ---------------------------------------------------------------------------- ARM

def get_vault(arm, vault_id):
    return arm.get(vault_id, V.KEYVAULT_MANAGEMENT)


def find_vault_id(arm, subscription_id, vault_name):
    """ARM id of the vault named ``vault_name`` in the subscription (one filtered resource list), or None."""
    items = arm.list("/subscriptions/%s/resources" % subscription_id, V.RESOURCES, params={
        "$filter": "resourceType eq 'Microsoft.KeyVault/vaults' and name eq '%s'" % vault_name})
    for item in items:
        if str(item.get("name", "")).lower() == vault_name.lower() and \
                str(item.get("type", "")).lower() == "microsoft.keyvault/vaults":
            return item.get("id")
    return None


def default_attestation_uri(arm, subscription_id, location):
    """The region's shared attestation provider URI (what ``az keyvault key create --default-cvm-policy`` reads)."""
    path = "/subscriptions/%s/providers/Microsoft.Attestation/locations/%s/defaultProvider" % (
        subscription_id, quote(location, safe=""))
    data = arm.get(path, V.ATTESTATION_PROVIDERS)
    uri = ((data or {}).get("properties") or {}).get("attestUri")
    if not uri:
        raise azerr.AzureApiError(404, "NoDefaultAttestationProvider",
                                  "region %s has no default attestation provider; set release_policy_authorities "
                                  "to the attestation URLs you trust" % location)
    return uri


def service_principal_object_id(graph, app_id):
    """Object id of the tenant's service principal for ``app_id`` (Microsoft Graph), or None when absent."""
    status, headers, data = graph.request("GET", "/v1.0/servicePrincipals(appId='%s')" % app_id)
    if status == 404:
        return None
    if not 200 <= status < 300:
        raise with_hint(azerr.from_response(status, data, headers, "GET", graph.url(
            "/v1.0/servicePrincipals(appId='%s')" % app_id)))
    return (data or {}).get("id")
