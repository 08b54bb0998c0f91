"""Download a published dataset version: its manifest, then one file, resumed and verified."""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from labelfab_client.errors import ClientError, HashMismatch

CHUNK = 1 << 20
ProgressFn = Callable[[int, int], None]


def _session(token: str, session: requests.Session | None) -> requests.Session:
    s = session or requests.Session()
    s.headers["Authorization"] = f"Token {token}"
    s.headers.setdefault("User-Agent", "labelfab-client/1")
    return s


def _fail(response: requests.Response, what: str) -> ClientError:
    try:
        body = response.json()
        detail, errors = body.get("detail") or response.reason, body.get("errors") or []
    except ValueError:
        detail, errors = (response.text or response.reason or "").strip()[:300], []
    return ClientError(f"{what}: HTTP {response.status_code}: {detail}", status=response.status_code,
                       errors=errors)


def _version_url(url: str, project: int | str, version: int | str | None) -> str:
    number = version if version is not None else "latest"
    return f"{url.rstrip('/')}/api/projects/{project}/datasets/{number}"


def manifest(url: str, project: int | str, version: int | str | None = None, *, token: str,
             session: requests.Session | None = None, timeout: float = 60) -> dict[str, Any]:
    """The manifest of a version (the latest if ``version`` is None): files, hashes, counts, QC.

    Parameters
    ----------
    url : str
        The labelfab server, ``https://host[:port]``.
    project : int
        The project id.
    version : int or str, optional
        A version number; the latest when None.
    token : str
        An API token (a read-only one is enough).

    Returns
    -------
    dict
        The manifest, as ``GET /api/projects/P/datasets/V`` answers it.

    Raises
    ------
    ClientError
        The server refused, or could not be reached.
    """
    s = _session(token, session)
    try:
        response = s.get(_version_url(url, project, version), timeout=timeout)
    except requests.RequestException as exc:
        raise ClientError(f"cannot reach {url}: {exc}") from exc
    if response.status_code != 200:
        raise _fail(response, f"version {version or 'latest'} of project {project}")
    return response.json()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def verify(path: str | Path, sha256: str) -> None:
    """Raise :class:`HashMismatch` (and delete ``path``) unless the file's sha256 is ``sha256``."""
    path = Path(path)
    actual = _sha256(path)
    if actual != sha256:
        path.unlink(missing_ok=True)
        raise HashMismatch(f"{path.name}: sha256 is {actual}, the manifest says {sha256}; the file "
                           f"is corrupt and was deleted, pull again")


def pull(url: str, project: int | str, version: int | str | None = None, *, token: str,
         format: str = "jsonl", out_dir: str | Path = ".", media: bool = False,
         progress: ProgressFn | None = None, session: requests.Session | None = None,
         timeout: float = 60, chunk_size: int = CHUNK) -> Path:
    """Download one file of a published dataset version and check its sha256.

    Parameters
    ----------
    url : str
        The labelfab server, ``https://host[:port]``.
    project : int
        The project id.
    version : int or str, optional
        A version number; the latest when None.
    token : str
        An API token (a read-only one is enough).
    format : str
        ``jsonl`` (default), ``parquet``, ``csv``, ``json`` (Label Studio), ``coco``, ``yolo``,
        ``voc``, ``conll2003``, ``media`` or ``card``, as the version has them.
    out_dir : path
        Files go to ``out_dir/project-P/vN/``.
    media : bool
        Also download and unpack ``media.zip`` (the images, at the ``images/...`` paths the
        data refer to) next to the file.
    progress : callable, optional
        ``progress(bytes_done, bytes_total)``, called as the download goes (after each chunk of
        ``chunk_size`` bytes); what it raises stops the download, which the next pull resumes.

    Returns
    -------
    Path
        The verified file.

    Raises
    ------
    ClientError
        The server refused (no such project or version, a format the version lacks, a token
        without access), or the connection failed (pull again to resume).
    HashMismatch
        The file is corrupt (it was deleted).
    """
    s = _session(token, session)
    m = manifest(url, project, version, token=token, session=s, timeout=timeout)
    folder = Path(out_dir) / f"project-{m['project']['id']}" / f"v{m['version']}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps(m, indent=2, ensure_ascii=False), encoding="utf-8")
    path = _download(s, url, m, format, folder, progress=progress, timeout=timeout,
                     chunk_size=chunk_size)
    if media:
        files = {f["format"] for f in m.get("files", [])}
        if "media" not in files:
            raise ClientError(f"version {m['version']} has no media (the project has no stored images)")
        archive = _download(s, url, m, "media", folder, progress=progress, timeout=timeout,
                            chunk_size=chunk_size)
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                target = (folder / name).resolve()
                if not str(target).startswith(str(folder.resolve()) + os.sep):
                    raise ClientError(f"media.zip holds an unsafe path {name!r}")
            zf.extractall(folder)
    return path


def _download(s: requests.Session, url: str, m: dict, fmt: str, folder: Path, *,
              progress: ProgressFn | None, timeout: float, chunk_size: int = CHUNK) -> Path:
    files = {f["format"]: f for f in m.get("files", [])}
    key = fmt.strip().lower()
    if key not in files:
        raise ClientError(f"version {m['version']} has no {fmt!r} file; formats: {', '.join(files)}")
    entry = files[key]
    target = folder / entry["name"]
    if target.exists():
        if target.stat().st_size == entry["size"] and _sha256(target) == entry["sha256"]:
            if progress:
                progress(entry["size"], entry["size"])
            return target
        target.unlink()
    part = target.with_name(target.name + ".part")
    done = part.stat().st_size if part.exists() else 0
    if done > entry["size"]:
        part.unlink()
        done = 0
    headers = {"If-Range": f'"{entry["sha256"]}"', "Range": f"bytes={done}-"} if done else {}
    download = f"{_version_url(url, m['project']['id'], m['version'])}/download"
    if done < entry["size"]:
        try:
            with s.get(download, params={"format": key}, headers=headers, stream=True,
                       timeout=timeout) as response:
                if response.status_code == 200:
                    done = 0  # the server sent the whole file (no range, or the file changed)
                elif response.status_code != 206:
                    raise _fail(response, f"download of {entry['name']}")
                with open(part, "ab" if done else "wb") as fh:
                    for chunk in response.iter_content(chunk_size):
                        fh.write(chunk)
                        done += len(chunk)
                        if progress:
                            progress(done, entry["size"])
        except requests.RequestException as exc:
            raise ClientError(f"download of {entry['name']} was interrupted after {done} bytes "
                              f"({exc}); pull again to resume") from exc
    if part.stat().st_size != entry["size"]:
        raise ClientError(f"download of {entry['name']} stopped at {part.stat().st_size} of "
                          f"{entry['size']} bytes; pull again to resume")
    verify(part, entry["sha256"])
    os.replace(part, target)
    return target
