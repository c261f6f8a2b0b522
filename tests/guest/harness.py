# Copyright (c) confidential.azure contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""qemu + swtpm guest harness for in-guest tests of the collection.

A Debian 12 guest image is built once from Debian packages with mmdebstrap
and cached OUTSIDE the repository under
``~/.cache/confidential-azure/guest/<hash of the image inputs>/``.  Each guest
boots that image through a qcow2 overlay with:

* ``/dev/vda``  the OS disk (serial ``os-disk``),
* ``/dev/vdb``  the Azure temp (resource) disk in Azure's fresh shape: MBR,
  one NTFS partition labelled "Temporary Storage" holding
  ``DATALOSS_WARNING_README.txt``; the image carries a udev rule of the kind
  WALinuxAgent installs that links it as ``/dev/disk/azure/resource``,
* ``/dev/vdc``  an ordinary data disk (serial ``data-disk-1``, ext4 with a
  file on it) - the "not the temp disk" device,
* swtpm as the guest's TPM 2.0 (``/dev/tpmrm0``),
* ssh on a loopback port forward, root login with a generated ed25519 key.

Python API::

    from harness import Guest
    with Guest(name="t1") as g:          # up() ... down()
        print(g.ssh("uname -r").stdout)
        g.reboot()
        g.inventory_path

CLI: ``python tests/guest/run up|down|status|build`` (see ``run --help``).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

HERE = Path(__file__).resolve().parent
CACHE_ROOT = Path(os.environ.get("CONFIDENTIAL_AZURE_GUEST_CACHE",
                                 Path.home() / ".cache" / "confidential-azure" / "guest"))
RUN_ROOT = Path(os.environ.get("CONFIDENTIAL_AZURE_GUEST_RUNS",
                               Path.home() / ".cache" / "confidential-azure" / "runs"))

SUITE = "bookworm"
# Packages of the guest. cloud-init and waagent (WALinuxAgent's Debian package)
# are in so that their interplay with the temp disk is real.
GUEST_PACKAGES = [
    "linux-image-amd64", "systemd", "systemd-sysv", "udev", "dbus", "kmod",
    "openssh-server", "python3", "sudo", "procps", "iproute2", "fdisk",
    "cryptsetup", "cryptsetup-bin", "dmsetup", "tpm2-tools", "e2fsprogs",
    "util-linux", "cloud-init", "waagent", "fio", "ca-certificates",
]
TEMP_DISK_SERIAL = "azure-resource"
DATA_DISK_SERIAL = "data-disk-1"
GUEST_USER = "root"
IMAGE_SIZE = "3G"

# Host tools -> Debian package that provides them.
HOST_TOOLS = {
    "qemu-system-x86_64": "qemu-system-x86",
    "qemu-img": "qemu-utils",
    "swtpm": "swtpm",
    "swtpm_ioctl": "swtpm-tools",
    "mmdebstrap": "mmdebstrap",
    "mkntfs": "ntfs-3g",
    "ntfscp": "ntfs-3g",
    "tpm2_startup": "tpm2-tools",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
    "mkfs.ext4": "e2fsprogs",
    "sfdisk": "fdisk",
}

# Files written into the image. Part of the image hash.
GUEST_FILES: Dict[str, str] = {
    # Same kind of rule as WALinuxAgent's 66-azure-storage.rules (which matches
    # the Hyper-V SCSI device id); here the virtio disk's serial identifies it.
    "/etc/udev/rules.d/66-azure-storage.rules": (
        "# Azure temp (resource) disk, qemu stand-in: virtio serial " + TEMP_DISK_SERIAL + "\n"
        'ACTION!="add|change", GOTO="azure_end"\n'
        'SUBSYSTEM!="block", GOTO="azure_end"\n'
        'KERNEL!="vd*", GOTO="azure_end"\n'
        'ENV{DEVTYPE}=="disk", ATTRS{serial}=="' + TEMP_DISK_SERIAL + '", SYMLINK+="disk/azure/resource"\n'
        'ENV{DEVTYPE}=="partition", ATTRS{serial}=="' + TEMP_DISK_SERIAL + '", SYMLINK+="disk/azure/resource-part%n"\n'
        'ENV{DEVTYPE}=="disk", ATTRS{serial}=="os-disk", SYMLINK+="disk/azure/root"\n'
        # data disks by LUN, as azure-vm-utils links them (/dev/disk/azure/data/by-lun/N)
        'ENV{DEVTYPE}=="disk", ATTRS{serial}=="' + DATA_DISK_SERIAL + '", SYMLINK+="disk/azure/data/by-lun/0"\n'
        'ENV{DEVTYPE}=="partition", ATTRS{serial}=="os-disk", SYMLINK+="disk/azure/root-part%n"\n'
        'LABEL="azure_end"\n'
    ),
    "/etc/systemd/network/10-dhcp.network": "[Match]\nName=en*\n\n[Network]\nDHCP=yes\n",
    "/etc/fstab": "/dev/vda / ext4 defaults,errors=remount-ro 0 1\n",
    "/etc/hostname": "cvm-guest\n",
    "/etc/hosts": "127.0.0.1 localhost\n127.0.1.1 cvm-guest\n",
    "/etc/ssh/sshd_config.d/10-harness.conf": "UseDNS no\nPermitRootLogin prohibit-password\n",
    # No datasource here: keep cloud-init from waiting for one at boot.
    "/etc/cloud/cloud.cfg.d/05-harness-datasource.cfg": (
        "datasource_list: [ None ]\n"
        "locale: C.UTF-8\n"          # no locale generation on the 2 shared cores
        "ssh_deletekeys: false\n"    # keep the image's host keys (saves keygen time)
        "users: []\n"
    ),
    # Don't let apt timers eat the 2 shared cores.
    "/etc/apt/apt.conf.d/10-harness-no-periodic": 'APT::Periodic::Enable "0";\n',
}
GUEST_ENABLE = ["systemd-networkd.service", "ssh.service"]
GUEST_DISABLE = ["apt-daily.timer", "apt-daily-upgrade.timer", "e2scrub_all.timer",
                 "fstrim.timer", "man-db.timer"]
BUILD_VERSION = "3"

README_TEXT = (
    "WARNING: THIS IS A TEMPORARY DISK.\r\n\r\n"
    "Any data stored on this drive is SUBJECT TO LOSS and THERE IS NO WAY TO RECOVER IT.\r\n\r\n"
    "Please do not use this disk for storing any personal or application data.\r\n\r\n"
    "(qemu stand-in written by the confidential.azure guest harness)\r\n"
)


class HarnessError(RuntimeError):
    """The guest could not be built, booted or reached."""


def _log(msg: str) -> None:
    print("[guest] " + msg, file=sys.stderr, flush=True)


def _run(cmd: List[str], **kw) -> subprocess.CompletedProcess:
    check = kw.pop("check", True)
    try:
        return subprocess.run(cmd, check=check, **kw)
    except subprocess.CalledProcessError as e:
        out = (e.stderr or b"")
        if isinstance(out, bytes):
            out = out.decode(errors="replace")
        raise HarnessError("command failed (%s): %s\n%s" % (e.returncode, shlex.join(cmd), out[-3000:]))


# ---------------------------------------------------------------- host tools
def ensure_tools(install: Optional[bool] = None) -> None:
    """Install missing host tools with apt-get (needs root), else raise."""
    missing = sorted({pkg for tool, pkg in HOST_TOOLS.items() if shutil.which(tool) is None})
    if not missing:
        return
    if install is None:
        install = os.geteuid() == 0 and shutil.which("apt-get") is not None \
            and os.environ.get("CONFIDENTIAL_AZURE_GUEST_NO_INSTALL") != "1"
    if not install:
        raise HarnessError("guest harness needs these Debian packages: %s (see bindep.txt)" % " ".join(missing))
    _log("installing host packages: " + " ".join(missing))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    r = subprocess.run(["apt-get", "install", "-y", "-q"] + missing, env=env, check=False,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL, check=False)
        _run(["apt-get", "install", "-y", "-q"] + missing, env=env,
             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    still = sorted({pkg for tool, pkg in HOST_TOOLS.items() if shutil.which(tool) is None})
    if still:
        raise HarnessError("could not install: " + " ".join(still))


# ---------------------------------------------------------------- image
def image_spec() -> dict:
    return {"suite": SUITE, "packages": sorted(GUEST_PACKAGES), "files": GUEST_FILES,
            "enable": GUEST_ENABLE, "disable": GUEST_DISABLE, "version": BUILD_VERSION,
            "size": IMAGE_SIZE, "readme": README_TEXT}


def image_dir() -> Path:
    digest = hashlib.sha256(json.dumps(image_spec(), sort_keys=True).encode()).hexdigest()[:16]
    return CACHE_ROOT / digest


def _apt_sources_arg() -> List[str]:
    """Reuse the host's Debian apt sources (deb822 file) when it has one."""
    for cand in ("/etc/apt/sources.list.d/debian.sources",):
        p = Path(cand)
        if p.is_file() and SUITE in p.read_text():
            return [str(p)]
    return []


@contextlib.contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def build_image(force: bool = False) -> Path:
    """Build (once) and return the cached image dir: root.img, vmlinuz, initrd.img, id_ed25519."""
    final = image_dir()
    with _locked(CACHE_ROOT / ".build.lock"):
        if (final / "done").exists() and not force:
            return final
        ensure_tools()
        t0 = time.monotonic()
        work = Path(tempfile.mkdtemp(prefix="build-", dir=CACHE_ROOT))
        try:
            root = work / "rootfs"
            _log("building guest image with mmdebstrap (cached in %s)" % final)
            _run(["mmdebstrap", "--mode=root", "--variant=apt", "--format=directory",
                  "--include=" + ",".join(GUEST_PACKAGES),
                  "--dpkgopt=path-exclude=/usr/share/doc/*",
                  "--dpkgopt=path-exclude=/usr/share/man/*",
                  "--dpkgopt=path-exclude=/usr/share/locale/*",
                  SUITE, str(root)] + _apt_sources_arg(),
                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            key = work / "id_ed25519"
            _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "confidential-azure-guest",
                  "-f", str(key)], stdout=subprocess.DEVNULL)
            for dest, text in GUEST_FILES.items():
                p = root / dest.lstrip("/")
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_text(text)
            ssh_dir = root / "root" / ".ssh"
            ssh_dir.mkdir(mode=0o700, exist_ok=True)
            (ssh_dir / "authorized_keys").write_text((work / "id_ed25519.pub").read_text())
            os.chmod(ssh_dir / "authorized_keys", 0o600)
            # unique machine-id per boot of an overlay
            (root / "etc" / "machine-id").write_text("")
            _run(["chroot", str(root), "systemctl", "enable"] + GUEST_ENABLE,
                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            subprocess.run(["chroot", str(root), "systemctl", "disable"] + GUEST_DISABLE, check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            boot = root / "boot"
            kernels = sorted(boot.glob("vmlinuz-*"))
            initrds = sorted(boot.glob("initrd.img-*"))
            if not kernels or not initrds:
                raise HarnessError("no kernel/initrd in the guest rootfs")
            shutil.copy2(kernels[-1], work / "vmlinuz")
            shutil.copy2(initrds[-1], work / "initrd.img")
            # apt lists are not needed in the guest
            shutil.rmtree(root / "var" / "lib" / "apt" / "lists", ignore_errors=True)
            (root / "var" / "lib" / "apt" / "lists" / "partial").mkdir(parents=True, exist_ok=True)
            _run(["mkfs.ext4", "-q", "-F", "-L", "guestroot", "-d", str(root),
                  str(work / "root.img"), IMAGE_SIZE], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            shutil.rmtree(root)
            _make_temp_disk_template(work / "temp-template-1G.img", 1024)
            (work / "spec.json").write_text(json.dumps(image_spec(), indent=1, sort_keys=True))
            if final.exists():
                shutil.rmtree(final)
            work.rename(final)
            (final / "done").write_text("%.1f\n" % (time.monotonic() - t0))
            _log("image built in %.0f s" % (time.monotonic() - t0))
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
    return final


def _parse_size_mb(size: str) -> int:
    s = str(size).strip().upper().rstrip("B")
    mult = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}
    if s and s[-1] in mult:
        return int(float(s[:-1]) * mult[s[-1]])
    return int(int(s) / (1024 * 1024))


def _make_temp_disk_template(path: Path, size_mb: int) -> None:
    """Azure's fresh temp disk shape: MBR, partition 1 NTFS "Temporary Storage" + README."""
    with open(path, "wb") as fh:
        fh.truncate(size_mb * 1024 * 1024)
    start = 2048
    _run(["sfdisk", "--quiet", str(path)], input=b"label: dos\nstart=%d, type=7\n" % start,
         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    out = _run(["sfdisk", "--json", str(path)], stdout=subprocess.PIPE).stdout
    part = json.loads(out)["partitiontable"]["partitions"][0]
    sectors = int(part["size"])
    with tempfile.TemporaryDirectory(dir=path.parent) as td:
        p = Path(td) / "part.img"
        with open(p, "wb") as fh:
            fh.truncate(sectors * 512)
        _run(["mkntfs", "-q", "-F", "-f", "-L", "Temporary Storage", "-s", "512",
              "-p", str(start), "-H", "255", "-S", "63", str(p)],
             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        readme = Path(td) / "DATALOSS_WARNING_README.txt"
        readme.write_text(README_TEXT)
        _run(["ntfscp", "-q", str(p), str(readme), "DATALOSS_WARNING_README.txt"],
             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _run(["dd", "if=" + str(p), "of=" + str(path), "bs=1M", "seek=%d" % (start * 512 // (1024 * 1024)),
              "conv=notrunc,sparse", "status=none"])


def _make_data_disk(path: Path, size_mb: int, work: Path) -> None:
    src = work / "data-src"
    src.mkdir(exist_ok=True)
    (src / "IMPORTANT-DATA.txt").write_text("customer data that must survive\n")
    with open(path, "wb") as fh:
        fh.truncate(size_mb * 1024 * 1024)
    _run(["mkfs.ext4", "-q", "-F", "-L", "datadisk", "-d", str(src), str(path)],
         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


# ---------------------------------------------------------------- processes
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(pid: Optional[int]) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # zombie?
    try:
        with open("/proc/%d/stat" % pid) as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _kill_group(pid: Optional[int], timeout: float = 10.0) -> None:
    if not pid or not _alive(pid):
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            if not _alive(pid):
                return
            time.sleep(0.1)


def _wait_path(path: Path, timeout: float, pid: Optional[int] = None) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if pid and not _alive(pid):
            raise HarnessError("process %d died before creating %s" % (pid, path))
        if time.monotonic() > deadline:
            raise HarnessError("timed out waiting for " + str(path))
        time.sleep(0.05)


def _wait_tcp(port: int, timeout: float, pid: Optional[int] = None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if pid and not _alive(pid):
                raise HarnessError("process %d died before listening on %d" % (pid, port))
            if time.monotonic() > deadline:
                raise HarnessError("timed out waiting for tcp port %d" % port)
            time.sleep(0.1)


def choose_accel() -> str:
    """tcg unless CONFIDENTIAL_AZURE_GUEST_ACCEL says otherwise.

    /dev/kvm on the CI machines is PVM: stock kernels hang with -accel kvm.
    ``python tests/guest/run probe-kvm`` checks whether KVM boots here.
    """
    return os.environ.get("CONFIDENTIAL_AZURE_GUEST_ACCEL", "tcg")


# ---------------------------------------------------------------- guest
class Guest:
    """One qemu guest with swtpm, a temp disk and a data disk."""

    def __init__(self, name: str = "default", temp_disk_size: str = "1G", memory: int = 1024,
                 cpus: int = 2, keep_tpm_state: Optional[str] = None,
                 tpm_setup: Optional[Callable[[dict], None]] = None,
                 tpm_init_script: Optional[str] = None, data_disk_size: str = "64M",
                 boot_timeout: float = 900.0, accel: Optional[str] = None,
                 cloud_init: Optional[bool] = None, guestfwd: Optional[List[tuple]] = None):
        self.name = name
        self.temp_disk_size = temp_disk_size
        self.memory = int(memory)
        self.cpus = int(cpus)
        self.keep_tpm_state = keep_tpm_state
        self.tpm_setup = tpm_setup
        self.tpm_init_script = tpm_init_script
        self.data_disk_size = data_disk_size
        self.boot_timeout = boot_timeout
        self.accel = accel or choose_accel()
        # cloud-init is installed (its udev rule, cloud.cfg.d and fstab habits are real) but by
        # default not RUN at boot: with no Azure datasource it does nothing useful here and
        # costs minutes of TCG time per boot. CONFIDENTIAL_AZURE_GUEST_CLOUD_INIT=1 runs it.
        if cloud_init is None:
            cloud_init = os.environ.get("CONFIDENTIAL_AZURE_GUEST_CLOUD_INIT") == "1"
        self.cloud_init = cloud_init
        # [(guest_ip, guest_port, host_ip, host_port)]: slirp forwards the guest's connections to guest_ip:guest_port
        # to host_ip:host_port on the host (any loopback address, unlike 10.0.2.2 which is 127.0.0.1 only)
        self.guestfwd = list(guestfwd or [])
        self.run_dir = RUN_ROOT / name
        self.state: dict = {}
        self._registered = False
        self.timings: Dict[str, float] = {}

    # ---- paths
    @property
    def state_file(self) -> Path:
        return self.run_dir / "state.json"

    @property
    def inventory_path(self) -> str:
        return str(self.run_dir / "inventory.ini")

    @property
    def private_key(self) -> str:
        return str(self.run_dir / "id_ed25519")

    @property
    def port(self) -> int:
        return int(self.state["port"])

    @property
    def tpm_state_dir(self) -> str:
        return self.state.get("tpm_state_dir") or str(self.run_dir / "tpm")

    @property
    def console_log(self) -> str:
        return str(self.run_dir / "console.log")

    def info(self) -> dict:
        return {"host": "127.0.0.1", "port": self.port, "user": GUEST_USER,
                "private_key": self.private_key, "inventory": self.inventory_path,
                "name": self.name, "run_dir": str(self.run_dir), "tpm_state_dir": self.tpm_state_dir,
                "console_log": self.console_log}

    @classmethod
    def attach(cls, name: str = "default") -> "Guest":
        """A Guest object for an already running guest (started by ``run up``)."""
        g = cls(name=name)
        if not g.state_file.exists():
            raise HarnessError("no guest named %r is running (no %s)" % (name, g.state_file))
        g.state = json.loads(g.state_file.read_text())
        return g

    # ---- lifecycle
    def __enter__(self) -> "Guest":
        self.up(register_teardown=True)
        return self

    def __exit__(self, *exc) -> None:
        self.down()

    def _register_teardown(self) -> None:
        if self._registered:
            return
        self._registered = True
        atexit.register(self.down)
        for sig in (signal.SIGTERM, signal.SIGHUP):
            prev = signal.getsignal(sig)

            def handler(signum, frame, _prev=prev):
                self.down()
                if callable(_prev):
                    _prev(signum, frame)
                else:
                    raise SystemExit(128 + signum)
            try:
                signal.signal(sig, handler)
            except ValueError:  # not in main thread
                pass

    def _save(self) -> None:
        self.state_file.write_text(json.dumps(self.state, indent=1, sort_keys=True))

    def up(self, register_teardown: bool = True) -> dict:
        """Boot the guest and wait for ssh. Returns info()."""
        t0 = time.monotonic()
        if self.state_file.exists():
            old = json.loads(self.state_file.read_text())
            if _alive(old.get("qemu_pid")):
                raise HarnessError("guest %r is already running (run `down --name %s` first)" % (self.name, self.name))
            self.state = old
            self.down()
        ensure_tools()
        img = build_image()
        self.timings["image"] = time.monotonic() - t0
        if register_teardown:
            self._register_teardown()
        shutil.rmtree(self.run_dir, ignore_errors=True)
        self.run_dir.mkdir(parents=True)
        self.state = {"name": self.name}
        try:
            self._prepare_disks(img)
            self._start_swtpm()
            self._start_qemu(img)
            self._write_inventory()
            self._save()
            self.wait_ssh(self.boot_timeout)
        except BaseException:
            self.down()
            raise
        self.timings["boot"] = time.monotonic() - t0 - self.timings["image"]
        self.state["boot_seconds"] = round(self.timings["boot"], 1)
        self._save()
        _log("guest %s up on port %d after %.0f s boot" % (self.name, self.port, self.timings["boot"]))
        return self.info()

    def _prepare_disks(self, img: Path) -> None:
        rd = self.run_dir
        shutil.copy2(img / "id_ed25519", rd / "id_ed25519")
        os.chmod(rd / "id_ed25519", 0o600)
        _run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(img / "root.img"),
              str(rd / "root.qcow2")])
        size_mb = _parse_size_mb(self.temp_disk_size)
        template = img / ("temp-template-%dM.img" % size_mb) if size_mb != 1024 else img / "temp-template-1G.img"
        if not template.exists():
            with _locked(CACHE_ROOT / ".build.lock"):
                if not template.exists():
                    tmp = template.with_suffix(".tmp")
                    _make_temp_disk_template(tmp, size_mb)
                    tmp.rename(template)
        _run(["cp", "--sparse=always", str(template), str(rd / "temp.img")])
        _make_data_disk(rd / "data.img", _parse_size_mb(self.data_disk_size), rd)

    def _swtpm_cmd(self, state_dir: str) -> List[str]:
        return ["swtpm", "socket", "--tpm2", "--tpmstate", "dir=" + state_dir,
                "--flags", "not-need-init,startup-clear"]

    def _start_swtpm(self) -> None:
        state_dir = self.keep_tpm_state or str(self.run_dir / "tpm")
        Path(state_dir).mkdir(parents=True, exist_ok=True)
        self.state["tpm_state_dir"] = state_dir
        if self.tpm_setup or self.tpm_init_script:
            # Provisioning phase: swtpm over TCP for tpm2-tools, same state dir.
            sport, cport = _free_port(), _free_port()
            p = subprocess.Popen(self._swtpm_cmd(state_dir) + [
                "--server", "type=tcp,port=%d,bindaddr=127.0.0.1" % sport,
                "--ctrl", "type=tcp,port=%d,bindaddr=127.0.0.1" % cport,
                "--log", "file=%s,level=1" % (self.run_dir / "swtpm-provision.log")],
                start_new_session=True, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.state["swtpm_provision_pid"] = p.pid
            try:
                _wait_tcp(sport, 30, p.pid)
                ctx = {"server_port": sport, "ctrl_port": cport, "host": "127.0.0.1",
                       "state_dir": state_dir,
                       "tcti": "swtpm:host=127.0.0.1,port=%d" % sport}
                if self.tpm_setup:
                    self.tpm_setup(ctx)
                if self.tpm_init_script:
                    env = dict(os.environ, TPM2TOOLS_TCTI=ctx["tcti"], SWTPM_SERVER_PORT=str(sport),
                               SWTPM_CTRL_PORT=str(cport), TPM_STATE_DIR=state_dir)
                    r = subprocess.run([self.tpm_init_script], env=env, stdout=subprocess.PIPE, check=False,
                                       stderr=subprocess.STDOUT)
                    (self.run_dir / "tpm-init.log").write_bytes(r.stdout)
                    if r.returncode != 0:
                        raise HarnessError("tpm init script failed (%d):\n%s" % (
                            r.returncode, r.stdout.decode(errors="replace")[-3000:]))
                subprocess.run(["swtpm_ioctl", "--tcp", "127.0.0.1:%d" % cport, "-s"], check=False,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    pass
            finally:
                _kill_group(p.pid)
                self.state.pop("swtpm_provision_pid", None)
        sock = self.run_dir / "swtpm.sock"
        p = subprocess.Popen(self._swtpm_cmd(state_dir) + [
            "--ctrl", "type=unixio,path=%s" % sock,
            "--log", "file=%s,level=1" % (self.run_dir / "swtpm.log")],
            start_new_session=True, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.state["swtpm_pid"] = p.pid
        self._save()
        _wait_path(sock, 30, p.pid)

    def qemu_cmd(self, img: Path, port: int) -> List[str]:
        rd = self.run_dir
        accel = ["-accel", "tcg,thread=multi", "-cpu", "max"] if self.accel == "tcg" else \
            ["-accel", "kvm", "-cpu", "host"]
        return ["qemu-system-x86_64", "-name", "cvm-" + self.name, "-machine", "q35"] + accel + [
            "-smp", str(self.cpus), "-m", str(self.memory),
            "-nodefaults", "-display", "none", "-vga", "none",
            "-serial", "file:" + str(rd / "console.log"),
            "-kernel", str(img / "vmlinuz"), "-initrd", str(img / "initrd.img"),
            "-append", "root=/dev/vda rw console=ttyS0 quiet loglevel=3 net.ifnames=1 systemd.show_status=0"
            + ("" if self.cloud_init else " cloud-init=disabled"),
            "-drive", "if=none,id=osdisk,file=%s,format=qcow2,discard=unmap" % (rd / "root.qcow2"),
            "-device", "virtio-blk-pci,drive=osdisk,serial=os-disk",
            "-drive", "if=none,id=tempdisk,file=%s,format=raw,discard=unmap" % (rd / "temp.img"),
            "-device", "virtio-blk-pci,drive=tempdisk,serial=" + TEMP_DISK_SERIAL,
            "-drive", "if=none,id=datadisk,file=%s,format=raw" % (rd / "data.img"),
            "-device", "virtio-blk-pci,drive=datadisk,serial=" + DATA_DISK_SERIAL,
            "-netdev", "user,id=n0,hostfwd=tcp:127.0.0.1:%d-:22" % port + "".join(
                ",guestfwd=tcp:%s:%d-cmd:%s %s %s %d" % (gip, gport, sys.executable, HERE / "tcprelay.py", hip, hport)
                for gip, gport, hip, hport in self.guestfwd),
            "-device", "virtio-net-pci,netdev=n0",
            "-device", "virtio-rng-pci",
            "-chardev", "socket,id=chrtpm,path=%s" % (rd / "swtpm.sock"),
            "-tpmdev", "emulator,id=tpm0,chardev=chrtpm",
            "-device", "tpm-tis,tpmdev=tpm0",
            "-qmp", "unix:%s,server=on,wait=off" % (rd / "qmp.sock"),
        ]

    def _start_qemu(self, img: Path) -> None:
        last_err = ""
        for _attempt in range(5):
            port = _free_port()
            log = open(self.run_dir / "qemu.log", "wb")
            p = subprocess.Popen(self.qemu_cmd(img, port), start_new_session=True,
                                 stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
            log.close()
            time.sleep(1.0)
            if p.poll() is None:
                self.state.update({"qemu_pid": p.pid, "port": port, "accel": self.accel})
                self._save()
                return
            last_err = (self.run_dir / "qemu.log").read_text(errors="replace")
            if "hostfwd" not in last_err and "Could not set up host forwarding" not in last_err:
                break
        raise HarnessError("qemu failed to start:\n" + last_err[-3000:])

    def _write_inventory(self) -> None:
        inv = (
            "[guest]\n"
            "{name} ansible_host=127.0.0.1 ansible_port={port} ansible_user={user} "
            "ansible_ssh_private_key_file={key} ansible_python_interpreter=/usr/bin/python3 "
            "ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
            "-o LogLevel=ERROR -o ConnectTimeout=20'\n"
        ).format(name=self.name, port=self.state["port"], user=GUEST_USER, key=self.private_key)
        Path(self.inventory_path).write_text(inv)

    def down(self) -> None:
        """Stop qemu and swtpm (process groups). Idempotent."""
        if not self.state and self.state_file.exists():
            try:
                self.state = json.loads(self.state_file.read_text())
            except ValueError:
                self.state = {}
        if self.state.get("port"):
            self._close_ssh_master()
        for key in ("qemu_pid", "swtpm_pid", "swtpm_provision_pid"):
            _kill_group(self.state.get(key))
        if self.state_file.exists():
            with contextlib.suppress(OSError):
                self.state_file.unlink()
        for f in ("root.qcow2", "temp.img", "data.img"):
            with contextlib.suppress(OSError):
                (self.run_dir / f).unlink()

    # ---- access
    def ssh_base(self) -> List[str]:
        # One multiplexed connection per guest: a fresh key exchange costs seconds in a TCG guest, and the tests run
        # dozens of commands. The master dies with the guest's sshd (reboot, down) and the next command starts one.
        return ["ssh", "-i", self.private_key, "-p", str(self.port),
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
                "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=6",
                "-o", "ControlMaster=auto", "-o", "ControlPath=%s" % (self.run_dir / "ssh-mux"),
                "-o", "ControlPersist=60",
                "%s@127.0.0.1" % GUEST_USER]

    def _close_ssh_master(self) -> None:
        if (self.run_dir / "ssh-mux").exists():
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run(self.ssh_base()[:-1] + ["-O", "exit", "%s@127.0.0.1" % GUEST_USER], check=False,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, timeout=10)

    def ssh(self, cmd: str, check: bool = True, timeout: float = 600,
            input: Optional[str] = None) -> subprocess.CompletedProcess:
        """Run a shell command in the guest; returns CompletedProcess (text)."""
        r = subprocess.run(self.ssh_base() + [cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False,
                           text=True, timeout=timeout, input=input,
                           stdin=None if input is not None else subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise HarnessError("guest command failed (%d): %s\nstdout: %s\nstderr: %s" % (
                r.returncode, cmd, r.stdout[-2000:], r.stderr[-2000:]))
        return r

    def wait_ssh(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if not _alive(self.state.get("qemu_pid")):
                raise HarnessError("qemu exited during boot; console tail:\n" + self._console_tail())
            try:
                r = subprocess.run(self.ssh_base() + ["systemctl is-system-running --wait >/dev/null 2>&1; true"], check=False,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   stdin=subprocess.DEVNULL, timeout=120)
                if r.returncode == 0:
                    return
            except subprocess.TimeoutExpired:
                pass
            if time.monotonic() > deadline:
                raise HarnessError("guest did not answer ssh within %.0f s; console tail:\n%s" % (
                    timeout, self._console_tail()))
            time.sleep(2)

    def _console_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(Path(self.console_log).read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no console log)"

    def boot_id(self) -> str:
        return self.ssh("cat /proc/sys/kernel/random/boot_id").stdout.strip()

    def reboot(self, timeout: Optional[float] = None) -> float:
        """Reboot the guest from inside; wait until it is back. Returns seconds."""
        t0 = time.monotonic()
        before = self.boot_id()
        self.ssh("systemd-run --on-active=1 systemctl reboot", check=False)
        self._close_ssh_master()      # never wait on a connection to the old boot
        deadline = t0 + (timeout or self.boot_timeout)
        while True:
            time.sleep(3)
            if time.monotonic() > deadline:
                raise HarnessError("guest did not come back after reboot; console tail:\n" + self._console_tail())
            try:
                self.wait_ssh(max(1.0, deadline - time.monotonic()))
                if self.boot_id() != before:
                    break
            except (HarnessError, subprocess.TimeoutExpired):
                if not _alive(self.state.get("qemu_pid")):
                    raise
        took = time.monotonic() - t0
        self.timings.setdefault("reboots", []).append(took)  # type: ignore[union-attr]
        return took


def probe_kvm(timeout: float = 120.0):
    """Boot a throw-away guest with -accel kvm; (True, secs) if ssh answers in time."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False, "/dev/kvm not accessible"
    g = Guest(name="kvm-probe", accel="kvm", boot_timeout=timeout)
    t0 = time.monotonic()
    try:
        g.up(register_teardown=True)
        return True, "ssh after %.0f s" % (time.monotonic() - t0)
    except HarnessError as e:
        return False, str(e).splitlines()[0]
    finally:
        g.down()
