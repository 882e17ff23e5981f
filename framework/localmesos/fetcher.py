"""The Mesos fetcher: put a task's ``command.uris`` into its sandbox before the command starts.

Why this module exists: mesopress ships its binaries and configuration to tasks as ``CommandInfo.URI``s, so
localmesos must fetch them the way the Mesos 1.11 fetcher does (src/launcher/fetcher.cpp,
src/slave/containerizer/fetcher.cpp, docs/fetcher.md): a ``file://`` URL or an absolute path is copied,
an ``http(s)://`` URL is downloaded (only HTTP 200 counts), the file is named ``output_file`` or else the
part of the URI after its last '/' (query string included, as Mesos does), ``executable`` makes it
``rwxr-xr-x`` (and then it is never extracted), else with ``extract`` (default true) a .tar, .tgz, .tar.gz,
.tbz2, .tar.bz2, .txz, .tar.xz or .zip archive is unpacked into the sandbox (a bare .gz is gunzipped).
The files belong to the task user. The first failure stops the fetch and fails the launch.

URLs may carry one-time tokens: every log line and error message names a URI without its query string,
fragment or user info. ``cache`` is accepted and ignored (every fetch goes straight to the sandbox).
"""

from __future__ import annotations

import gzip
import http.client
import logging
import os
import shutil
import stat
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from localmesos import executor

log = logging.getLogger(__name__)

Json = dict[str, Any]
DEFAULT_TIMEOUT = 60.0
TAR_SUFFIXES = (".tar", ".tgz", ".tar.gz", ".tbz2", ".tar.bz2", ".txz", ".tar.xz")
EXECUTABLE_MODE = stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH
CHUNK = 1 << 16


class FetchError(Exception):
    """One URI could not be fetched; the message names the (redacted) URI and the cause."""


def redact(uri: str) -> str:
    """``uri`` safe to log: no query string, fragment or user info (they may hold secrets)."""
    parts = urllib.parse.urlsplit(uri.strip())
    netloc = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def fetch_all(
    uris: list[Json],
    sandbox: Path,
    user: executor.User | None,
    timeout: float = DEFAULT_TIMEOUT,
    note: Callable[[str], None] = lambda line: None,
) -> None:
    """Fetch every URI into ``sandbox`` in order, then give what was fetched to ``user``.

    ``note`` receives one progress line per step (the agent appends them to the sandbox's stderr, where
    Mesos' fetcher writes its log). Raises FetchError on the first failure."""
    for uri in uris:
        shown = redact(str(uri.get("value", "")))
        log.info("Fetching URI '%s' into %s", shown, sandbox)
        note(f"Fetching URI '{shown}'")
        try:
            fetch_one(uri, sandbox, timeout)
        except FetchError as exc:
            note(f"Failed to fetch '{shown}': {exc}")
            raise FetchError(f"'{shown}': {exc}") from None
        note(f"Fetched '{shown}'")
    if user is not None and user.switch:
        chown_tree(sandbox, user)


def fetch_one(uri: Json, sandbox: Path, timeout: float = DEFAULT_TIMEOUT) -> Path:
    """Fetch one CommandInfo.URI into ``sandbox``; returns the path of the fetched file."""
    value = str(uri.get("value", "")).lstrip()
    dest = sandbox / output_name(uri)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        download(value, dest, timeout)
        if uri.get("executable", False):
            dest.chmod(EXECUTABLE_MODE)
        elif uri.get("extract", True):
            extract(dest, sandbox)
    except OSError as exc:
        raise FetchError(exc.strerror or str(exc)) from None
    return dest


def output_name(uri: Json) -> PurePosixPath:
    """The sandbox-relative file name: ``output_file``, else the URI's basename (Fetcher::basename)."""
    output = uri.get("output_file")
    name = PurePosixPath(output) if output else PurePosixPath(basename(str(uri.get("value", "")).lstrip()))
    if name.is_absolute() or ".." in name.parts or not name.parts:
        raise FetchError(f"output file '{name}' must be a relative path inside the sandbox")
    return name


def basename(uri: str) -> str:
    """Mesos' Fetcher::basename: the text after the last '/' (for URLs, of what follows '://')."""
    if any(c in uri for c in "\\'\0"):
        raise FetchError("Illegal characters in URI")
    index = uri.find("://")
    if index > 1:
        rest = uri[index + 3 :]
        if "/" not in rest or len(rest) <= rest.find("/") + 1:
            raise FetchError("Malformed URI (missing path)")
        return rest[rest.rfind("/") + 1 :]
    return PurePosixPath(uri).name


# --- sources -------------------------------------------------------------------------------------


def download(value: str, dest: Path, timeout: float) -> None:
    """Copy a local file or download an http(s) URL to ``dest``."""
    local = local_path(value)
    if local is not None:
        copy_local(local, dest)
    elif value.startswith(("http://", "https://")):
        download_http(value, dest, timeout)
    else:
        scheme = value.split("://", 1)[0]
        raise FetchError(f"unsupported URI scheme '{scheme}' (localmesos fetches file, http and https)")


def local_path(value: str) -> Path | None:
    """Fetcher::uriToLocalPath: the path of a ``file://`` URI or of a scheme-less value, else None."""
    if "://" in value and not value.startswith("file://"):
        return None
    path, is_file_uri = value, False
    for prefix in ("file://localhost", "file://"):
        if path.startswith(prefix):
            path, is_file_uri = path[len(prefix) :], True
            break
    if is_file_uri and not path.startswith("/"):
        raise FetchError("File URI only supports absolute paths")
    if not path.startswith("/"):
        raise FetchError(
            "A relative path was passed for the resource but the Mesos framework home was not specified"
        )
    return Path(path)


def copy_local(source: Path, dest: Path) -> None:
    if not source.is_file():
        raise FetchError(f"Failed to copy '{source}': no such file")
    shutil.copyfile(source, dest)


def download_http(url: str, dest: Path, timeout: float) -> None:
    """GET ``url`` (redirects followed) into ``dest``; anything but HTTP 200 is an error, as in Mesos."""
    request = urllib.request.Request(url, headers={"User-Agent": "localmesos-fetcher"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) only
            if response.status != 200:
                raise FetchError(f"Error downloading resource, received HTTP return code {response.status}")
            with dest.open("wb") as out:
                shutil.copyfileobj(response, out, CHUNK)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise FetchError(f"Error downloading resource, received HTTP return code {exc.code}") from None
    except urllib.error.URLError as exc:
        raise FetchError(f"Error downloading resource: {exc.reason}") from None
    except TimeoutError:
        raise FetchError(f"Error downloading resource: timed out after {timeout}s") from None
    except http.client.HTTPException as exc:
        raise FetchError(f"Error downloading resource: {type(exc).__name__}") from None


# --- extraction ----------------------------------------------------------------------------------


def extract(path: Path, directory: Path) -> bool:
    """Unpack an archive (by its name) into ``directory``; False when ``path`` is not an archive."""
    name = path.name
    try:
        if name.endswith(TAR_SUFFIXES):
            extract_tar(path, directory)
        elif name.endswith(".zip"):
            extract_zip(path, directory)
        elif name.endswith(".gz"):
            gunzip(path, directory / name[: -len(".gz")])
        else:
            return False
    except (tarfile.TarError, zipfile.BadZipFile, gzip.BadGzipFile, EOFError) as exc:
        raise FetchError(f"Failed to extract archive '{name}': {exc}") from None
    log.info("Extracted '%s' into '%s'", name, directory)
    return True


def extract_tar(path: Path, directory: Path) -> None:
    with tarfile.open(path, "r:*") as archive:
        archive.extractall(directory, filter="data")


def extract_zip(path: Path, directory: Path) -> None:
    """Unpack a zip keeping the Unix permission bits its entries carry (zipfile drops them)."""
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            target = Path(archive.extract(info, directory))
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                target.chmod(mode)


def gunzip(path: Path, dest: Path) -> None:
    with gzip.open(path, "rb") as source, dest.open("wb") as out:
        shutil.copyfileobj(source, out, CHUNK)


def chown_tree(root: Path, user: executor.User) -> None:
    """Give ``root`` and everything below it (symlinks themselves, not their targets) to ``user``."""
    os.chown(root, user.uid, user.gid)
    for base, dirs, files in os.walk(root):
        for name in dirs + files:
            os.lchown(os.path.join(base, name), user.uid, user.gid)
