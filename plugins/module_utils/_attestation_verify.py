# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Ansible side of attestation_verify: option handling, MAA over open_url, and the hand-over to the pure
verifier in _attestation/ (which imports neither Ansible nor an Azure SDK)."""

from __future__ import (absolute_import, division, print_function)

__metaclass__ = type

import datetime
import json
import traceback

from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.six.moves.urllib.error import HTTPError
from ansible.module_utils.urls import open_url

from ._attestation import certs as att_certs
from ._attestation import policy as att_policy
from ._attestation.errors import AttestationError
from ._attestation.maa import attest_path, certs_url
from ._attestation.trust import TrustStore
from ._attestation.verify import parse_nonce, verify_evidence


class MaaHttpError(AttestationError):
    pass


class MaaClient(object):
    """MAA platform attestation over HTTPS with Ansible's open_url."""

    def __init__(self, endpoint, ca_bundle=None, validate_certs=True, api_versions=None, timeout=30):
        self.endpoint = endpoint.rstrip("/")
        self.ca_bundle = ca_bundle
        self.validate_certs = validate_certs
        self.api_versions = api_versions or {}
        self.timeout = timeout

    def _call(self, url, method="GET", body=None):
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body)
        try:
            resp = open_url(url, method=method, data=data, headers=headers, validate_certs=self.validate_certs,
                            ca_path=self.ca_bundle, timeout=self.timeout, follow_redirects="none")
            text = resp.read()
        except HTTPError as exc:
            detail = ""
            try:
                err = json.loads(exc.read()).get("error") or {}
                detail = "%s: %s" % (err.get("code"), err.get("message"))
            except Exception:
                detail = to_native(exc)
            raise MaaHttpError("HTTP %s from %s: %s" % (exc.code, url.split("?")[0], detail), check="maa.request")
        except Exception as exc:
            raise MaaHttpError("cannot reach %s: %s" % (url.split("?")[0], to_native(exc)), check="maa.request")
        try:
            return json.loads(text)
        except ValueError:
            raise MaaHttpError("%s did not return JSON" % url.split("?")[0], check="maa.request")

    def attest(self, kind, body):
        version = self.api_versions.get("snp" if kind == "SevSnpVm" else "tdx")
        data = self._call(self.endpoint + attest_path(kind, version), "POST", body)
        token = data.get("token") if isinstance(data, dict) else None
        if not isinstance(token, str):
            raise MaaHttpError("MAA response has no token", check="maa.request")
        return token

    def jwks(self):
        return self._call(certs_url(self.endpoint))


def _maa_endpoint(module, maa):
    endpoint, ca_bundle = maa.get("endpoint"), maa.get("ca_bundle")
    if not endpoint or not ca_bundle:
        try:
            from ._azure import cloud as az_cloud  # pylint: disable=import-outside-toplevel
            env = az_cloud.from_setting(maa.get("cloud_environment"))
        except Exception as exc:
            if not endpoint:
                module.fail_json(msg="maa.endpoint is not set and no cloud environment gives one: %s" % to_native(exc))
            env = None
        if env is not None:
            endpoint = endpoint or env.attestation_endpoint
            ca_bundle = ca_bundle or env.ca_bundle
    if not endpoint:
        module.fail_json(msg="maa.use is true but no MAA endpoint is configured (maa.endpoint or the cloud's "
                             "attestation_endpoint)")
    if not endpoint.lower().startswith("https://"):
        module.fail_json(msg="maa.endpoint must be an https:// URL")
    return endpoint.rstrip("/"), ca_bundle


def _verification_time(module, value):
    """verification_time (ISO 8601 with a time zone, or epoch seconds) -> epoch seconds; None = now."""
    if value in (None, ""):
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        module.fail_json(msg="verification_time must be epoch seconds or an ISO 8601 time with a time zone "
                             "(for example 2025-12-02T08:00:00Z), got %r" % value)
    return when.timestamp()


def run(module):
    """Verify module.params['evidence'] and exit (or fail) the module with the verdict."""

    if not att_certs.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=to_native(att_certs.CRYPTOGRAPHY_IMPORT_ERROR))
    if not att_certs.cryptography_recent_enough():
        module.fail_json(msg=missing_required_lib("cryptography >= %d.%d" % att_certs.CRYPTOGRAPHY_MIN_VERSION) +
                         " (installed: %d.%d; older versions cannot parse AMD's RSA-PSS certificates)"
                         % att_certs.cryptography_version())
    if not att_policy.HAS_JMESPATH:
        module.fail_json(msg=missing_required_lib("jmespath"), exception=to_native(att_policy.JMESPATH_IMPORT_ERROR))

    p = module.params
    # suboption defaults are filled in with None: keep only what the user set
    evidence = dict((k, v) for k, v in p["evidence"].items() if v is not None)
    user_policy = []
    for a in p["policy"]:
        item = dict(name=a["name"], query=a["query"])
        if a.get("description"):
            item["description"] = a["description"]
        # 'expect' absent means "truthy"; an explicit null is not expressible, use a query instead
        if a.get("expect") is not None:
            item["expect"] = a["expect"]
        user_policy.append(item)
    try:
        att_policy.validate(user_policy)
    except AttestationError as exc:
        module.fail_json(msg="invalid policy: %s" % exc)
    try:
        parse_nonce(p["nonce"])
    except AttestationError as exc:
        module.fail_json(msg="invalid nonce: %s; pass the fresh random nonce the controller generated (for example "
                             "lookup('ansible.builtin.password', '/dev/null', chars=['0123456789abcdef'], length=64)), "
                             "never a value returned by the guest" % exc)
    now = _verification_time(module, p["verification_time"])
    release_policy = p["release_policy"]
    if isinstance(release_policy, str):
        try:
            release_policy = json.loads(release_policy)
        except ValueError as exc:
            module.fail_json(msg="release_policy is not valid JSON: %s" % to_native(exc))
    try:
        store = TrustStore.from_dict(dict((k, v) for k, v in (p["trust"] or {}).items() if v))
    except AttestationError as exc:
        module.fail_json(msg="invalid trust settings: %s" % exc)

    options = dict(
        require_nonce_binding=p["require_nonce_binding"],
        insecure_skip_provenance=p["insecure_skip_provenance"],
        policy_strict=p["policy_strict"],
        expected_tee=p["expected_tee"],
        policy=user_policy,
        default_policy=p["default_policy"],
        release_policy=release_policy,
    )
    if now is not None:
        options["now"] = now
    for name in ("required_pcrs", "crls", "tdx_collateral", "tdx_min_tee_tcb_svn", "tdx_accepted_tcb_statuses"):
        if p[name]:
            options[name] = p[name]
    guest_policy = dict((k, v) for k, v in (p["snp_guest_policy"] or {}).items() if v is not None)
    if guest_policy:
        options["snp_guest_policy"] = guest_policy
    if p["snp_minimum"]:
        minimum = dict((k, v) for k, v in p["snp_minimum"].items() if v is not None)
        if minimum:
            options["snp_minimum"] = minimum
    maa = p["maa"] or {}
    if maa.get("use"):
        endpoint, ca_bundle = _maa_endpoint(module, maa)
        client = MaaClient(endpoint, ca_bundle=ca_bundle, validate_certs=maa["validate_certs"],
                           api_versions=maa.get("api_versions") or {}, timeout=maa["timeout"])
        options["maa"] = dict(attest=client.attest, jwks=client.jwks, issuer=endpoint,
                              certs_url=certs_url(endpoint))

    try:
        res = verify_evidence(evidence, p["nonce"], store, options)
        out = res.to_dict()
    except Exception as exc:  # verify_evidence never raises by design; fail closed if it does
        module.fail_json(msg="attestation verification crashed: %s" % to_native(exc), verdict="fail",
                         exception=traceback.format_exc())

    failed = [c["name"] for c in out["checks"] if c["result"] == "fail"]
    out["failed_checks"] = failed
    out["tee"] = res.tee
    out["nonce_bound"] = res.nonce_bound
    if res.insecure_skip_provenance:
        module.warn("insecure_skip_provenance is true: nothing proves this evidence comes from an Azure confidential VM")
    out["changed"] = False
    if out["verdict"] != "pass" and p["fail_on_fail"]:
        reason = ", ".join(failed) or "a mandatory check did not run"
        module.fail_json(msg="attestation verdict: fail (failed checks: %s)" % reason, **out)
    module.exit_json(**out)
