"""Download on first use: fetch, verify and lay out CoOp's datasets under `DATASET.ROOT`.

- HTTP files are fetched with `urllib` into `<ROOT>/.safe_clip_downloads/<file>.part` and resumed with a `Range`
  request when a partial file is there (a server that ignores the range restarts the file); Google Drive files
  (CoOp's split JSONs, UCF101's frames, classnames.txt) go through `gdown` with its own resume.
- Verified by MD5 where the catalogue knows it, and always by structure (the archive opens, the JSON parses,
  the expected members are in the archive).
- Archives are extracted into a staging folder (tar with the "data" filter, zip with path checks) and the members
  CoOp reads are moved into place, so an interrupted run never leaves a half-extracted dataset folder behind.

`ensure_dataset(cfg)` is the hook for `train.py`: it downloads a missing, freely downloadable dataset unless
`SAFE_CLIP_NO_DOWNLOAD=1` (or `download=False`), and otherwise raises a one-line `UserError` with the manual steps.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from typing import Any, Iterable

from safe_clip.data.catalogue import Entry, Resource, find_entry
from safe_clip.errors import UserError

DOWNLOAD_DIR_NAME = ".safe_clip_downloads"
NO_DOWNLOAD_VARIABLE = "SAFE_CLIP_NO_DOWNLOAD"
CHUNK = 1 << 20
USER_AGENT = "safe-clip-dataset-downloader"


class DownloadError(UserError):
    """A download or verification failed; the message says what to do."""


# --------------------------------------------------------------------------------------------------------------
# Status


def missing_paths(entry: Entry, root: str) -> list[str]:
    return [path for path in entry.present if not os.path.exists(os.path.join(root, path))]


def is_installed(entry: Entry, root: str) -> bool:
    return not missing_paths(entry, root)


def download_allowed() -> bool:
    return os.environ.get(NO_DOWNLOAD_VARIABLE, "").strip().lower() not in ("1", "true", "yes", "on")


# --------------------------------------------------------------------------------------------------------------
# Fetching


def _progress(total: int | None, initial: int, name: str, quiet: bool) -> Any:
    if quiet:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    return tqdm(total=total, initial=initial, unit="B", unit_scale=True, desc=name, file=sys.stderr, leave=False)


def http_download(url: str, dest: str, timeout: float = 60.0, quiet: bool = False, attempts: int = 3) -> str:
    """Downloads `url` to `dest`, resuming `dest + ".part"` when present; returns `dest`.

    Raises `DownloadError` when the server cannot be reached or the file stays incomplete after `attempts` tries
    (the partial file is kept, so the next run resumes).
    """
    part = dest + ".part"
    last_error = ""
    for attempt in range(attempts):
        offset = os.path.getsize(part) if os.path.exists(part) else 0
        headers = {"User-Agent": USER_AGENT}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        request = urllib.request.Request(url, headers=headers)
        try:
            response = urllib.request.urlopen(request, timeout=timeout)
        except urllib.error.HTTPError as error:
            if error.code == 416 and offset:
                # The partial file already holds every byte (or is bigger than the file: start over).
                length = _remote_length(url, timeout)
                if length is not None and length == offset:
                    os.replace(part, dest)
                    return dest
                os.remove(part)
                last_error = "the partial download did not match the file on the server"
                continue
            raise DownloadError(f"could not download {url}: HTTP {error.code} {error.reason}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise DownloadError(f"could not reach {url} ({reason}); are you offline?") from None

        with response:
            status = getattr(response, "status", 200)
            if status == 206 and offset:
                content_range = response.headers.get("Content-Range", "")
                if not content_range.startswith(f"bytes {offset}-"):
                    offset = 0  # unexpected range: start over
                mode = "ab" if offset else "wb"
            else:
                offset, mode = 0, "wb"
            length = response.headers.get("Content-Length")
            total = int(length) + offset if length is not None else None
            bar = _progress(total, offset, os.path.basename(dest), quiet)
            written = offset
            try:
                with open(part, mode) as handle:
                    while True:
                        chunk = response.read(CHUNK)
                        if not chunk:
                            break
                        handle.write(chunk)
                        written += len(chunk)
                        if bar is not None:
                            bar.update(len(chunk))
            except (OSError, urllib.error.URLError) as error:
                last_error = f"the connection broke after {written} bytes ({error})"
                continue
            finally:
                if bar is not None:
                    bar.close()
        if total is not None and written < total:
            last_error = f"the connection closed after {written} of {total} bytes"
            time.sleep(min(2.0 * attempt, 5.0))
            continue
        os.replace(part, dest)
        return dest
    raise DownloadError(f"could not download {url}: {last_error}; run the command again to resume")


def _remote_length(url: str, timeout: float) -> int | None:
    try:
        request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": USER_AGENT})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            return int(length) if length is not None else None
    except (urllib.error.URLError, OSError, ValueError):
        return None


def gdrive_download(file_id: str, dest: str, quiet: bool = False) -> str:
    """Downloads a Google Drive file with gdown (which resumes its own partial file); returns `dest`."""
    try:
        import gdown
    except ImportError:
        raise DownloadError("gdown is not installed (pip install gdown); it fetches CoOp's Google Drive files")
    try:
        result = gdown.download(id=file_id, output=dest, quiet=quiet, resume=True)
    except Exception as error:  # gdown raises its own errors, requests' and OSError
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DownloadError(
            f"could not download Google Drive file {file_id} ({message}); are you offline, or is the file over its "
            f"download quota?"
        ) from None
    if not result or not os.path.isfile(dest):
        raise DownloadError(f"could not download Google Drive file {file_id} (gdown returned nothing)")
    return dest


def md5sum(path: str) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(resource: Resource, path: str) -> None:
    """MD5 when known; archives must open; JSON files must parse. Bad files are deleted before raising."""
    problem = ""
    if resource.md5:
        actual = md5sum(path)
        if actual != resource.md5:
            problem = f"MD5 {actual} instead of {resource.md5}"
    if not problem and resource.is_archive and not (zipfile.is_zipfile(path) or tarfile.is_tarfile(path)):
        problem = "not a tar or zip archive"
    if not problem and resource.filename.endswith(".json"):
        try:
            with open(path) as handle:
                json.load(handle)
        except ValueError:
            problem = "not valid JSON"
    if problem:
        os.remove(path)
        raise DownloadError(
            f"downloaded file {resource.filename} from {resource.source} is damaged ({problem}; an error page or "
            f"a quota notice instead of the file?); it was deleted: run the command again or download it by hand"
        )


def fetch(resource: Resource, download_dir: str, quiet: bool = False) -> str:
    """The verified downloaded file of `resource` (reused when already there and valid)."""
    os.makedirs(download_dir, exist_ok=True)
    dest = os.path.join(download_dir, resource.filename)
    if os.path.isfile(dest):
        try:
            verify(resource, dest)
            return dest
        except DownloadError:
            pass  # deleted; download again
    if resource.gdrive_id:
        if not quiet:
            print(f"Downloading {resource.source} -> {dest}")
        gdrive_download(resource.gdrive_id, dest, quiet=quiet)
    else:
        errors = []
        for url in resource.urls:
            if not quiet:
                print(f"Downloading {url} -> {dest}")
            try:
                http_download(url, dest, quiet=quiet)
                break
            except DownloadError as error:
                errors.append(str(error))
                if os.path.exists(dest + ".part") and len(resource.urls) > 1:
                    os.remove(dest + ".part")  # a partial file from one mirror is not resumed from another
        else:
            raise DownloadError("; ".join(errors))
    verify(resource, dest)
    return dest


# --------------------------------------------------------------------------------------------------------------
# Installing


def _safe_extract(archive: str, target: str) -> None:
    """Extracts a zip or tar archive into `target`, refusing members that would land outside it."""
    os.makedirs(target, exist_ok=True)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as handle:
                root = os.path.realpath(target)
                for name in handle.namelist():
                    destination = os.path.realpath(os.path.join(target, name))
                    if not (destination == root or destination.startswith(root + os.sep)):
                        raise DownloadError(f"archive {archive} has an unsafe member {name!r}; not extracted")
                handle.extractall(target)
            return
        with tarfile.open(archive) as handle:
            if hasattr(tarfile, "data_filter"):
                handle.extractall(target, filter="data")
            else:  # pragma: no cover - Python < 3.11.4
                for member in handle.getmembers():
                    if member.name.startswith("/") or ".." in member.name.split("/"):
                        raise DownloadError(f"archive {archive} has an unsafe member {member.name!r}; not extracted")
                handle.extractall(target)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as error:
        raise DownloadError(f"archive {archive} cannot be extracted ({error}); delete it and download it again")


def _move_into_place(source: str, destination: str) -> None:
    """Moves `source` to `destination`; when both are folders, moves the entries `destination` lacks."""
    if not os.path.exists(destination):
        os.makedirs(os.path.dirname(destination) or ".", exist_ok=True)
        shutil.move(source, destination)
        return
    if os.path.isdir(source) and os.path.isdir(destination):
        for name in os.listdir(source):
            _move_into_place(os.path.join(source, name), os.path.join(destination, name))


def install(resource: Resource, path: str, root: str) -> None:
    """Places a verified download under `root` as the catalogue says."""
    if not resource.is_archive:
        target = os.path.join(root, resource.dest)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(path, target + ".tmp")
        os.replace(target + ".tmp", target)
        return
    staging = path + ".extract"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        print(f"Extracting {os.path.basename(path)}")
        _safe_extract(path, staging)
        content = staging
        if resource.inner:
            inner = os.path.join(staging, resource.inner)
            if not os.path.isfile(inner):
                raise DownloadError(f"{resource.filename} does not contain {resource.inner}; download it by hand")
            content = staging + ".inner"
            shutil.rmtree(content, ignore_errors=True)
            _safe_extract(inner, content)
        for member, dest in resource.members:
            source = os.path.join(content, member)
            if not os.path.exists(source):
                raise DownloadError(
                    f"{resource.filename} does not contain {member!r} (unexpected archive layout); "
                    f"extract it by hand so that {member} becomes {os.path.join(root, dest)}"
                )
            _move_into_place(source, os.path.join(root, dest))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(staging + ".inner", ignore_errors=True)


def download_dataset(entry: Entry, root: str, keep_archives: bool = False, quiet: bool = False) -> None:
    """Downloads, verifies and installs every missing resource of `entry` under `root`."""
    root = os.path.abspath(os.path.expanduser(root))
    if not entry.downloadable:
        raise UserError(entry.how_to_get(root))
    download_dir = os.path.join(root, DOWNLOAD_DIR_NAME)
    try:
        os.makedirs(download_dir, exist_ok=True)
    except OSError as error:
        raise UserError(f"cannot write to {root} ({error.strerror}): choose a writable --root") from None
    for resource in entry.resources:
        if all(os.path.exists(os.path.join(root, dest)) for dest in resource.destinations):
            continue
        try:
            path = fetch(resource, download_dir, quiet=quiet)
            install(resource, path, root)
        except DownloadError as error:
            _remove_if_empty(download_dir)
            raise DownloadError(f"{entry.name}: {error}. To install it by hand: {entry.steps_text(root)}") from None
        if not keep_archives:
            os.remove(path)
    missing = missing_paths(entry, root)
    if missing:
        raise DownloadError(f"{entry.name}: after the download {os.path.join(root, missing[0])} is still missing")
    _remove_if_empty(download_dir)
    if not quiet:
        print(f"{entry.name} is ready in {os.path.join(root, entry.folder)}")


def _remove_if_empty(directory: str) -> None:
    try:
        os.rmdir(directory)
    except OSError:
        pass


def download_datasets(names: Iterable[str], root: str, keep_archives: bool = False, quiet: bool = False) -> list[str]:
    """Downloads each named dataset (registry or config name, or "all"); returns the error messages."""
    from safe_clip.data.catalogue import CATALOGUE

    names = list(names)
    entries: list[Entry] = []
    for name in names:
        if name.lower() == "all":
            entries.extend(CATALOGUE)
            continue
        entry = find_entry(name)
        if entry is None:
            known = ", ".join(e.config for e in CATALOGUE)
            raise UserError(f"unknown dataset {name!r}; known: {known} (or 'all')")
        entries.append(entry)
    errors = []
    for entry in dict.fromkeys(entries):
        if is_installed(entry, root):
            if not quiet:
                print(f"{entry.name} is already in {os.path.join(os.path.abspath(root), entry.folder)}")
            continue
        try:
            download_dataset(entry, root, keep_archives=keep_archives, quiet=quiet)
        except UserError as error:
            errors.append(str(error))
    return errors


def ensure_dataset(cfg: Any, download: bool | None = None, quiet: bool = False) -> None:
    """Makes sure `cfg.DATASET.NAME` is under `cfg.DATASET.ROOT`, downloading it when it is missing and allowed.

    Does nothing for datasets outside CoOp's 15 and when the image folder is there (a missing split JSON is then
    built as CoOp builds it). `download=None` means "unless SAFE_CLIP_NO_DOWNLOAD=1". Raises a one-line
    `UserError` with the manual steps when the dataset needs a login, downloading is off, or the download fails.
    """
    entry = find_entry(str(cfg.DATASET.NAME or ""))
    root = str(cfg.DATASET.ROOT or "")
    if entry is None or not root or entry.name != str(cfg.DATASET.NAME):
        return
    root = os.path.abspath(os.path.expanduser(root))
    if os.path.exists(os.path.join(root, entry.present[0])):
        return
    where = os.path.join(root, entry.folder)
    if not entry.downloadable:
        raise UserError(f"dataset folder {where} not found: {entry.how_to_get(root)}")
    if download is None:
        download = download_allowed()
    if not download:
        raise UserError(
            f"dataset folder {where} not found and automatic download is off "
            f"({NO_DOWNLOAD_VARIABLE}=1 or --no-download): {entry.how_to_get(root)}"
        )
    print(f"{entry.name} not found under {root}: downloading it ({NO_DOWNLOAD_VARIABLE}=1 turns this off)")
    download_dataset(entry, root, quiet=quiet)
