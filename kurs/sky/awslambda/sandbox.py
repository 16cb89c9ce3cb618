"""What a function may touch on this machine: Lambda's filesystem, and never the cloud's secrets.

Real Lambda runs a function in a sandbox: its package is read-only, only ``/tmp`` is writable
("[Errno 30] Read-only file system" elsewhere) and the host is out of sight. Here the function is
a process of the same user as the cloud, so an audit hook (PEP 578), installed by bootstrap.py
before the function's code is imported, refuses:

- writing anywhere but the temp folder: ``OSError(EROFS)``, the error Lambda gives;
- reading or listing the cloud's state folder (its keys, certificates, a room's roster: the
  function's own package in it stays readable), ``~/.aws`` and ``~/.ssh``, and other processes'
  ``/proc`` entries: ``PermissionError``;
- in a room (another learner's code runs on the instructor's laptop), starting programs,
  loading native code with ctypes, and connecting to anything on this machine but the cloud's
  API: the plain MQTT listener on 127.0.0.1 checks no policy (it is the instructor's own).

PEP 578 is explicit that audit hooks are not a sandbox against a determined attacker: this stops
accidents and the obvious, and the room guide (docs/room.md) says to use aws mode for a group you
cannot trust. Only the standard library is used here: this runs before the function's code.
"""

from __future__ import annotations

import errno
import importlib.machinery
import ipaddress
import os
import socket
import sys
import tempfile
from collections.abc import Callable

_EXTENSION_SUFFIXES = tuple(importlib.machinery.EXTENSION_SUFFIXES)
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
# Events that change the filesystem, and which of their arguments are paths.
_CHANGES = {"os.remove": (0,), "os.rmdir": (0,), "os.mkdir": (0,), "os.rename": (0, 1), "os.link": (1,),
            "os.symlink": (1,), "os.chmod": (0,), "os.chown": (0,), "os.truncate": (0,), "os.utime": (0,),
            "os.chflags": (0,), "os.setxattr": (0,), "os.removexattr": (0,), "shutil.rmtree": (0,),
            "shutil.copyfile": (1,), "shutil.copymode": (1,), "shutil.copystat": (1,), "shutil.move": (0, 1),
            "shutil.chown": (0,)}
_LISTINGS = {"os.listdir", "os.scandir", "glob.glob", "os.getxattr", "os.listxattr"}
# Room only: programs and native code are a way out of every check above.
_ESCAPES = {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
            "pty.spawn", "ctypes.dlopen", "ctypes.dlsym", "ctypes.cdata", "os.startfile",
            "sqlite3.enable_load_extension", "sqlite3.load_extension"}


def _real(path: object) -> str | None:
    if isinstance(path, int) or path is None:
        return None  # a file descriptor: already opened, so already checked
    try:
        return os.path.realpath(os.fsdecode(path))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _under(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


class Rules:
    """The decisions, separate from the hook so they can be tested without installing it."""

    def __init__(self, *, code_dir: str, hidden: tuple[str, ...], writable: tuple[str, ...], room: bool,
                 api_ports: tuple[int, ...] = ()) -> None:
        self.api_ports = api_ports  # the cloud's API: the one port on this machine a room's function may reach
        self.code_dir = os.path.realpath(code_dir)
        self.hidden = tuple(os.path.realpath(p) for p in hidden if p)
        self.writable = tuple(os.path.realpath(p) for p in writable if p)
        self.room = room
        self._own_proc = (f"/proc/{os.getpid()}", "/proc/self", "/proc/thread-self")

    def may_read(self, path: str) -> bool:
        if _under(path, (self.code_dir,)):
            return True
        if path.startswith("/proc/") and path.split("/")[2].isdigit():
            return _under(path, self._own_proc)
        return not _under(path, self.hidden)

    def may_write(self, path: str) -> bool:
        return _under(path, self.writable) and not _under(path, self.hidden)

    def check(self, event: str, args: tuple) -> None:
        """Raise the error the function would get for this event, or return if it may go ahead."""
        if event == "open":
            path = _real(args[0])
            if path is None:
                return
            flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
            mode = args[1] if len(args) > 1 and isinstance(args[1], str) else ""
            writing = bool(flags & _WRITE_FLAGS) or any(c in mode for c in "wax+")
            if not self.may_read(path):
                raise PermissionError(errno.EACCES, "Permission denied", path)
            if self.room and os.path.isdir(path):
                # A directory's descriptor as dir_fd makes a relative path start there, and the
                # "open" event does not carry dir_fd: the check above would look at the wrong place.
                raise PermissionError(errno.EACCES, "Permission denied: i et klasserom kan en Lambda-funksjon "
                                      "ikke åpne en mappe som fil (bruk os.listdir eller pathlib)", path)
            if writing and not self.may_write(path):
                raise OSError(errno.EROFS, "Read-only file system", path)
        elif event in _CHANGES:
            source = _real(args[0]) if event == "os.link" and args else None
            if source is not None and not self.may_read(source):
                # A hard link is the same file under a new name: only to a file the function may read.
                raise PermissionError(errno.EACCES, "Permission denied", source)
            for index in _CHANGES[event]:
                path = _real(args[index]) if len(args) > index else None
                if path is not None and not self.may_write(path):
                    raise OSError(errno.EROFS, "Read-only file system", path)
        elif event in _LISTINGS:
            path = _real(args[0]) if args else None
            if path is not None and not self.may_read(path):
                raise PermissionError(errno.EACCES, "Permission denied", path)
        elif self.room and event in ("socket.connect", "socket.sendto") and len(args) > 1:
            address = args[-1]
            if isinstance(address, tuple) and len(address) >= 2 and address[1] not in self.api_ports \
                    and _this_machine(address[0]):
                raise PermissionError(errno.EACCES, "Permission denied: i et klasserom kan en Lambda-funksjon bare "
                                      "nå AWS-API-et på instruktørens maskin; bruk boto3 (for eksempel "
                                      "iot-data publish) i stedet for en egen MQTT-forbindelse")
        elif self.room and event == "import" and args and args[0] == "_posixsubprocess":
            raise PermissionError(errno.EPERM, "Operation not permitted: i et klasserom kjører Lambda-funksjoner "
                                  "uten andre programmer")  # a fresh copy would bring fork_exec back (see install)
        elif self.room and event == "import" and len(args) > 1 and _native(args[1]) \
                and _under(_real(args[1]) or "", (self.code_dir, *self.writable)):
            # An extension module runs native code as it loads, out of reach of every check here.
            raise PermissionError(errno.EPERM, f"Operation not permitted: i et klasserom kan en Lambda-funksjon ikke "
                                  f"laste egen native kode ({os.path.basename(str(args[1]))}); bruk ren Python")
        elif self.room and event in _ESCAPES:
            raise PermissionError(errno.EPERM, f"Operation not permitted ({event}): i et klasserom kjører "
                                  "Lambda-funksjoner uten andre programmer og uten ctypes")


def _native(filename: object) -> bool:
    """Is ``filename`` an extension module (native code)?"""
    return isinstance(filename, str | bytes) and os.fsdecode(filename).endswith(_EXTENSION_SUFFIXES)


def _this_machine(host: object) -> bool:
    """Is ``host`` (an address or a name) this machine: loopback, or the "any" address?"""
    try:
        found = [ipaddress.ip_address(str(host).split("%", 1)[0])]
    except ValueError:
        try:
            found = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in socket.getaddrinfo(host, None)]
        except (OSError, UnicodeError, ValueError):
            return False  # the connection will fail on its own
    for ip in found:
        mapped = getattr(ip, "ipv4_mapped", None)
        if ip.is_loopback or ip.is_unspecified or (mapped is not None and (mapped.is_loopback or mapped.is_unspecified)):
            return True
    return False


def rules_from_environment(code_dir: str) -> Rules:
    """The rules for this worker, from what runner.py put in its environment (then removed)."""
    hidden = [p for p in os.environ.pop("KURS_LAMBDA_SKJULT", "").split(os.pathsep) if p]
    home = os.path.expanduser("~")
    hidden += [os.path.join(home, ".aws"), os.path.join(home, ".ssh")]
    room = os.environ.pop("KURS_LAMBDA_ROM", "") == "1"
    from urllib.parse import urlsplit

    ports = []
    for key, value in os.environ.items():
        if key.startswith("AWS_ENDPOINT_URL"):
            try:
                ports.append(urlsplit(value).port)
            except ValueError:
                pass
    return Rules(code_dir=code_dir, hidden=tuple(hidden), writable=(tempfile.gettempdir(), os.devnull), room=room,
                 api_ports=tuple(p for p in ports if p))


def install_from_environment(code_dir: str) -> None:
    install(rules_from_environment(code_dir))


def install(rules: Rules) -> Callable[[str, tuple], None]:
    """Install the hook for the rest of this process's life (audit hooks cannot be removed)."""
    watched = {"open", "socket.connect", "socket.sendto", "import", *_CHANGES, *_LISTINGS, *_ESCAPES}
    if rules.room and os.name == "posix":
        # subprocess starts programs with _posixsubprocess.fork_exec, which raises no audit event of
        # its own (only subprocess.Popen does): called directly it was a way out of the fence.
        import _posixsubprocess  # type: ignore[import-not-found]

        def fork_exec(*args: object, **kwargs: object) -> int:
            rules.check("subprocess.Popen", ())
            raise PermissionError(errno.EPERM, "Operation not permitted")

        _posixsubprocess.fork_exec = fork_exec

    def hook(event: str, args: tuple) -> None:
        if event in watched:
            rules.check(event, args)

    sys.addaudithook(hook)
    return hook
