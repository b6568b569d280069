"""`python -m safe_clip.data download`: HTTP from a local server on 127.0.0.1 (with resume), Google Drive with
gdown patched, verification, layout, offline and manual-dataset messages, and the train.py hook."""
from __future__ import annotations

import hashlib
import http.server
import io
import os
import re
import socket
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

import safe_clip.data.catalogue as catalogue
import safe_clip.data.download as dl
from safe_clip.data.__main__ import main as cli
from safe_clip.data.catalogue import CATALOGUE, Entry, Resource
from safe_clip.errors import UserError
from tests.datasets.helpers import build, make_cfg
from tests.layouts import write_eurosat

SPLIT_ID = "fake-split-id"


class Server:
    """A tiny HTTP file server with `Range` support, and switches to misbehave."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str]] = []  # (path, Range header)
        self.ignore_range = False
        self.break_first = False  # cut the first response of each file in half
        self._broken: set[str] = set()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_HEAD(self):
                self._serve(head=True)

            def do_GET(self):
                self._serve(head=False)

            def _serve(self, head):
                path = self.path.split("?")[0]
                server.requests.append((path, self.headers.get("Range", "")))
                body = server.files.get(path)
                if body is None:
                    self.send_error(404)
                    return
                start = 0
                match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
                if match and not server.ignore_range:
                    start = int(match.group(1))
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                if head:
                    return
                chunk = body[start:]
                if server.break_first and path not in server._broken:
                    server._broken.add(path)
                    self.wfile.write(chunk[: len(chunk) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(chunk)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    srv = Server()
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def eurosat_files(tmp_path_factory):
    """A small EuroSAT archive (2750/<class>/..., as the real EuroSAT.zip) and its CoOp split JSON."""
    source = tmp_path_factory.mktemp("eurosat_src")
    dataset_dir = write_eurosat(source, n_per_class=5, n_classes=3)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(dataset_dir / "2750", arcname="2750")
    return buffer.getvalue(), (dataset_dir / "split_zhou_EuroSAT.json").read_bytes()


@pytest.fixture
def gdrive(monkeypatch, eurosat_files):
    """gdown.download patched: serves the split JSON for SPLIT_ID, records the calls."""
    import gdown

    calls = []
    payloads = {SPLIT_ID: eurosat_files[1]}

    def fake_download(url=None, output=None, quiet=False, id=None, resume=False, **kwargs):
        calls.append({"id": id, "output": output, "resume": resume})
        if id not in payloads:
            raise gdown.exceptions.FileURLRetrievalError(f"Cannot retrieve the public link of the file {id}")
        Path(output).write_bytes(payloads[id])
        return output

    monkeypatch.setattr(gdown, "download", fake_download)
    return calls


def use_entry(monkeypatch, server: Server, archive: bytes, md5: str | None = None, urls=None) -> Entry:
    server.files["/EuroSAT.tar.gz"] = archive
    real = catalogue.find_entry("eurosat")
    entry = Entry(
        name="EuroSAT",
        config="eurosat",
        folder="eurosat",
        present=real.present,
        size="1 kB",
        resources=(
            Resource(
                filename="EuroSAT.tar.gz",
                urls=tuple(urls or (f"{server.url}/EuroSAT.tar.gz",)),
                md5=hashlib.md5(archive).hexdigest() if md5 is None else md5,
                members=(("2750", "eurosat/2750"),),
            ),
            Resource(filename="split_zhou_EuroSAT.json", gdrive_id=SPLIT_ID, dest="eurosat/split_zhou_EuroSAT.json"),
        ),
    )
    monkeypatch.setattr(catalogue, "CATALOGUE", tuple(entry if e.name == "EuroSAT" else e for e in CATALOGUE))
    return entry


def assert_installed(root: Path):
    assert (root / "eurosat" / "2750" / "Forest").is_dir()
    assert (root / "eurosat" / "split_zhou_EuroSAT.json").is_file()
    assert not (root / dl.DOWNLOAD_DIR_NAME).exists()  # archives removed, staging cleaned
    dataset = build(root, "EuroSAT", shots=2, seed=1)
    assert len(dataset.classnames) == 3 and len(dataset.train_x) == 6


def test_cli_downloads_verifies_and_lays_out(tmp_path, server, gdrive, eurosat_files, monkeypatch, capsys):
    use_entry(monkeypatch, server, eurosat_files[0])
    root = tmp_path / "data"
    assert cli(["download", "eurosat", "--root", str(root), "--quiet"]) == 0
    assert_installed(root)
    assert [c["id"] for c in gdrive] == [SPLIT_ID] and gdrive[0]["resume"]
    # A second call finds it installed and fetches nothing.
    server.requests.clear()
    assert cli(["download", "EuroSAT", "--root", str(root)]) == 0
    assert server.requests == [] and len(gdrive) == 1
    assert "already in" in capsys.readouterr().out


def test_partial_download_is_resumed(tmp_path, server, gdrive, eurosat_files, monkeypatch):
    archive = eurosat_files[0]
    use_entry(monkeypatch, server, archive)
    root = tmp_path / "data"
    part = root / dl.DOWNLOAD_DIR_NAME / "EuroSAT.tar.gz.part"
    part.parent.mkdir(parents=True)
    half = len(archive) // 2
    part.write_bytes(archive[:half])
    assert cli(["download", "eurosat", "--root", str(root), "--quiet"]) == 0
    assert server.requests[0] == ("/EuroSAT.tar.gz", f"bytes={half}-")
    assert_installed(root)


def test_broken_connection_is_resumed_in_the_same_run(tmp_path, server, gdrive, eurosat_files, monkeypatch):
    use_entry(monkeypatch, server, eurosat_files[0])
    server.break_first = True
    root = tmp_path / "data"
    assert cli(["download", "eurosat", "--root", str(root), "--quiet"]) == 0
    ranges = [r for path, r in server.requests if path == "/EuroSAT.tar.gz"]
    assert ranges[0] == "" and ranges[1].startswith("bytes=")
    assert_installed(root)


def test_server_ignoring_range_restarts_the_file(tmp_path, server, gdrive, eurosat_files, monkeypatch):
    archive = eurosat_files[0]
    use_entry(monkeypatch, server, archive)
    server.ignore_range = True
    root = tmp_path / "data"
    part = root / dl.DOWNLOAD_DIR_NAME / "EuroSAT.tar.gz.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"garbage that is not the start of the file")
    assert cli(["download", "eurosat", "--root", str(root), "--quiet"]) == 0
    assert_installed(root)


def test_checksum_mismatch_is_one_line_and_deletes_the_file(
    tmp_path, server, gdrive, eurosat_files, monkeypatch, capsys
):
    use_entry(monkeypatch, server, eurosat_files[0], md5="0" * 32)
    root = tmp_path / "data"
    assert cli(["download", "eurosat", "--root", str(root), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: EuroSAT:") and "MD5" in err[0]
    assert not (root / dl.DOWNLOAD_DIR_NAME / "EuroSAT.tar.gz").exists()
    assert not (root / "eurosat").exists()


def test_offline_is_one_line_with_manual_steps(tmp_path, server, gdrive, eurosat_files, monkeypatch, capsys):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/EuroSAT.tar.gz"
    use_entry(monkeypatch, server, eurosat_files[0], urls=[closed])
    root = tmp_path / "data"
    assert cli(["download", "eurosat", "--root", str(root), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "could not reach" in err[0] and "To install it by hand: 1) download" in err[0]
    assert "split_zhou_EuroSAT.json" in err[0]


def test_google_drive_failure_is_one_line(tmp_path, server, gdrive, eurosat_files, monkeypatch, capsys):
    entry = use_entry(monkeypatch, server, eurosat_files[0])
    broken = Resource(
        filename="split_zhou_EuroSAT.json", gdrive_id="missing-id", dest="eurosat/split_zhou_EuroSAT.json"
    )
    entry = Entry(**{**entry.__dict__, "resources": (entry.resources[0], broken)})
    monkeypatch.setattr(catalogue, "CATALOGUE", (entry,))
    root = tmp_path / "data"
    assert cli(["download", "eurosat", "--root", str(root), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Google Drive file missing-id" in err[0]


def test_google_drive_html_instead_of_json_is_rejected(tmp_path, server, gdrive, eurosat_files, monkeypatch, capsys):
    import gdown

    use_entry(monkeypatch, server, eurosat_files[0])
    def quota_page(id=None, output=None, **kwargs):
        Path(output).write_text("<html>quota exceeded</html>")
        return output

    monkeypatch.setattr(gdown, "download", quota_page)
    root = tmp_path / "data"
    assert cli(["download", "eurosat", "--root", str(root), "--quiet"]) == 2
    assert "not valid JSON" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["imagenet", "stanford_cars"])
def test_login_datasets_list_manual_steps(name, tmp_path, capsys):
    assert cli(["download", name, "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "must be installed by hand: 1)" in err[0] and "2)" in err[0]
    assert not any(tmp_path.iterdir())


def test_unknown_name_is_one_line(tmp_path, capsys):
    assert cli(["download", "mnist", "--root", str(tmp_path)]) == 2
    assert "unknown dataset 'mnist'" in capsys.readouterr().err


def test_archive_inside_an_archive_and_unsafe_members(tmp_path):
    """Caltech's zip holds CoOp's 101_ObjectCategories.tar.gz; members escaping the target are refused."""
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w:gz") as tar:
        data = b"x"
        info = tarfile.TarInfo("101_ObjectCategories/ant/image_0001.jpg")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    outer = tmp_path / "caltech-101.zip"
    with zipfile.ZipFile(outer, "w") as handle:
        handle.writestr("caltech-101/101_ObjectCategories.tar.gz", inner.getvalue())
    resource = catalogue.find_entry("caltech101").resources[0]
    dl.install(resource, str(outer), str(tmp_path / "data"))
    assert (tmp_path / "data" / "caltech-101" / "101_ObjectCategories" / "ant" / "image_0001.jpg").is_file()

    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as handle:
        handle.writestr("../escaped.txt", "no")
    with pytest.raises(dl.DownloadError, match="unsafe member"):
        dl.install(Resource(filename="evil.zip", urls=("x",), members=(("a", "a"),)), str(evil), str(tmp_path / "d"))
    assert not (tmp_path / "escaped.txt").exists()


# ----------------------------------------------------------------------------------------------------------
# ensure_dataset: the train.py hook


def test_ensure_dataset_downloads_when_missing(tmp_path, server, gdrive, eurosat_files, monkeypatch):
    use_entry(monkeypatch, server, eurosat_files[0])
    monkeypatch.delenv(dl.NO_DOWNLOAD_VARIABLE, raising=False)
    root = tmp_path / "data"
    dl.ensure_dataset(make_cfg(root, "EuroSAT"), quiet=True)
    assert_installed(root)
    server.requests.clear()
    dl.ensure_dataset(make_cfg(root, "EuroSAT"))  # present: nothing happens
    assert server.requests == []


def test_ensure_dataset_respects_the_switch(tmp_path, monkeypatch):
    monkeypatch.setenv(dl.NO_DOWNLOAD_VARIABLE, "1")
    with pytest.raises(UserError) as caught:
        dl.ensure_dataset(make_cfg(tmp_path, "EuroSAT"))
    message = str(caught.value)
    assert "\n" not in message and "automatic download is off" in message and "1) download" in message
    with pytest.raises(UserError, match="automatic download is off"):
        dl.ensure_dataset(make_cfg(tmp_path, "EuroSAT"), download=False)


def test_ensure_dataset_manual_and_custom_datasets(tmp_path, monkeypatch):
    monkeypatch.delenv(dl.NO_DOWNLOAD_VARIABLE, raising=False)
    with pytest.raises(UserError, match="image-net.org"):
        dl.ensure_dataset(make_cfg(tmp_path, "ImageNet"))
    dl.ensure_dataset(make_cfg(tmp_path, "MyOwnDataset"))  # not CoOp's: left to the dataset class


def test_ensure_dataset_leaves_a_missing_split_to_be_built(tmp_path, monkeypatch):
    """Images present but no split JSON: CoOp builds the split, so nothing is downloaded."""
    monkeypatch.delenv(dl.NO_DOWNLOAD_VARIABLE, raising=False)
    monkeypatch.setattr(dl, "fetch", lambda *a, **k: pytest.fail("must not download"))
    write_eurosat(tmp_path, n_per_class=5, n_classes=3, with_split=False)
    dl.ensure_dataset(make_cfg(tmp_path, "EuroSAT"))


# ----------------------------------------------------------------------------------------------------------
# The catalogue agrees with the dataset classes and with CoOp's DATASETS.md


def test_catalogue_matches_the_dataset_classes():
    from safe_clip.dassl import DATASET_REGISTRY
    from tests.datasets.helpers import DATASET_NAMES

    assert [e.name for e in CATALOGUE] and set(e.name for e in CATALOGUE) == set(DATASET_NAMES)
    for entry in CATALOGUE:
        cls = DATASET_REGISTRY.get(entry.name)
        assert entry.folder == cls.dataset_dir
        assert all(path.startswith(entry.folder + "/") for path in entry.present)
        split_file = getattr(cls, "split_file", "")
        if split_file:
            assert f"{entry.folder}/{split_file}" in entry.present
            if entry.downloadable:
                assert any(r.dest == f"{entry.folder}/{split_file}" for r in entry.resources)
        for resource in entry.resources:
            assert bool(resource.urls) != bool(resource.gdrive_id)
            assert all(dest.startswith(entry.folder) for dest in resource.destinations)
        assert catalogue.find_entry(entry.name) is entry and catalogue.find_entry(entry.config) is entry


def test_google_drive_ids_are_coops():
    datasets_md = Path(os.environ.get("COOP_SRC", "/tmp/coop-src")) / "DATASETS.md"
    if not datasets_md.is_file():
        pytest.skip("no CoOp checkout to compare with")
    text = datasets_md.read_text()
    ids = {r.gdrive_id for e in CATALOGUE for r in e.resources if r.gdrive_id}
    ids.discard("1Mj0i5HBthqH1p_yeXzsg22gZduvgoNeA")  # ImageNet-Sketch's own link (CoOp points to its repo)
    assert ids and all(file_id in text for file_id in ids)


def test_ensure_command_for_scripts(tmp_path, server, gdrive, eurosat_files, monkeypatch, capsys):
    use_entry(monkeypatch, server, eurosat_files[0])
    monkeypatch.delenv(dl.NO_DOWNLOAD_VARIABLE, raising=False)
    root = tmp_path / "data"
    assert cli(["ensure", "eurosat", "--root", str(root), "--no-download"]) == 2
    assert "automatic download is off" in capsys.readouterr().err
    assert cli(["ensure", "eurosat", "--root", str(root)]) == 0
    assert_installed(root)
    assert cli(["list", "--root", str(root)]) == 0
    listing = capsys.readouterr().out
    assert re.search(r"^eurosat .* installed$", listing, re.M) and "imagenet" in listing
