"""Shared pieces of the scripts that drive real QEMU (capture-qemu, qemu-load).

Python 3 standard library only. Nothing here listens on TCP: QMP runs over a unix socket in a
private temporary directory, and streams move through `exec:` pipes.

  Qmp               a minimal QMP client (one command in flight, events kept)
  QemuProcess       one QEMU process with its QMP socket, stderr file and temporary directory;
                    killed with the script (PR_SET_PDEATHSIG) and on every error path
  add_vm_arguments  the command-line options that describe a VM (machine, RAM, guest, extra
                    devices); a source and a destination built from the same options match
  vm_args           turns those options into QEMU arguments
  build_guest       assembles scripts/guest/bootsector.asm with nasm into a raw disk image
  wait_for_serial   waits for the guest's mark on its file-backed COM1
  renice_thread     lowers the priority of one named QEMU thread (the migration thread)
"""

import ctypes
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time

DEFAULT_QEMU = "qemu-system-x86_64"
GUEST_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "guest", "bootsector.asm")
GUESTS = ("fill", "dirty")
# The boot sector writes this to COM1 once its pattern pages are filled (scripts/guest).
GUEST_FILLED = b"F"
GUEST_DISK_BYTES = 1 << 20


class QemuError(Exception):
    """A failure worth one clear line on stderr (not a traceback)."""


class Qmp:
    """A minimal QMP client: one command in flight at a time; events are kept, not lost."""

    def __init__(self, path, timeout):
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._sock.settimeout(timeout)
            self._sock.connect(path)
        except BaseException:
            self._sock.close()
            raise
        self._buf = b""
        self.events = []
        self.greeting = self._read_message()
        if "QMP" not in self.greeting:
            raise QemuError(f"unexpected QMP greeting: {self.greeting!r}")
        self.execute("qmp_capabilities")

    def _read_message(self):
        # QMP sends one JSON object per line (CRLF terminated).
        while b"\n" not in self._buf:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise QemuError("QMP connection closed by QEMU")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return json.loads(line)

    def execute(self, command, arguments=None):
        """Runs a command and returns its "return" value; raises QemuError on "error"."""
        request = {"execute": command}
        if arguments:
            request["arguments"] = arguments
        self._sock.sendall(json.dumps(request).encode() + b"\n")
        while True:
            msg = self._read_message()
            if "event" in msg:
                self.events.append(msg)
                continue
            if "error" in msg:
                err = msg["error"]
                raise QemuError(f"QMP {command} failed: {err.get('class')}: {err.get('desc')}")
            return msg.get("return")

    def set_timeout(self, seconds):
        self._sock.settimeout(seconds)

    def close(self):
        self._sock.close()


def _die_with_parent():
    # Runs in the child between fork and exec: if this script dies (even by SIGKILL), the
    # kernel sends QEMU a SIGKILL, so no guest outlives a killed test.
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)


class QemuProcess:
    """A QEMU process with a QMP unix socket in a private temporary directory.

    Use as a context manager: QEMU is asked to quit and, failing that, killed; the directory
    (which callers may use for their own scratch files) is removed.
    """

    def __init__(self, binary, args, timeout, prefix="qemu-"):
        self.binary = binary
        self.args = args
        self.timeout = timeout
        self.tmpdir = tempfile.mkdtemp(prefix=prefix)
        self.sock_path = os.path.join(self.tmpdir, "qmp.sock")
        self.stderr_path = os.path.join(self.tmpdir, "qemu.stderr")
        self.proc = None
        self.qmp = None
        self._stderr_final = None  # stderr as it was when stop() removed the directory

    @property
    def argv(self):
        return [self.binary, *self.args, "-qmp", f"unix:{self.sock_path},server=on,wait=off"]

    def start(self):
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err,
                                         preexec_fn=_die_with_parent)
        # With wait=off QEMU creates the socket during startup; poll for it rather than sleep.
        deadline = time.monotonic() + self.timeout
        while True:
            if self.proc.poll() is not None:
                raise QemuError(
                    f"QEMU exited with status {self.proc.returncode} during startup:\n"
                    f"  {shlex.join(self.argv)}\n{self.stderr_text()}")
            if os.path.exists(self.sock_path):
                try:
                    self.qmp = Qmp(self.sock_path, self.timeout)
                    return
                except (OSError, QemuError):
                    # The socket file exists a moment before QEMU listens on it; and a QEMU
                    # that rejects its command line may accept and then drop the connection.
                    # Either way, the next round reports the exit or tries again.
                    pass
            if time.monotonic() > deadline:
                raise QemuError(f"QMP socket did not come up within {self.timeout}s")
            time.sleep(0.02)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stderr_raw(self):
        """Everything QEMU wrote to stderr so far (also after stop())."""
        if self._stderr_final is not None:
            return self._stderr_final
        try:
            with open(self.stderr_path, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stderr_text(self):
        text = self.stderr_raw().strip()
        return f"QEMU stderr:\n{text}" if text else ""

    def stop(self):
        """Quits QEMU (politely, then by force) and removes the temporary directory."""
        if self.qmp is not None:
            if self.alive():
                try:
                    self.qmp.set_timeout(5)  # a wedged QEMU is killed below, not waited for
                    self.qmp.execute("quit")
                except (QemuError, OSError, ValueError):
                    pass  # QEMU may close the socket before answering "quit"
            self.qmp.close()
            self.qmp = None
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._stderr_final is None:
            self._stderr_final = self.stderr_raw()
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()  # __exit__ does not run when __enter__ raises
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


def exit_on_signals():
    """Turns SIGTERM/SIGHUP into SystemExit so `finally` blocks kill QEMU and remove temp dirs."""

    def handler(signum, _frame):
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)


def find_qemu(name):
    """Path of the QEMU binary `name` (a path or a name on PATH), or None."""
    return shutil.which(name)


def parse_bool_or_int(value):
    """QMP parameter values: true/false, integers, else strings."""
    if value in ("true", "on"):
        return True
    if value in ("false", "off"):
        return False
    try:
        return int(value)
    except ValueError:
        return value


def parse_assignments(items, what):
    """["A=1", "B=x"] -> {"A": 1, "B": "x"}; raises ValueError naming the bad item."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValueError(f"{what} {item!r}: expected NAME=VALUE")
        out[name] = parse_bool_or_int(value)
    return out


_SIZE_SUFFIX = {"": 1 << 20, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text):
    """A RAM size as `-m` takes it ("32M", "1G", "64"; no suffix means MiB) -> bytes."""
    m = re.fullmatch(r"\s*(\d+)\s*([bBkKmMgGtT]?)\s*", text)
    if not m:
        raise ValueError(f"RAM size {text!r}: expected a number with an optional K/M/G suffix")
    size = int(m.group(1)) * _SIZE_SUFFIX[m.group(2).lower()]
    if size == 0 or size % 4096:
        raise ValueError(f"RAM size {text!r}: must be a non-zero multiple of 4 KiB")
    return size


def add_vm_arguments(ap):
    """Options describing the VM; a migration source and destination must be given the same."""
    ap.add_argument("--machine", default="pc", help="machine type for -M (default: pc)")
    ap.add_argument("--memory", default="16M",
                    help="guest RAM as for -m, e.g. 32M (default: 16M)")
    ap.add_argument("--guest", choices=GUESTS,
                    help="boot the test guest of scripts/guest from a raw disk: 'fill' writes "
                    "pattern pages and halts; 'dirty' then keeps re-dirtying a working set")
    ap.add_argument("--guest-define", action="append", default=[], metavar="NAME=VALUE",
                    help="nasm -D define for the guest layout, e.g. FILL_END=0x400000 "
                    "(repeatable; see scripts/guest/README.md)")
    ap.add_argument("--extra", action="append", default=[], metavar="ARGS",
                    help="extra QEMU arguments, split like a shell would (repeatable); "
                    "write --extra='-device VGA' when they start with a dash")
    ap.add_argument("--qemu", default=os.environ.get("QEMU", DEFAULT_QEMU),
                    help="QEMU binary (default: $QEMU or qemu-system-x86_64)")


def check_vm_arguments(ap, opts):
    """Validates add_vm_arguments' options (argparse error on failure); sets opts.ram_bytes."""
    try:
        opts.ram_bytes = parse_size(opts.memory)
    except ValueError as e:
        ap.error(str(e))
    for d in opts.guest_define:
        if not re.fullmatch(r"[A-Za-z_]\w*=[\w.+\-*()]+", d):
            ap.error(f"--guest-define {d!r}: expected NAME=VALUE (a nasm number or expression)")
    if opts.guest_define and not opts.guest:
        ap.error("--guest-define needs --guest")
    for extra in opts.extra:
        try:
            shlex.split(extra)
        except ValueError as e:
            ap.error(f"--extra {extra!r}: {e}")


def build_guest(kind, defines, outdir):
    """Assembles the test guest into outdir and returns the path of the 512-byte disk image."""
    if kind not in GUESTS:
        raise QemuError(f"unknown guest {kind!r} (known: {', '.join(GUESTS)})")
    nasm = shutil.which("nasm")
    if nasm is None:
        raise QemuError("nasm not found on PATH (Debian: apt-get install nasm, or scripts/setup)")
    out = os.path.join(outdir, f"guest-{kind}.img")
    argv = [nasm, "-f", "bin", "-o", out]
    if kind == "dirty":
        argv.append("-DDIRTY")
    argv += [f"-D{d}" for d in defines]
    argv.append(GUEST_SOURCE)
    result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if result.returncode != 0:
        raise QemuError(f"nasm failed ({shlex.join(argv)}):\n{result.stderr.strip()}")
    if os.path.getsize(out) != 512:
        raise QemuError(f"{out}: the guest must assemble to 512 bytes, got "
                        f"{os.path.getsize(out)}")
    # The disk is padded (sparsely) to 1 MiB. SeaBIOS gives a disk 16 heads x 63 sectors per
    # cylinder; on q35 (AHCI) a disk smaller than one cylinder gets 0 cylinders and "Boot
    # failed: could not read the boot disk". pc (IDE) boots the bare sector; both get 1 MiB.
    os.truncate(out, GUEST_DISK_BYTES)
    return out


def blank_guest_disk(outdir):
    """A zeroed disk the size of build_guest's: what a migration destination attaches in place
    of the guest disk (disk contents never travel in the stream; only device state does)."""
    out = os.path.join(outdir, "guest-blank.img")
    with open(out, "wb"):
        pass
    os.truncate(out, GUEST_DISK_BYTES)
    return out


def vm_args(opts, guest_image=None, serial="null", machine_suffix=""):
    """QEMU arguments for the VM that add_vm_arguments describes (no -S, -incoming or -qmp).

    The guest disk and its serial port appear only with --guest, so a source and a
    destination built from the same options have the same devices. `serial` is a chardev
    spec for COM1 (e.g. "file:/tmp/x"); `machine_suffix` is appended to -M (",opt=val").
    """
    args = ["-nodefaults", "-display", "none", "-M", opts.machine + machine_suffix,
            "-m", f"{opts.ram_bytes // 1024}K"]
    if opts.guest:
        args += ["-drive", f"file={guest_image},format=raw", "-serial", serial]
    for extra in opts.extra:
        args.extend(shlex.split(extra))
    return args


def wait_for_serial(qemu, path, marker, timeout):
    """Waits until the file chardev at `path` contains `marker` (bytes)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(path, "rb") as f:
                if marker in f.read():
                    return
        except FileNotFoundError:
            pass
        if not qemu.alive():
            raise QemuError(f"QEMU exited while waiting for the guest:\n{qemu.stderr_text()}")
        if time.monotonic() > deadline:
            raise QemuError(f"the guest did not write {marker!r} to its serial port within "
                            f"{timeout}s (is it booting? see {path})")
        time.sleep(0.02)


def renice_thread(pid, name, niceness, timeout=2.0):
    """Sets the nice value of the thread of process `pid` named `name` (QEMU names its
    threads with -name ...,debug-threads=on). Raising a nice value needs no privileges.
    Returns False if no such thread appeared within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                try:
                    with open(f"/proc/{pid}/task/{tid}/comm") as f:
                        if f.read().strip() == name:
                            os.setpriority(os.PRIO_PROCESS, int(tid), niceness)
                            return True
                except (FileNotFoundError, ProcessLookupError):
                    pass  # the thread ended while we looked
        except FileNotFoundError:
            return False  # the process is gone
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)


def set_capabilities(qmp, names):
    if names:
        qmp.execute("migrate-set-capabilities", {"capabilities": [
            {"capability": c, "state": True} for c in names]})
