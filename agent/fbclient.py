"""Finding the Firebird client library (``fbclient.dll`` / ``libfbclient.so``) that fdb loads.

Search order, first hit wins:

1. the ``raks.client_library`` setting — a file, or a folder holding the client; when it is set
   but points at nothing, the search stops there (a wrong setting must be reported, not papered
   over by some other client);
2. Windows: RaksSQL's own client — its ``Bin`` folder derived from the database path
   (``C:\\RAKS\\Data\\F00001.fdb`` → ``C:\\RAKS\\Bin``) and the usual install folders
   (``C:\\RAKS``, ``C:\\RaksSQL``, ``%ProgramFiles%`` / ``%ProgramFiles(x86)%`` ``\\RAKS``,
   ``\\RAKS\\RaksSQL``, ``\\RaksSQL``); then the Firebird installs (the registry's
   ``DefaultInstance``, ``%ProgramFiles%\\Firebird\\Firebird_*`` newest first — 3.0+ keep the
   client in the root, 2.5 in ``bin``); then ``PATH`` / the system folder;
   Linux / macOS: ``LD_LIBRARY_PATH``, the system library folders, ``/opt/firebird/lib``, the
   macOS framework, then whatever ``ctypes.util.find_library("fbclient")`` names;
3. a client an administrator put next to the running program (``raksbl.exe``);
4. the client bundled with raksbl (``_internal/firebird`` in the PyInstaller folder: the
   64-bit Firebird 5 client of the ``firebird-embedded`` wheel with a ``firebird.conf`` that
   allows legacy authentication, so it reaches Firebird 2.5 servers too); when running from
   source, the installed ``firebird-embedded`` wheel's client.

A client whose bitness differs from Python's cannot be loaded (WinError 193): such a file is
skipped and named in the error message, because RaksSQL ships a 32-bit client in some
versions while raksbl is usually built 64-bit.

The result is the path of an existing file (or, only when the setting is a bare file name such
as ``fbclient.dll``, that name unchanged for the OS loader to resolve); ``None`` when nothing
was found — :func:`client_library_missing_message` then tells the user where to point it.
"""

from __future__ import annotations

import ctypes.util
import glob
import logging
import os
import re
import struct
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath
from typing import Callable, Iterable, Mapping

log = logging.getLogger(__name__)

WINDOWS_NAME = "fbclient.dll"
POSIX_NAMES = ("libfbclient.so.2", "libfbclient.so", "libfbclient.dylib")
MACOS_FRAMEWORK = "/Library/Frameworks/Firebird.framework/Versions/A/Firebird"
POSIX_DIRS = (
    "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib/i386-linux-gnu",
    "/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib", "/opt/firebird/lib",
    "/usr/local/firebird/lib",
)
# Install folders of RaksSQL, relative to the system drive and to each Program Files folder;
# each is tried as <root>\Bin and <root>.
RAKS_DRIVE_ROOTS = (("RAKS",), ("RaksSQL",))
RAKS_PROGRAM_FILES_ROOTS = (("RAKS",), ("RAKS", "RaksSQL"), ("RaksSQL",))

_PE_MACHINE_BITS = {0x014C: 32, 0x8664: 64, 0xAA64: 64, 0x01C4: 32}
_DRIVE_PATH = re.compile(r"[A-Za-z]:[\\/]")


@dataclass
class ClientSearch:
    """Outcome of one search: ``found`` (or None), every place looked at, rejected files."""

    found: str | None = None
    searched: list[str] = field(default_factory=list)
    wrong_bitness: list[tuple[str, int]] = field(default_factory=list)
    configured: str = ""


def python_bits() -> int:
    return struct.calcsize("P") * 8


def library_bits(path: str) -> int | None:
    """32 or 64 for a Windows PE file (``fbclient.dll``); None when it is not a readable PE file."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return None
    if len(head) < 0x40 or head[:2] != b"MZ":
        return None
    (pe_offset,) = struct.unpack_from("<I", head, 0x3C)
    if pe_offset + 6 > len(head) or head[pe_offset:pe_offset + 4] != b"PE\0\0":
        return None
    (machine,) = struct.unpack_from("<H", head, pe_offset + 4)
    return _PE_MACHINE_BITS.get(machine)


def _windows_registry_dirs() -> list[str]:
    """Firebird install folders registered by the official installers (HKLM, both views)."""
    try:
        import winreg
    except ImportError:
        return []
    dirs = []
    for sub in (r"SOFTWARE\Firebird Project\Firebird Server\Instances",
                r"SOFTWARE\WOW6432Node\Firebird Project\Firebird Server\Instances"):
        try:
            with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, sub) as key:
                value, _ = winreg.QueryValueEx(key, "DefaultInstance")
                if value:
                    dirs.append(str(value))
        except OSError:
            continue
    return dirs


def _running_program_dirs() -> list[str]:
    """The frozen program's folder (and PyInstaller's ``_internal``); nothing when run from source."""
    if not getattr(sys, "frozen", False):
        return []
    dirs = [os.path.dirname(os.path.abspath(sys.executable))]
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle and bundle not in dirs:
        dirs.append(bundle)
    return dirs


BUNDLED_SUBDIR = "firebird"   # the bundle's folder holding the shipped client (build/raksbl.spec)
BUNDLED_LINUX_DEPS = ("libtommath.so.1", "libtomcrypt.so.1")
_DLL_DIRECTORIES: list = []


def bundled_client_dirs() -> list[str]:
    """Where the client shipped with raksbl lives: ``<bundle>/firebird`` when frozen, else the
    installed ``firebird-embedded`` wheel's ``runtime`` folder (nothing when it is not installed)."""
    bundle = getattr(sys, "_MEIPASS", None) if getattr(sys, "frozen", False) else None
    if bundle:
        return [os.path.join(bundle, BUNDLED_SUBDIR)]
    try:
        import importlib.util

        spec = importlib.util.find_spec("firebird.embedded")
    except (ImportError, ValueError):
        return []
    if spec is None or not spec.submodule_search_locations:
        return []
    return [os.path.join(list(spec.submodule_search_locations)[0], "runtime")]


def _database_bin_dir(database: str) -> str | None:
    """``…\\RAKS\\Data\\F00001.fdb`` (optionally ``host:``-prefixed) → ``…\\RAKS\\Bin``."""
    m = _DRIVE_PATH.search(database or "")
    if not m:
        return None
    path = PureWindowsPath(database[m.start():])
    if len(path.parts) < 3:  # C:\F00001.fdb: no program folder above it
        return None
    return str(path.parent.parent / "Bin")


def windows_candidates(env: Mapping[str, str], database: str = "",
                       registry_dirs: Iterable[str] = ()) -> list[str]:
    """Every place tried on Windows after the setting and the program folder, in order."""
    drive = env.get("SystemDrive") or "C:"
    if not drive.endswith(("\\", "/")):
        drive += os.sep  # "C:" + "RAKS" would be the drive-relative "C:RAKS"
    program_files = []
    for var in ("ProgramFiles", "ProgramW6432", "ProgramFiles(x86)"):
        value = env.get(var)
        if value and value not in program_files:
            program_files.append(value)
    out: list[str] = []

    def add(folder: str) -> None:
        path = os.path.join(folder, WINDOWS_NAME)
        if path not in out:
            out.append(path)

    from_db = _database_bin_dir(database)
    if from_db:
        add(from_db)
    roots = [os.path.join(drive, *parts) for parts in RAKS_DRIVE_ROOTS]
    roots += [os.path.join(pf, *parts) for parts in RAKS_PROGRAM_FILES_ROOTS for pf in program_files]
    for root in roots:
        add(os.path.join(root, "Bin"))
        add(root)
    for folder in registry_dirs:
        add(folder)
        add(os.path.join(folder, "bin"))
    for pf in program_files:
        # Firebird_5_0, Firebird_4_0, Firebird_3_0, Firebird_2_5 …: newest first.
        for folder in sorted(glob.glob(os.path.join(glob.escape(pf), "Firebird", "Firebird_*")), reverse=True):
            add(folder)
            add(os.path.join(folder, "bin"))
        for version in ("5_0", "4_0", "3_0"):  # listed even when absent, so the message names them
            add(os.path.join(pf, "Firebird", f"Firebird_{version}"))
        add(os.path.join(pf, "Firebird", "Firebird_2_5", "bin"))
    return out


def _ldconfig_path(soname: str) -> str | None:
    """The file behind a soname, from the dynamic linker cache (``ldconfig -p``)."""
    for ldconfig in ("/sbin/ldconfig", "/usr/sbin/ldconfig", "ldconfig"):
        try:
            out = subprocess.run([ldconfig, "-p"], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        for line in out.splitlines():
            name, _, target = line.strip().partition(" => ")
            if name.split(" (")[0] == soname and os.path.isfile(target):
                return target
    return None


def posix_candidates(env: Mapping[str, str], platform: str) -> list[str]:
    dirs = [d for d in (env.get("LD_LIBRARY_PATH", "") + ":" + env.get("DYLD_LIBRARY_PATH", "")).split(":") if d]
    dirs += list(POSIX_DIRS)
    out = [os.path.join(d, name) for d in dirs for name in POSIX_NAMES]
    if platform == "darwin":
        out.append(MACOS_FRAMEWORK)
    return out


def _client_in_folder(folder: str, platform: str) -> list[str]:
    names = (WINDOWS_NAME,) if platform == "win32" else POSIX_NAMES
    return [os.path.join(folder, name) for name in names]


def search_client_library(
    configured: str = "",
    *,
    database: str = "",
    platform: str | None = None,
    env: Mapping[str, str] | None = None,
    program_dirs: Iterable[str] | None = None,
    registry_dirs: Callable[[], Iterable[str]] | None = None,
    find_library: Callable[[str], str | None] | None = None,
    bits: int | None = None,
    bundled_dirs: Iterable[str] | None = None,
) -> ClientSearch:
    """Look for the client library (see the module docstring); every argument but ``configured``
    and ``database`` exists so tests can stand in for the OS."""
    platform = platform or sys.platform
    env = os.environ if env is None else env
    bits = bits or python_bits()
    result = ClientSearch(configured=(configured or "").strip())

    def accept(path: str) -> bool:
        result.searched.append(path)
        if not os.path.isfile(path):
            return False
        if platform == "win32":
            file_bits = library_bits(path)
            if file_bits is not None and file_bits != bits:
                result.wrong_bitness.append((path, file_bits))
                log.info("skipping %s: %d-bit client, Python is %d-bit", path, file_bits, bits)
                return False
        result.found = path
        return True

    if result.configured:
        value = os.path.expandvars(os.path.expanduser(result.configured))
        if not any(sep in value for sep in ("/", "\\")) and not os.path.exists(value):
            result.found = value  # a bare library name: the OS loader resolves it
            return result
        candidates = _client_in_folder(value, platform) if os.path.isdir(value) else [value]
        for path in candidates:
            if accept(path):
                break
        return result  # a configured value is never silently replaced by another client

    candidates: list[str] = []
    if platform == "win32":
        reg = registry_dirs() if registry_dirs is not None else _windows_registry_dirs()
        candidates += windows_candidates(env, database, reg)
    else:
        candidates += posix_candidates(env, platform)
    for path in candidates:
        if accept(path):
            log.debug("Firebird client library: %s", path)
            return result

    finder = find_library or ctypes.util.find_library
    name = finder("fbclient")
    if name:
        if os.path.isabs(name):
            if accept(name):
                return result
        else:  # Linux gives a soname; fdb needs a path (it cannot resolve "libfbclient.so.2")
            path = _ldconfig_path(name) if platform.startswith("linux") else None
            if path:
                if accept(path):
                    return result
            else:
                result.searched.append(f"{name} (ctypes.util.find_library)")

    dirs = list(_running_program_dirs() if program_dirs is None else program_dirs)
    dirs += [d for d in (bundled_client_dirs() if bundled_dirs is None else bundled_dirs) if d not in dirs]
    for path in [p for d in dirs for p in _client_in_folder(d, platform)]:
        if accept(path):
            log.debug("Firebird client library: %s", path)
            return result
    return result


def find_client_library(configured: str = "", **kwargs) -> str | None:
    """The Firebird client library to hand to fdb (``fb_library_name``), or None if none was found.

    ``configured`` is the ``raks.client_library`` setting; keyword arguments go to
    :func:`search_client_library` (``database=`` adds the ``Bin`` folder next to the database's).
    """
    return search_client_library(configured, **kwargs).found


def client_library_missing_message(search: ClientSearch, limit: int = 8) -> str:
    """Polish, for the user: nothing usable was found, where raksbl looked, where to point it."""
    bits = python_bits()
    if search.configured:
        head = (f"Nie znaleziono biblioteki klienta Firebird wskazanej w ustawieniach "
                f"(raks.client_library = „{search.configured}”).")
    else:
        head = "Nie znaleziono biblioteki klienta Firebird (fbclient.dll), potrzebnej do połączenia z bazą RaksSQL."
    lines = [head]
    for path, file_bits in search.wrong_bitness:
        lines.append(f"Plik {path} jest {file_bits}-bitowy, a raksbl jest {bits}-bitowy — "
                     f"potrzebny jest {bits}-bitowy klient Firebird.")
    if search.searched and not search.configured:
        shown = search.searched[:limit]
        more = len(search.searched) - len(shown)
        lines.append("Sprawdzone miejsca: " + "; ".join(shown) + (f" i {more} innych." if more > 0 else "."))
    lines.append(
        "Co zrobić: w Ustawieniach raksbl wskaż plik fbclient.dll (ustawienie raks.client_library) — "
        "zwykle leży w folderze Bin programu RaksSQL (np. C:\\RAKS\\Bin\\fbclient.dll) albo w folderze "
        "serwera Firebird (np. C:\\Program Files\\Firebird\\Firebird_3_0\\fbclient.dll). "
        f"Możesz też zainstalować klienta Firebird w wersji {bits}-bitowej (firebirdsql.org, "
        "opcja „Client only”) albo skopiować fbclient.dll obok raksbl.exe."
    )
    return "\n".join(lines)


def require_client_library(configured: str = "", **kwargs) -> str:
    """Like :func:`find_client_library`, but raises ``RaksConnectionError`` with the message above."""
    search = search_client_library(configured, **kwargs)
    if search.found:
        return search.found
    from agent.raks.errors import RaksConnectionError

    raise RaksConnectionError(client_library_missing_message(search))


# --- the client fdb has loaded -------------------------------------------------------------------
# fdb loads the client library once per process (``fdb.load_api``) and ignores any later
# ``fb_library_name``: everything below reports what is really in use.

_CLIENT_VERSION = re.compile(r"[A-Z]{2}-[VT](\d+)\.(\d+)\.(\d+)\.(\d+)\s+Firebird\s+(\d+)\.(\d+)")


@dataclass(frozen=True)
class ClientInfo:
    path: str                 # as handed to fdb (a full path unless a bare name was configured)
    version: str              # "5.0.4" (Firebird release), or the raw string when unparsable
    bundled: bool             # the client shipped with raksbl

    def describe(self) -> str:
        """Polish, for ``doctor`` and the settings dialog."""
        origin = " (dołączona do raksbl)" if self.bundled else ""
        version = f"Firebird {self.version}" if self.version else "wersja nieznana"
        return f"{self.path} — {version}{origin}"


def client_version_text(raw: str) -> str:
    """``LI-V6.3.4.1812 Firebird 5.0`` → ``5.0.4``; ``WI-V2.5.9.27139 Firebird 2.5`` → ``2.5.9``.

    Firebird 3+ clients report the old "6.3" interface version first; the release is the third
    number and the major/minor follow the word "Firebird".
    """
    m = _CLIENT_VERSION.search(raw or "")
    if not m:
        return (raw or "").strip()
    return f"{m.group(5)}.{m.group(6)}.{m.group(3)}"


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.normcase(os.path.abspath(a)) == os.path.normcase(os.path.abspath(b))


def is_bundled(path: str, bundled_dirs: Iterable[str] | None = None) -> bool:
    folder = os.path.dirname(os.path.abspath(path))
    return any(_same_file(folder, d) for d in (bundled_client_dirs() if bundled_dirs is None else bundled_dirs)
               if os.path.isdir(d))


def _mapped_path(name: str) -> str:
    """A bare soname fdb resolved by itself → the file this process mapped (Linux); else ``name``."""
    if not name or os.path.isabs(name) or not sys.platform.startswith("linux"):
        return name
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            for line in f:
                path = line.split(None, 5)[-1].strip()
                if path.startswith("/") and os.path.basename(path) == name:
                    return path
    except OSError:
        pass
    return name


def loaded_client() -> ClientInfo | None:
    """The client library fdb has loaded in this process, or None before the first connection."""
    fbcore = sys.modules.get("fdb.fbcore")
    api = getattr(fbcore, "api", None) if fbcore is not None else None
    if api is None:
        return None
    path = _mapped_path(str(getattr(api, "client_library_name", "") or ""))
    raw = ""
    try:
        buf = ctypes.create_string_buffer(256)
        api.isc_get_client_version(buf)
        raw = buf.value.decode("ascii", "replace")
    except Exception:  # an old client without the call
        log.debug("isc_get_client_version failed", exc_info=True)
    return ClientInfo(path, client_version_text(raw), bool(path) and is_bundled(path))


def prepare_client(path: str) -> None:
    """Before fdb loads ``path``: make the bundled client read its own ``firebird.conf`` (legacy
    authentication for Firebird 2.5 servers) and messages, and find its DLLs on Windows.

    Only for the bundled client; another installation's client keeps its own configuration.
    """
    if not path or not os.path.isabs(path) or not is_bundled(path):
        return
    folder = os.path.dirname(os.path.abspath(path))
    os.environ["FIREBIRD"] = folder
    if sys.platform.startswith("linux"):
        # The client links libtommath.so.1 (and its ChaCha plugin libtomcrypt.so.1); the bundle
        # ships them beside it. Loaded first, they satisfy those dependencies by soname.
        for dep in BUNDLED_LINUX_DEPS:
            dep_path = os.path.join(folder, dep)
            if os.path.isfile(dep_path):
                try:
                    ctypes.CDLL(dep_path, mode=ctypes.RTLD_GLOBAL)
                except OSError:
                    log.warning("cannot load %s", dep_path, exc_info=True)
    if sys.platform == "win32" and hasattr(os, "add_dll_directory"):
        try:  # msvcp140.dll, zlib1.dll, ICU … next to fbclient.dll; keep the handle alive
            _DLL_DIRECTORIES.append(os.add_dll_directory(folder))
        except OSError:
            log.debug("add_dll_directory(%s) failed", folder, exc_info=True)


def client_switch_note(configured: str, *, database: str = "") -> str:
    """Polish note when ``raks.client_library`` names another client than the one already loaded:
    it only takes effect after a restart. Empty when nothing is loaded yet, nothing is configured,
    the setting names the loaded client, or it names nothing (that is an error of its own)."""
    loaded = loaded_client()
    configured = (configured or "").strip()
    if loaded is None or not configured:
        return ""
    search = search_client_library(configured, database=database)
    if not search.found or _same_file(search.found, loaded.path) or search.found == loaded.path:
        return ""  # nothing there: connecting reports the wrong setting (require_client_library)
    head = (f"Wskazana w ustawieniach biblioteka klienta Firebird („{configured}”) zacznie działać "
            f"dopiero po ponownym uruchomieniu raksbl")
    return (f"{head}: program wczytuje bibliotekę klienta raz, przy pierwszym połączeniu, więc teraz "
            f"nadal używa „{loaded.path}”.")
