# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""attestation_evidence through its real argument parsing, against a fake tpm2-tools and a fake IMDS."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import base64
import contextlib
import json
import os
import struct

import pytest

from ansible.module_utils import basic
from ansible_collections.confidential.azure.plugins.modules import attestation_evidence as mod

NONCE = "a1" * 32
PCR_VALUES = dict((i, bytes([i + 1]) * 32) for i in range(24))


def hcl_report(size=2600, report_type=2, claims=None):
    claims = json.dumps(claims if claims is not None else {
        "keys": [{"kid": "HCLAkPub", "kty": "RSA", "e": "AQAB", "n": "AAAA"}],
        "vm-configuration": {"vmUniqueId": "11111111-2222-3333-4444-555555555555"},
    }, separators=(",", ":")).encode()
    out = bytearray(size)
    struct.pack_into("<4sIII", out, 0, b"HCLA", 2, size, 2)
    out[0x20:0x20 + 16] = b"HWREPORT-PAYLOAD"
    struct.pack_into("<IIIII", out, 0x4C0, 20 + len(claims), 1, report_type, 1, len(claims))
    out[0x4D4:0x4D4 + len(claims)] = claims
    return bytes(out)


def der_cert_padded():
    body = b"\x30\x82\x01\x00" + b"\x5a" * 0x100       # SEQUENCE, 256-byte body
    return body, body + b"\x00" * (4096 - len(body))


class FakeTpm(object):
    """Just enough of tpm2-tools 5.x: NV indices, persistent AK, quote files."""

    def __init__(self, nv=None, fail=None):
        self.nv = dict(nv or {})
        self.defined = []
        self.calls = []
        self.envs = []
        self.fail = fail or {}

    def __call__(self, module_self, args, **kwargs):
        tool = os.path.basename(args[0])
        self.calls.append([tool] + list(args[1:]))
        self.envs.append(kwargs.get("environ_update") or {})
        if tool in self.fail:
            return 1, "", self.fail[tool]
        opts = args[1:]

        def opt(flag):
            return opts[opts.index(flag) + 1]

        if tool == "tpm2_flushcontext":
            return 0, "", ""
        if tool == "tpm2_getcap":
            return 0, "".join("- 0x%X\n" % h for h in sorted(self.nv)), ""
        if tool == "tpm2_nvdefine":
            index = int(opts[0], 16)
            self.nv[index] = b"\x00" * int(opt("-s"))
            self.defined.append((index, opt("-a")))
            return 0, "", ""
        if tool == "tpm2_nvwrite":
            index = int(opts[2], 16)
            with open(opt("-i"), "rb") as handle:
                data = handle.read()
            if index not in self.nv or len(data) > len(self.nv[index]):
                return 1, "", "ERROR: nvwrite"
            self.nv[index] = data + self.nv[index][len(data):]
            return 0, "", ""
        if tool == "tpm2_nvread":
            index = int(opts[2], 16)
            with open(opt("-o"), "wb") as handle:
                handle.write(self.nv[index])
            return 0, "", ""
        if tool == "tpm2_quote":
            selection = [int(p) for p in opt("-l").split(":")[1].split(",")]
            with open(opt("-m"), "wb") as handle:
                handle.write(b"\xffTCG\x80\x18" + bytes.fromhex(opt("-q")))
            with open(opt("-s"), "wb") as handle:
                handle.write(b"S" * 256)
            with open(opt("-o"), "wb") as handle:
                handle.write(b"".join(PCR_VALUES[i] for i in selection))
            return 0, "quoted: ...", ""
        raise AssertionError("unexpected tool %s" % tool)

    def tool_calls(self, tool):
        return [c for c in self.calls if c[0] == tool]


class FakeImds(object):
    def __init__(self, reachable=True, thim=None, td_quote=None, compute=None):
        self.reachable = reachable
        self.requests = []
        self.thim = thim or {"vcekCert": "-----BEGIN CERTIFICATE-----\nVCEK\n-----END CERTIFICATE-----\n",
                             "certificateChain": "-----BEGIN CERTIFICATE-----\nASK\n-----END CERTIFICATE-----\n"
                                                 "-----BEGIN CERTIFICATE-----\nARK\n-----END CERTIFICATE-----\n",
                             "tcbm": "7300000000000803"}
        self.td_quote = td_quote
        self.compute = compute if compute is not None else {"vmId": "vm-from-imds", "location": "westeurope"}

    def __call__(self, url, method=None, data=None, headers=None, **kwargs):
        self.requests.append({"url": url, "method": method, "data": data, "headers": headers})
        if not self.reachable:
            raise OSError("connection refused")
        if url.endswith("/metadata/THIM/amd/certification"):
            body = self.thim
        elif url.endswith("/acc/tdquote"):
            body = {"quote": self.td_quote}
        elif "/metadata/instance/compute" in url:
            body = self.compute
        else:
            raise AssertionError(url)
        payload = json.dumps(body).encode()

        class Resp(object):
            def read(self):
                return payload
        return Resp()


@contextlib.contextmanager
def module_args(args):
    try:
        from ansible.module_utils.testing import patch_module_args
    except ImportError:  # ansible-core < 2.19
        payload = json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode()
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(basic, "_ANSIBLE_ARGS", payload)
            yield
        return
    with patch_module_args(args):
        yield


def run(monkeypatch, args, tpm, imds, tool_paths=True):
    def run_command(self, cmd, **kw):
        return tpm(self, cmd, **kw)
    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path",
                        lambda self, name, *a, **k: ("/usr/bin/" + name) if tool_paths else None)
    monkeypatch.setattr(mod, "open_url", imds)
    monkeypatch.setattr(mod.time, "sleep", lambda s: tpm.calls.append(["sleep", s]))
    created = []
    real_mkdtemp = mod.tempfile.mkdtemp

    def mkdtemp(*a, **k):
        path = real_mkdtemp(*a, **k)
        created.append(path)
        return path
    monkeypatch.setattr(mod.tempfile, "mkdtemp", mkdtemp)
    full = {"nonce": NONCE}
    full.update(args)
    out = {}

    def exit_json(self, **kw):
        out.update(kw)
        raise SystemExit(0)

    def fail_json(self, **kw):
        kw["failed"] = True
        out.update(kw)
        raise SystemExit(1)
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
    with module_args(full):
        with pytest.raises(SystemExit):
            mod.main()
    out["_tempdirs"] = created
    return out


def test_nonce_is_written_zero_padded_to_a_newly_defined_owner_index(monkeypatch):
    tpm = FakeTpm(nv={0x01400001: hcl_report()})
    res = run(monkeypatch, {"collect_vcek": False}, tpm, FakeImds())
    assert not res.get("failed"), res
    assert tpm.defined == [(0x01400002, "ownerread|ownerwrite")]
    assert tpm.nv[0x01400002] == bytes.fromhex(NONCE) + b"\x00" * 32
    assert res["report_data_index_defined"] is True
    assert res["changed"] is False
    assert set(res["evidence"]) <= {"hcl_report", "tpm_quote", "ak_cert", "vcek", "td_quote", "event_log", "vm_id",
                                    "location"}


def test_existing_report_data_index_is_reused_and_nonce_written_before_report_is_read(monkeypatch):
    tpm = FakeTpm(nv={0x01400001: hcl_report(), 0x01400002: b"\xee" * 64})
    res = run(monkeypatch, {"collect_vcek": False, "wait_seconds": 2.5}, tpm, FakeImds())
    assert tpm.defined == []
    assert res["report_data_index_defined"] is False
    assert tpm.nv[0x01400002] == bytes.fromhex(NONCE) + b"\x00" * 32
    order = [c[0] for c in tpm.calls if c[0] in ("tpm2_nvwrite", "sleep", "tpm2_nvread")]
    assert order[:3] == ["tpm2_nvwrite", "sleep", "tpm2_nvread"]
    assert ["sleep", 2.5] in tpm.calls


@pytest.mark.parametrize("size", [2600, 2048])
def test_hcl_report_of_both_sizes_is_returned_verbatim(monkeypatch, size):
    report = hcl_report(size=size)
    tpm = FakeTpm(nv={0x01400001: report})
    res = run(monkeypatch, {"collect_vcek": False}, tpm, FakeImds())
    assert base64.b64decode(res["evidence"]["hcl_report"]) == report
    assert res["report_type"] == "sevsnp"


def test_quote_uses_the_ak_the_nonce_and_plain_signature_and_returns_pcrs_by_index(monkeypatch):
    tpm = FakeTpm(nv={0x01400001: hcl_report()})
    res = run(monkeypatch, {"collect_vcek": False}, tpm, FakeImds())
    quote = tpm.tool_calls("tpm2_quote")[0]
    assert quote[quote.index("-c") + 1] == "0x81000003"
    assert quote[quote.index("-l") + 1] == "sha256:0,1,2,3,4,5,6,7"
    assert quote[quote.index("-q") + 1] == NONCE
    assert quote[quote.index("-f") + 1] == "plain"
    assert quote[quote.index("-g") + 1] == "sha256"
    q = res["evidence"]["tpm_quote"]
    assert base64.b64decode(q["message"]).endswith(bytes.fromhex(NONCE))
    assert base64.b64decode(q["signature"]) == b"S" * 256
    assert q["pcrs"] == dict((str(i), PCR_VALUES[i].hex()) for i in range(8))


def test_contexts_are_flushed_after_every_tpm_command(monkeypatch):
    tpm = FakeTpm(nv={0x01400001: hcl_report()})
    run(monkeypatch, {"collect_vcek": False}, tpm, FakeImds())
    tools = [c[0] for c in tpm.calls]
    for i, tool in enumerate(tools):
        if tool in ("tpm2_nvdefine", "tpm2_nvwrite", "tpm2_nvread", "tpm2_quote"):
            assert tools[i + 1] == "tpm2_flushcontext"


def test_tcti_reaches_every_tpm2_tools_call(monkeypatch):
    tpm = FakeTpm(nv={0x01400001: hcl_report()})
    run(monkeypatch, {"collect_vcek": False, "tcti": "swtpm:host=127.0.0.1,port=2321"}, tpm, FakeImds())
    assert tpm.envs and all(e == {"TPM2TOOLS_TCTI": "swtpm:host=127.0.0.1,port=2321"} for e in tpm.envs)


def test_ak_certificate_is_cut_at_its_der_length(monkeypatch):
    der, padded = der_cert_padded()
    tpm = FakeTpm(nv={0x01400001: hcl_report(), 0x01C101D0: padded})
    res = run(monkeypatch, {"collect_vcek": False}, tpm, FakeImds())
    assert base64.b64decode(res["evidence"]["ak_cert"]) == der


def test_no_ak_cert_key_without_the_index(monkeypatch):
    tpm = FakeTpm(nv={0x01400001: hcl_report()})
    res = run(monkeypatch, {"collect_vcek": False}, tpm, FakeImds())
    assert "ak_cert" not in res["evidence"]


def test_snp_vcek_chain_comes_from_imds_thim_with_the_metadata_header(monkeypatch):
    imds = FakeImds()
    tpm = FakeTpm(nv={0x01400001: hcl_report(report_type=2)})
    res = run(monkeypatch, {"imds_endpoint": "http://10.0.2.2:8080/"}, tpm, imds)
    thim = [r for r in imds.requests if r["url"].endswith("/THIM/amd/certification")][0]
    assert thim["url"] == "http://10.0.2.2:8080/metadata/THIM/amd/certification"
    assert thim["headers"]["Metadata"] == "true"
    assert res["evidence"]["vcek"].count("BEGIN CERTIFICATE") == 3
    assert res["evidence"]["vcek"].index("VCEK") < res["evidence"]["vcek"].index("ASK")
    assert "td_quote" not in res["evidence"]


def test_tdx_quote_is_requested_with_the_base64url_tdreport(monkeypatch):
    raw_quote = b"\x04\x00" + b"Q" * 100 + b"\xfb\xff"
    imds = FakeImds(td_quote=base64.urlsafe_b64encode(raw_quote).decode().rstrip("="))
    report = hcl_report(report_type=4)
    tpm = FakeTpm(nv={0x01400001: report})
    res = run(monkeypatch, {}, tpm, imds)
    post = [r for r in imds.requests if r["url"].endswith("/acc/tdquote")][0]
    assert post["method"] == "POST"
    body = json.loads(post["data"])
    sent = base64.urlsafe_b64decode(body["report"] + "=" * (-len(body["report"]) % 4))
    assert sent == report[0x20:0x20 + 1024]
    assert base64.b64decode(res["evidence"]["td_quote"]) == raw_quote
    assert res["report_type"] == "tdx"
    assert "vcek" not in res["evidence"]


def test_unreachable_imds_fails_clearly_when_the_vcek_is_needed(monkeypatch):
    tpm = FakeTpm(nv={0x01400001: hcl_report()})
    res = run(monkeypatch, {}, tpm, FakeImds(reachable=False))
    assert res["failed"]
    assert "Instance Metadata Service" in res["msg"]
    assert "THIM/amd/certification" in res["msg"]


def test_vm_id_falls_back_to_the_hcl_claims_without_imds(monkeypatch):
    tpm = FakeTpm(nv={0x01400001: hcl_report()})
    res = run(monkeypatch, {"collect_vcek": False}, tpm, FakeImds(reachable=False))
    assert not res.get("failed")
    assert res["evidence"]["vm_id"] == "11111111-2222-3333-4444-555555555555"
    assert "location" not in res["evidence"]


def test_vm_id_and_location_from_instance_metadata(monkeypatch):
    tpm = FakeTpm(nv={0x01400001: hcl_report()})
    res = run(monkeypatch, {}, tpm, FakeImds())
    assert res["evidence"]["vm_id"] == "vm-from-imds"
    assert res["evidence"]["location"] == "westeurope"


def test_check_mode_writes_nothing_and_returns_no_evidence(monkeypatch):
    tpm = FakeTpm(nv={0x01400001: hcl_report()})
    res = run(monkeypatch, {"_ansible_check_mode": True}, tpm, FakeImds())
    assert res["skipped"] is True and res["evidence"] == {} and res["changed"] is False
    assert not tpm.tool_calls("tpm2_nvwrite") and not tpm.tool_calls("tpm2_nvdefine")


def test_private_temp_dir_is_removed(monkeypatch):
    tpm = FakeTpm(nv={0x01400001: hcl_report()})
    res = run(monkeypatch, {"collect_vcek": False}, tpm, FakeImds())
    assert res["_tempdirs"] and not any(os.path.exists(p) for p in res["_tempdirs"])


def test_temp_dir_is_removed_on_failure_too(monkeypatch):
    tpm = FakeTpm(nv={0x01400001: hcl_report()}, fail={"tpm2_quote": "ERROR: handle 0x81000003 not found"})
    res = run(monkeypatch, {"collect_vcek": False}, tpm, FakeImds())
    assert res["failed"] and "tpm2_quote" in res["msg"] and "0x81000003" in res["msg"]
    assert not any(os.path.exists(p) for p in res["_tempdirs"])


def test_missing_hcl_report_index_is_a_clear_error(monkeypatch):
    res = run(monkeypatch, {"collect_vcek": False}, FakeTpm(), FakeImds())
    assert res["failed"] and "0x01400001" in res["msg"]


def test_missing_tpm2_tools_is_a_clear_error(monkeypatch):
    res = run(monkeypatch, {}, FakeTpm(), FakeImds(), tool_paths=False)
    assert res["failed"] and "tpm2-tools" in res["msg"]


@pytest.mark.parametrize("nonce", ["", "abc", "zz" * 4, "00" * 65, "0x", "  ", "0x" + "ab" * 32, "ab" * 15,
                                   " " + "ab" * 32])
def test_bad_nonces_are_rejected_before_touching_the_tpm(monkeypatch, nonce):
    tpm = FakeTpm(nv={0x01400001: hcl_report()})
    res = run(monkeypatch, {"nonce": nonce}, tpm, FakeImds())
    assert res["failed"] and "nonce" in res["msg"]
    assert tpm.calls == []


def test_event_log_is_included_when_asked(monkeypatch, tmp_path):
    log = tmp_path / "binary_bios_measurements"
    log.write_bytes(b"\x00\x01TCG-LOG")
    tpm = FakeTpm(nv={0x01400001: hcl_report()})
    res = run(monkeypatch, {"collect_vcek": False, "include_event_log": True, "event_log_path": str(log)}, tpm, FakeImds())
    assert base64.b64decode(res["evidence"]["event_log"]) == b"\x00\x01TCG-LOG"


def test_der_cut_rejects_garbage():
    with pytest.raises(mod.EvidenceError):
        mod.der_cut(b"\xff" * 10)
    with pytest.raises(mod.EvidenceError):
        mod.der_cut(b"\x30\x82\x10\x00" + b"\x00" * 10)


def test_ak_cert_with_bytes_after_the_der_is_refused():
    body = b"\x30\x03\x02\x01\x05"
    assert mod.der_cut(body + b"\0" * 20) == body
    with pytest.raises(mod.EvidenceError):
        mod.der_cut(body + b"\x01")


def test_the_guest_uses_the_verifiers_parsers():
    from ansible_collections.confidential.azure.plugins.module_utils._attestation import hcl, util
    assert mod.hcl_summary is hcl.summary and mod.b64 is util.b64std
    assert mod.b64_any_to_std("-_8") == "+/8="


def test_modules_parsers_compile_for_python_3_8():
    import ast
    here = os.path.dirname(os.path.abspath(mod.__file__))
    utils = os.path.join(here, "..", "module_utils", "_attestation")
    for name in ("der.py", "errors.py", "hcl.py", "limits.py", "util.py"):
        with open(os.path.join(utils, name)) as handle:
            ast.parse(handle.read(), name, feature_version=(3, 8))
    with open(mod.__file__) as handle:
        ast.parse(handle.read(), "attestation_evidence.py", feature_version=(3, 8))
