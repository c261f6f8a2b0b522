# -*- coding: utf-8 -*-
# Copyright (c) confidential.azure contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Guest agent of confidential.azure.data_disk_encryption (Python 3.8 stdlib + tpm2-tools + cryptsetup).

  agent.py open NAME     attest, release, unwrap in the vTPM, open the LUKS2 volume (the boot unit runs this)
  agent.py close NAME    close the volume
  agent.py plan          what a role run would do, and each disk's state (JSON on stdout)
  agent.py provision [--open]   format / keep / re-wrap and wire the boot units; with --open also start the
                         unlock units and mounts of closed disks now; then each disk's state (JSON on stdout)
  (plan and provision take --config-stdin: the desired configuration on stdin, stored for the boot units)
  agent.py status        each disk's state: this boot's status files and the mapper/mount (JSON on stdout)
  agent.py render        unit and fstab lines for the configured disks (JSON on stdout)

Secrets (the MAA transport key, the released private key, the keyslot passphrase) exist only in this
process's memory and in pipes to the TPM tools' stdout and cryptsetup's stdin; the work directory is the
unit's RuntimeDirectory (tmpfs, 0700) and holds only public TPM objects.
"""

from __future__ import absolute_import, division, print_function

import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def _load_bundled(sources):
    """The role installs ONE file: the pure helpers (plugins/module_utils/_guestdisk) ride along as sources and are
    registered as modules here, in dependency order (one copy task per run instead of one per file)."""
    import types
    for name in ("skrcrypto", "skr", "datadisk"):
        if name in sources:
            mod = types.ModuleType(name)
            mod.__file__ = "%s[%s]" % (os.path.abspath(__file__), name)
            sys.modules[name] = mod
            exec(compile(sources[name], mod.__file__, "exec"), mod.__dict__)  # pylint: disable=exec-used


_BUNDLED = {}  # @guestdisk-sources@ (the role replaces this line; tests import the helpers from their directory)
_load_bundled(_BUNDLED)

import datadisk  # noqa: E402  pylint: disable=import-error,wrong-import-position
import skr  # noqa: E402  pylint: disable=import-error,wrong-import-position

AK_HANDLE = "0x81000003"
AK_CERT_INDEX = "0x01C101D0"
HCL_INDEX = "0x01400001"
EVENT_LOG = "/sys/kernel/security/tpm0/binary_bios_measurements"
MAX_LUKS_JSON = 4 << 20      # the largest LUKS2 metadata area (cryptsetup: 4 MiB less the binary header)


class Failure(Exception):
    """Why a disk stays closed: ``stage`` (imds, attestation, release, unwrap, open...) and a message."""

    def __init__(self, stage, message):
        Exception.__init__(self, "%s: %s" % (stage, message))
        self.stage = stage


def log(msg):
    print(msg, file=sys.stderr, flush=True)   # the journal, through the unit's stderr


def run(args, data=None, check=True):
    proc = subprocess.run(args, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if check and proc.returncode != 0:
        raise Failure(os.path.basename(args[0]), "%s failed (%d): %s" % (
            " ".join(args[:2]), proc.returncode, proc.stderr.decode(errors="replace").strip()[-400:]))
    return proc


# ------------------------------------------------------------------ HTTP (optionally "connect-to", like curl)
class _Deadline(Exception):
    pass


def _on_deadline(_signum, _frame):
    raise _Deadline()


class Http(object):
    """JSON over HTTP(S): every request is bounded in time (the socket timeout per read AND a deadline for the whole
    exchange, so an endpoint that drips bytes cannot hold the unit) and in size (skr.MAX_RESPONSE)."""

    def __init__(self, conf):
        self.ctx = ssl.create_default_context(cafile=conf.get("ca_file") or None)
        self.connect_to = {}
        for item in conf.get("connect_to") or []:
            host, port, to_host, to_port = item.rsplit(":", 3)
            self.connect_to[(host, int(port))] = (to_host, int(to_port))
        self.timeout = float(conf.get("http_timeout") or 30)
        self.deadline = 3 * self.timeout

    def request(self, method, url, stage, headers=None, body=None):
        timer = threading.current_thread() is threading.main_thread()
        if timer:
            old = signal.signal(signal.SIGALRM, _on_deadline)
            signal.setitimer(signal.ITIMER_REAL, self.deadline)
        try:
            return self._request(method, url, stage, headers, body)
        except _Deadline:
            host = urllib.parse.urlsplit(url).netloc
            raise Failure(stage, "%s %s: no complete answer within %d s" % (method, host, self.deadline))
        finally:
            if timer:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, old)

    def _request(self, method, url, stage, headers, body):
        u = urllib.parse.urlsplit(url)
        port = u.port or (443 if u.scheme == "https" else 80)
        target = self.connect_to.get((u.hostname, port), (u.hostname, port))
        sock = None
        try:
            sock = socket.create_connection(target, timeout=self.timeout)
            if u.scheme == "https":
                sock = self.ctx.wrap_socket(sock, server_hostname=u.hostname)
            conn = http.client.HTTPConnection(u.hostname, port, timeout=self.timeout)
            conn.sock = sock
            payload = json.dumps(body).encode() if body is not None else None
            hdrs = dict(headers or {})
            if payload is not None:
                hdrs["Content-Type"] = "application/json"
            conn.request(method, u.path + ("?" + u.query if u.query else ""), body=payload, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read(skr.MAX_RESPONSE + 1)
        except (OSError, http.client.HTTPException) as exc:
            raise Failure(stage, "%s %s://%s: %s" % (method, u.scheme, u.netloc, exc))
        finally:
            if sock is not None:
                sock.close()
        if len(data) > skr.MAX_RESPONSE:
            raise Failure(stage, "%s %s: the answer is larger than %d bytes" % (method, u.netloc, skr.MAX_RESPONSE))
        try:
            doc = skr.loads_bounded(data, "answer") if data else {}
        except skr.ReleaseError as exc:
            if resp.status < 400:
                raise Failure(stage, "%s %s: %s" % (method, u.netloc, exc))
            doc = {"raw": data[:200].decode("latin-1")}
        if resp.status >= 400:
            err = doc.get("error")
            if isinstance(err, dict):
                detail = "%s %s" % (err.get("code"), err.get("message"))
            else:
                detail = " ".join(str(x) for x in (err, doc.get("error_description")) if x)[:300] or str(doc)[:300]
            raise Failure(stage, "HTTP %d from %s: %s" % (resp.status, u.netloc, detail))
        return doc


# ------------------------------------------------------------------ the vTPM
class Tpm(object):
    def __init__(self, workdir, pcrs):
        self.dir = workdir
        self.sel = "sha256:" + ",".join(str(p) for p in pcrs)
        self.pcrs = pcrs
        self.eph = None

    def _p(self, name):
        return os.path.join(self.dir, name)

    # Without the kernel's resource manager (a raw TPM, or swtpm over TCP in tests) transient objects stay loaded
    # between tool runs and the TPM has few slots: flush after every call then.
    @staticmethod
    def raw_tpm():
        return bool(os.environ.get("TPM2TOOLS_TCTI")) or not os.path.exists("/dev/tpmrm0")

    def tool(self, args):
        """One tpm2-tools call (the key comes back from its saved context when it is needed again)."""
        try:
            return run(args)
        finally:
            if self.raw_tpm():
                run(["tpm2_flushcontext", "-t"], check=False)

    def _read(self, name):
        with open(self._p(name), "rb") as fh:
            return fh.read()

    def nvread(self, index):
        return self.tool(["tpm2_nvread", "-C", "o", index, "-o", "/dev/stdout"]).stdout

    def ephemeral_key(self):
        """A TPM-held RSA-2048 decryption key usable only under the current PCRs, certified by the AK."""
        self.tool(["tpm2_startauthsession", "-S", self._p("trial.ctx")])
        self.tool(["tpm2_policypcr", "-S", self._p("trial.ctx"), "-l", self.sel, "-L", self._p("policy.dig")])
        run(["tpm2_flushcontext", self._p("trial.ctx")])
        # A primary key is derived from the hierarchy seed and its template: random unique data makes this boot's
        # key one nobody has seen before (same template + same seed = the same key, at every boot).
        with open(self._p("unique.bin"), "wb") as fh:
            fh.write((32).to_bytes(2, "little") + os.urandom(32))
        self.tool(["tpm2_createprimary", "-C", "o", "-g", "sha256", "-G", "rsa2048:null:null",
                   "-a", "decrypt|fixedtpm|fixedparent|sensitivedataorigin|noda", "-L", self._p("policy.dig"),
                   "-u", self._p("unique.bin"), "-c", self._p("eph.ctx")])
        self.tool(["tpm2_readpublic", "-c", self._p("eph.ctx"), "-o", self._p("eph.pub")])
        self.tool(["tpm2_certify", "-c", self._p("eph.ctx"), "-C", AK_HANDLE, "-g", "sha256",
                   "-o", self._p("certify.att"), "-s", self._p("certify.sig"), "-f", "plain"])
        self.eph = self._p("eph.ctx")
        return self._read("eph.pub"), self._read("certify.att"), self._read("certify.sig")

    def quote(self, nonce):
        self.tool(["tpm2_quote", "-c", AK_HANDLE, "-l", self.sel, "-q", nonce.hex(), "-g", "sha256",
                   "-m", self._p("quote.msg"), "-s", self._p("quote.sig"), "-f", "plain",
                   "-o", self._p("pcrs.bin"), "-F", "values"])
        raw = self._read("pcrs.bin")
        pcrs = dict((p, raw[32 * i:32 * i + 32]) for i, p in enumerate(self.pcrs))
        return self._read("quote.msg"), self._read("quote.sig"), pcrs

    def ak_public(self):
        self.tool(["tpm2_readpublic", "-c", AK_HANDLE, "-o", self._p("ak.pub")])
        return self._read("ak.pub")

    def decrypt(self, ciphertext, scheme="rsaes"):
        """RSA decryption INSIDE the vTPM under the PCR policy; the plaintext comes back on a pipe."""
        with open(self._p("ct.bin"), "wb") as fh:
            fh.write(ciphertext)
        sess = self._p("sess.ctx")
        self.tool(["tpm2_startauthsession", "--policy-session", "-S", sess])
        try:
            self.tool(["tpm2_policypcr", "-S", sess, "-l", self.sel])
            return self.tool(["tpm2_rsadecrypt", "-c", self.eph, "-p", "session:" + sess, "-s", scheme,
                              "-o", "/dev/stdout", self._p("ct.bin")]).stdout
        finally:
            run(["tpm2_flushcontext", sess], check=False)

    def forget(self):
        for kind in ("-t", "-s"):
            run(["tpm2_flushcontext", kind], check=False)


def oaep_scheme(hash_name):
    return "oaep-" + hash_name


# ------------------------------------------------------------------ the release flow
class Releaser(object):
    def __init__(self, conf, workdir):
        self.conf = conf
        self.http = Http(conf)
        self.tpm = Tpm(workdir, conf.get("pcrs") or list(range(8)))
        self._mi_token = None
        self._jwt = None
        self.maa_claims = None

    def imds(self, path, stage):
        return self.http.request("GET", self.conf["imds_url"].rstrip("/") + path, stage, {"Metadata": "true"})

    def vault_token(self):
        if self._mi_token is None:
            query = {"api-version": "2018-02-01", "resource": self.conf["vault_resource"]}
            if self.conf.get("identity_client_id"):
                query["client_id"] = self.conf["identity_client_id"]
            doc = self.imds("/metadata/identity/oauth2/token?" + urllib.parse.urlencode(query), "identity")
            if not isinstance(doc.get("access_token"), str) or not doc["access_token"]:
                raise Failure("identity", "IMDS returned no managed identity token")
            self._mi_token = doc["access_token"]
        return self._mi_token

    def vault(self, method, kid, suffix, body=None):
        vault, name, version = skr.parse_key_id(kid)
        api = self.conf.get("keyvault_api_version") or "7.4"
        url = "%s/keys/%s%s%s?api-version=%s" % (vault, name, "/" + version if version else "", suffix, api)
        return self.http.request(method, url, "release" if suffix else "keyvault",
                                 {"Authorization": "Bearer " + self.vault_token()}, body)

    def current_key(self, kid):
        """(versioned kid, public JWK) of the version the passphrase should be wrapped to: what Key Vault releases
        for ``kid`` to this attested VM (the Release User role allows release only, not a key read)."""
        versioned, _private, public = self.release(kid, self.token())
        return versioned, public

    def current(self, kid):
        """(versioned kid, private key, public JWK) of that version (the private key makes the token's MAC)."""
        return self.release(kid, self.token())

    def token(self):
        if self._jwt is None:
            self._jwt = self.attest()
        return self._jwt

    def attest(self):
        """An MAA guest token whose runtime key is this boot's TPM ephemeral key."""
        tpm = self.tpm
        enc_pub, certify, certify_sig = tpm.ephemeral_key()
        quote, quote_sig, pcrs = tpm.quote(os.urandom(32))
        hcl = tpm.nvread(HCL_INDEX)
        thim = self.imds("/metadata/THIM/amd/certification", "imds")
        chain = (thim.get("vcekCert") or "") + (thim.get("certificateChain") or "")
        report, runtime = split_hcl(hcl)
        ak_cert = tpm.nvread(AK_CERT_INDEX)
        log_bytes = b""
        if os.path.exists(EVENT_LOG):
            with open(EVENT_LOG, "rb") as fh:
                log_bytes = fh.read(1 << 20)
        body = skr.guest_attestation_request(
            {"ak_cert": der_cut(ak_cert), "ak_pub": tpm.ak_public(), "quote": quote, "quote_signature": quote_sig,
             "enc_key_pub": enc_pub, "enc_key_certify_info": certify, "enc_key_certify_signature": certify_sig,
             "pcrs": pcrs},
            skr.snp_isolation(report, runtime, chain.encode()), log_bytes)
        url = self.conf["maa_url"].rstrip("/") + "/attest/AzureGuest?api-version=2020-10-01"
        resp = self.http.request("POST", url, "attestation", body=body)
        try:
            token = skr.decrypt_guest_token(resp, lambda ct: tpm.decrypt(ct, "rsaes"))
            claims = skr.jwt_claims(token)
            self.maa_claims = claims
            n, e = skr.tpm_rsa_public(enc_pub)
            skr.check_runtime_key(claims, n, e)
        except skr.ReleaseError as exc:
            raise Failure("attestation", str(exc))
        return token

    def release(self, kid, token):
        """(versioned kid, RSA private key, public JWK) of ``kid``, released to this TPM and unwrapped inside it."""
        enc = self.conf.get("release_enc") or "CKM_RSA_AES_KEY_WRAP"
        doc = self.vault("POST", kid, "/release", {"target": token, "enc": enc})
        try:
            released = skr.parse_release_response(doc)
        except skr.ReleaseError as exc:
            raise Failure("release", str(exc))
        version = skr.parse_key_id(kid)[2]
        if not skr.same_key(released["kid"], kid) or (
                version and (skr.parse_key_id(released["kid"])[2] or "").lower() != version.lower()):
            raise Failure("release", "Key Vault released %s, not the requested %s" % (released["kid"], kid))
        try:
            private = skr.unwrap_released_key(released, 256, lambda ct, h: self.tpm.decrypt(ct, oaep_scheme(h)))
        except skr.ReleaseError as exc:
            raise Failure("unwrap", str(exc))
        return released["kid"], private, released["public"]


def der_cut(blob):
    """Azure pads the AK certificate in NV with zeros: cut it at its DER length."""
    if len(blob) < 4 or blob[0] != 0x30:
        raise Failure("attestation", "no AK certificate in NV %s" % AK_CERT_INDEX)
    if blob[1] & 0x80:
        n = blob[1] & 0x7F
        return blob[:2 + n + int.from_bytes(blob[2:2 + n], "big")]
    return blob[:2 + blob[1]]


def split_hcl(hcl):
    """(hardware report, runtime claims bytes) of an HCL report (layout: reference/attestation.md)."""
    if hcl[:4] != b"HCLA" or len(hcl) < 0x4D4:
        raise Failure("attestation", "NV %s does not hold an HCL report" % HCL_INDEX)
    claim_size = int.from_bytes(hcl[0x4D0:0x4D4], "little")
    if int.from_bytes(hcl[0x4C8:0x4CC], "little") != 2:
        raise Failure("attestation", "only SEV-SNP HCL reports are supported by this agent")
    return hcl[0x20:0x20 + 1184], hcl[0x4D4:0x4D4 + claim_size]


# ------------------------------------------------------------------ LUKS
def luks_meta(device):
    """The LUKS2 JSON metadata of ``device`` (a disk or a header copy), None when it is no LUKS2 volume."""
    proc = run(["cryptsetup", "luksDump", "--dump-json-metadata", device], check=False)
    if proc.returncode != 0:
        return None
    try:
        return skr.loads_bounded(proc.stdout, "the LUKS2 metadata of %s" % device, max_size=MAX_LUKS_JSON)
    except skr.ReleaseError as exc:
        raise Failure("disk", "%s: unreadable LUKS2 metadata (%s)" % (device, exc))


def our_token(device, shown=None):
    """Our parsed token of ``device`` with its ``token_id`` and the header ``binding`` its MAC covers; None without
    one. Failure when the header may not be opened with it (skr.luks_header_problem)."""
    meta = luks_meta(device) or {}
    try:
        tokens = sorted((int(k), v) for k, v in (meta.get("tokens") or {}).items())
    except (AttributeError, ValueError, TypeError):
        raise Failure("disk", "%s: unreadable LUKS2 tokens" % (shown or device))
    for tid, tok in tokens:
        parsed = skr.parse_token(tok)
        if parsed is not None:
            problem = skr.luks_header_problem(meta, parsed["keyslot"])
            if problem:
                raise Failure("disk", "%s: %s; refusing to use it" % (shown or device, problem))
            parsed.update(token_id=tid, binding=skr.header_binding(meta))
            return parsed
    return None


def header_copy(device, work):
    """The disk's LUKS2 header, read ONCE into the unit's tmpfs: what is checked is what cryptsetup opens (a
    storage backend could answer the next read of the header differently)."""
    path = os.path.join(work, "luks-header.img")
    try:
        run(["cryptsetup", "luksHeaderBackup", device, "--header-backup-file", path])
    except Failure as exc:
        raise Failure("disk", "%s: no readable LUKS2 header (%s)" % (device, exc))
    return path


def is_open(name):
    return os.path.exists("/dev/mapper/" + name)


def opened_here(spec):
    """/dev/mapper/NAME exists AND is a LUKS2 crypt mapping of the disk at the spec's LUN (not a node of the same
    name over anything else): only then is the disk reported, or mounted, as opened."""
    try:
        dm = os.path.basename(os.path.realpath("/dev/mapper/" + spec["name"]))
        disk = os.path.basename(os.path.realpath(datadisk.BY_LUN % spec["lun"]))
        with open("/sys/class/block/%s/dm/uuid" % dm) as fh:
            uuid = fh.read().strip()
        slaves = os.listdir("/sys/class/block/%s/slaves" % dm)
    except OSError:
        return False
    return datadisk.mapping_of(uuid, slaves, disk)


def open_volume(device, name, passphrase, header=None, keyslot=None):
    args = ["cryptsetup", "open", "--type", "luks2", "--key-file", "-"]
    if header:
        args += ["--header", header]
    if keyslot is not None:
        args += ["--key-slot", str(keyslot)]
    run(args + [device, name], data=passphrase)


# ------------------------------------------------------------------ commands
def load_conf(path, text=None):
    """The configuration: ``text`` (the role's desired one, on stdin) or the file the boot units read."""
    if text is None:
        with open(path) as fh:
            text = fh.read()
    conf = json.loads(text)
    conf["disks"] = datadisk.validate_specs(conf.get("disks"))
    return conf


def store_conf(path, text, apply):
    """The desired configuration on disk for the boot units (no secrets in it): [path] if it changed."""
    text = json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
    if _read(path) == text:
        return []
    if apply:
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        _write(path, text, 0o644)
    return [path]


def find_disk(conf, name):
    for spec in conf["disks"]:
        if spec["name"] == name:
            return spec
    raise Failure("config", "no disk named %r in %s" % (name, datadisk.CONFIG_PATH))


def write_status(name, status):
    os.makedirs(datadisk.STATUS_DIR, mode=0o755, exist_ok=True)
    status["time"] = int(time.time())
    path = os.path.join(datadisk.STATUS_DIR, name + ".json")
    with open(path + ".tmp", "w") as fh:
        json.dump(status, fh, sort_keys=True)
    os.replace(path + ".tmp", path)


def workdir():
    base = os.environ.get("RUNTIME_DIRECTORY")
    return tempfile.mkdtemp(prefix="work-", dir=base or "/run")


def check_mount_point(spec):
    """An existing mount point must be a real directory reached without symlinks: the mount would follow them."""
    mp = spec.get("mount_point")
    if mp and os.path.lexists(mp) and (os.path.realpath(mp) != mp or not os.path.isdir(mp)):
        raise datadisk.PlanError(
            "data_disk_encryption_disks[lun=%d].mount_point %s is not a directory or is reached through a symlink "
            "(to %s); nothing was changed" % (spec["lun"], mp, os.path.realpath(mp)))


def check_token_key(conf, token, device):
    """The disk's token may only send this VM's tokens to the configured vault and key (any version of it)."""
    if not skr.same_key(token["kid"], conf["key_id"]):
        raise Failure("disk", "%s is wrapped to %s, not to a version of the configured key %s; refusing to send "
                              "this VM's tokens there" % (device, token["kid"], conf["key_id"]))


def cmd_open(conf, name):
    spec = find_disk(conf, name)
    device = datadisk.BY_LUN % spec["lun"]
    releaser = None
    work = workdir()
    try:
        if is_open(name):
            if not opened_here(spec):
                raise Failure("disk", "/dev/mapper/%s exists but is not the LUKS2 volume of %s" % (name, device))
            log("%s is already open" % name)
            return 0
        releaser = Releaser(conf, work)
        header = header_copy(device, work)
        token = our_token(header, shown=device)
        if token is None:
            raise Failure("disk", "%s carries no confidential-azure-skr LUKS2 token" % device)
        check_token_key(conf, token, device)
        kid, private, _public = releaser.release(token["kid"], releaser.token())
        try:
            passphrase = skr.open_token(private, token, token["binding"])
        except skr.ReleaseError as exc:
            raise Failure("disk", "%s: %s" % (device, exc))
        del private
        open_volume(device, name, passphrase, header, token["keyslot"])
        del passphrase
        status = {"state": "opened", "device": device, "key_id": kid, "maa": skr.claims_summary(releaser.maa_claims)}
        write_status(name, status)
        log("opened %s (%s) with key %s after attestation by %s" % (name, device, kid, status["maa"]["iss"]))
        if spec.get("mount_point"):
            # queued, not waited for: the mount is ordered after this unit (fstab noauto: boot never queues it)
            run(["systemctl", "start", "--no-block", datadisk.mount_unit(spec)], check=False)
        return 0
    except Exception as exc:  # pylint: disable=broad-except
        # whatever went wrong, the disk stays closed and the status file says so; an unexpected error is named by
        # its type only (its text could quote bytes it choked on), the traceback goes to the journal
        known = isinstance(exc, (Failure, skr.ReleaseError, OSError, ValueError))
        reason = str(exc) if known else "internal error (%s); see the unit's journal" % type(exc).__name__
        maa = releaser.maa_claims if releaser is not None else None
        write_status(name, {"state": "closed", "device": device, "stage": getattr(exc, "stage", "agent"),
                            "reason": reason, "maa": skr.claims_summary(maa) if maa else None})
        log("%s stays closed: %s" % (name, reason))
        if not known:
            import traceback
            log(traceback.format_exc(limit=20))
        return 1
    finally:
        if releaser is not None:
            releaser.tpm.forget()
        shutil.rmtree(work, ignore_errors=True)


def cmd_close(_conf, name):
    if is_open(name):
        run(["cryptsetup", "close", name])
    return 0


class SysHost(object):
    """The few reads datadisk.probe needs, on the live system."""

    def exists(self, path):
        return os.path.exists(path)

    def blockname(self, path):
        return os.path.basename(os.path.realpath(path))

    def blkid_probe(self, dev):
        proc = run(["blkid", "-p", "-o", "export", dev], check=False)
        return proc.returncode, proc.stdout.decode(errors="replace")

    def devno(self, name):
        with open("/sys/class/block/%s/dev" % name) as fh:
            return fh.read().strip()

    def parent_disk(self, name):
        if os.path.exists("/sys/class/block/%s/partition" % name):
            return os.path.basename(os.path.dirname(os.path.realpath("/sys/class/block/" + name)))
        return name

    def partitions(self, name):
        base = "/sys/class/block/" + name
        return sorted(e for e in os.listdir(base) if e.startswith(name) and os.path.exists(base + "/%s/partition" % e))

    def holders(self, name):
        return sorted(os.listdir("/sys/class/block/%s/holders" % name))

    def mountinfo(self):
        rows = []
        with open("/proc/self/mountinfo") as fh:
            for line in fh:
                parts = line.split()
                rows.append({"devno": parts[2], "target": parts[4]})
        return rows


def provision(conf, apply, store=None):
    """Per disk: format (empty disk), keep, or re-wrap to the key's current version -> the run's document.

    Every disk is checked before the network is used and before anything is written; a formatted disk is left
    open (the unit then has nothing to do), so a first run attests once. ``store`` writes the configuration the
    boot units read (after the checks, like the rest of the wiring)."""
    results, releaser, work = [], None, workdir()
    doc = {"planned": results, "key_id": "", "wired": [], "changed": False, "failed": False}
    try:
        found = [(spec, datadisk.probe(SysHost(), spec)) for spec in conf["disks"]]
        tokens = [our_token(f["device"]) if f.get("signature") == "crypto_LUKS" else None for _s, f in found]
        for (spec, f), token in zip(found, tokens):
            datadisk.plan_disk(dict(spec, target_kid=token and token["kid"]), f, token)   # refusals: no writes yet
            if token is not None:
                check_token_key(conf, token, f["device"])
            check_mount_point(spec)
        releaser = Releaser(conf, work)
        target_kid, target_private, jwk = releaser.current(conf["key_id"])
        doc["key_id"] = target_kid
        doc["maa"] = skr.claims_summary(releaser.maa_claims)
        planned = [(spec, f, token, datadisk.plan_disk(dict(spec, target_kid=target_kid), f, token))
                   for (spec, f), token in zip(found, tokens)]
        doc["wired"] = (store() if store else []) + wire(conf["disks"], apply)
        doc["changed"] = bool(doc["wired"])
        for spec, f, token, action in planned:
            res = {"name": spec["name"], "lun": spec["lun"], "device": f["device"], "action": action,
                   "changed": action != "keep", "key_id": target_kid}
            if action == "rewrap":
                res["previous_key_id"] = token["kid"]
            if apply and action == "format":
                # the disk was probed before attesting: it must still be the same, empty disk now
                if not datadisk.same_disk(f, datadisk.probe(SysHost(), spec)):
                    raise Failure("plan", "%s changed while this run attested; nothing was written to it, run again"
                                  % f["link"])
                format_disk(f["device"], spec, target_kid, jwk, target_private)
                write_status(spec["name"], {"state": "opened", "device": f["device"], "key_id": target_kid,
                                            "maa": doc["maa"]})
            elif apply and action == "rewrap":
                rewrap(releaser, f["device"], token, target_kid, jwk, target_private)
                if opened_here(spec):
                    write_status(spec["name"], {"state": "opened", "device": f["device"], "key_id": target_kid,
                                                "maa": doc["maa"]})
            doc["changed"] = doc["changed"] or res["changed"]
            results.append(res)
    except (Failure, datadisk.PlanError, skr.ReleaseError, OSError) as exc:
        doc.update(failed=True, msg=str(exc), stage=getattr(exc, "stage", "plan"))
    finally:
        if releaser is not None:
            releaser.tpm.forget()
        shutil.rmtree(work, ignore_errors=True)
    return doc


def mounted(spec):
    """The disk's mount point is mounted from its mapper (not an empty directory on the OS disk)."""
    mp, dev = spec.get("mount_point"), "/dev/mapper/" + spec["name"]
    try:
        return (bool(mp) and opened_here(spec) and os.path.ismount(mp)
                and os.stat(mp).st_dev == os.stat(dev).st_rdev)
    except OSError:
        return False


def bring_up(conf):
    """Start each closed disk's unlock unit (it attests and opens) and each opened disk's mount: what was started.
    A unit that fails leaves the disk closed and says why in its status file; its mount is never started."""
    started = []
    for spec in conf["disks"]:
        if not opened_here(spec):
            unit = datadisk.unit_instance(spec)
            run(["systemctl", "restart", unit], check=False)
            started.append(unit)
        if spec.get("mount_point") and opened_here(spec) and not mounted(spec):
            run(["systemctl", "start", datadisk.mount_unit(spec)], check=False)
            started.append(datadisk.mount_unit(spec))
    return started


def read_status(name):
    try:
        with open(os.path.join(datadisk.STATUS_DIR, name + ".json")) as fh:
            return json.load(fh)
    except (IOError, OSError, ValueError):
        return None


def report(conf, doc):
    """The per-disk list the role publishes (datadisk.disk_report)."""
    planned = dict((p["name"], p) for p in doc.get("planned") or [])
    failure = {"stage": doc.get("stage"), "msg": doc.get("msg")} if doc.get("failed") else None
    return [datadisk.disk_report(spec, read_status(spec["name"]), opened_here(spec), mounted(spec),
                                 planned.get(spec["name"]), failure) for spec in conf["disks"]]


def cmd_provision(conf, apply, open_now, store=None):
    """plan / provision [--open]: the run's document, with the per-disk report, as JSON on stdout."""
    doc = provision(conf, apply, store)
    if apply and open_now and not doc["failed"]:
        doc["started"] = bring_up(conf)
        doc["changed"] = doc["changed"] or bool(doc["started"])
    doc["disks"] = report(conf, doc)
    print(json.dumps(doc))
    return 1 if doc["failed"] else 0


UNIT_PATH = "/etc/systemd/system/" + datadisk.UNIT_TEMPLATE


def _read(path):
    try:
        with open(path) as fh:
            return fh.read()
    except (IOError, OSError):
        return ""


def _write(path, text, mode):
    with open(path + ".tmp", "w") as fh:
        fh.write(text)
    os.chmod(path + ".tmp", mode)
    os.replace(path + ".tmp", path)


def wire(specs, apply):
    """Unit template, fstab lines, mount points, enabled units: the list of what changed (or would change)."""
    changes = []
    if _read(UNIT_PATH) != datadisk.unit_text():
        changes.append(UNIT_PATH)
        if apply:
            _write(UNIT_PATH, datadisk.unit_text(), 0o644)
    # No crypttab entry: even with noauto, systemd-cryptsetup-generator would bind the mapper device to a unit that
    # asks for a passphrase at boot when the mount wants the device (seen in the guest test).
    for path, mode, lines in (("/etc/fstab", 0o644, [("/dev/mapper/%s " % s["name"], datadisk.fstab_line(s))
                                                     for s in specs if s.get("mount_point")]),):
        old = _read(path)
        new = datadisk.set_lines(old, lines)
        if new != old:
            changes.append(path)
            if apply:
                _write(path, new, mode)
    for spec in specs:
        if spec.get("mount_point") and not os.path.isdir(spec["mount_point"]):
            changes.append(spec["mount_point"])
            if apply:
                os.makedirs(spec["mount_point"], mode=0o755)
    if apply and changes:
        run(["systemctl", "daemon-reload"])
    for spec in specs:
        unit = datadisk.unit_instance(spec)
        if run(["systemctl", "is-enabled", "--quiet", unit], check=False).returncode != 0:
            changes.append(unit)
            if apply:
                run(["systemctl", "enable", "--quiet", unit])
    return changes


def format_disk(device, spec, kid, jwk, private):
    passphrase = os.urandom(32)
    # The passphrase is 256 random bits: key stretching adds nothing to it (systemd-cryptenroll uses PBKDF2 with the
    # minimum iterations for its random TPM2/FIDO2 keys for the same reason), and argon2's memory cost and timing
    # benchmark would only slow every boot. The cipher is named: the unit opens only skr.LUKS_CIPHERS.
    run(["cryptsetup", "luksFormat", "--batch-mode", "--type", "luks2", "--key-slot", "0", "--pbkdf", "pbkdf2",
         "--pbkdf-force-iterations", "1000", "--hash", "sha256", "--cipher", skr.LUKS_CIPHERS[0], "--key-size", "512",
         "--key-file", "-", device], data=passphrase)
    meta = luks_meta(device) or {}
    problem = skr.luks_header_problem(meta, 0)
    if problem:
        raise Failure("format", "%s: the new LUKS2 header: %s" % (device, problem))
    token = skr.make_token(kid, jwk, passphrase, 0, private, skr.header_binding(meta))
    run(["cryptsetup", "token", "import", "--json-file", "-", device], data=json.dumps(token).encode())
    open_volume(device, spec["name"], passphrase)
    del passphrase
    mkfs = {"ext4": ["mkfs.ext4", "-q"], "xfs": ["mkfs.xfs", "-q"]}[spec["fs_type"]]
    run(mkfs + ["/dev/mapper/" + spec["name"]])


def rewrap(releaser, device, token, kid, jwk, new_private):
    """Key rotation: the passphrase is unwrapped with the old version and wrapped to the new one; data untouched."""
    _old, private, _public = releaser.release(token["kid"], releaser.token())
    try:
        passphrase = skr.open_token(private, token, token["binding"])
    except skr.ReleaseError as exc:
        raise Failure("disk", "%s: %s" % (device, exc))
    del private
    run(["cryptsetup", "open", "--test-passphrase", "--key-slot", str(token["keyslot"]), "--key-file", "-", device],
        data=passphrase)
    new = skr.make_token(kid, jwk, passphrase, token["keyslot"], new_private, token["binding"])
    del passphrase
    run(["cryptsetup", "token", "import", "--json-file", "-", device], data=json.dumps(new).encode())
    run(["cryptsetup", "token", "remove", "--token-id", str(token["token_id"]), device])


def cmd_status(conf):
    print(json.dumps({"disks": report(conf, {})}))
    return 0


def cmd_render(conf):
    """The boot wiring for the configured disks (pure: nothing is read from the machine)."""
    disks = [{"name": s["name"], "lun": s["lun"], "mount_point": s["mount_point"], "unit": datadisk.unit_instance(s),
              "mount_unit": datadisk.mount_unit(s), "fstab": datadisk.fstab_line(s)} for s in conf["disks"]]
    print(json.dumps({"unit": datadisk.unit_text(), "disks": disks}))
    return 0


def main(argv):
    if not argv or argv[0] not in ("open", "close", "plan", "provision", "status", "render"):
        print(__doc__, file=sys.stderr)
        return 2
    path = os.environ.get("CONFIDENTIAL_AZURE_DATA_DISK_CONFIG", datadisk.CONFIG_PATH)
    text = sys.stdin.read() if "--config-stdin" in argv[1:] else None
    try:
        conf = load_conf(path, text)
    except (datadisk.PlanError, ValueError, OSError) as exc:
        if argv[0] in ("plan", "provision"):
            print(json.dumps({"failed": True, "stage": "config", "msg": str(exc), "changed": False, "disks": []}))
        print("data disk configuration: %s" % exc, file=sys.stderr)
        return 1
    if argv[0] == "render":
        return cmd_render(conf)
    if argv[0] in ("open", "close"):
        if len(argv) != 2:
            return 2
        return (cmd_open if argv[0] == "open" else cmd_close)(conf, argv[1])
    if argv[0] == "status":
        return cmd_status(conf)
    apply = argv[0] == "provision"
    store = (lambda: store_conf(path, text, apply)) if text is not None else None
    return cmd_provision(conf, apply, open_now="--open" in argv[1:], store=store)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
