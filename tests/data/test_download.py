"""The real download code against an HTTP server on 127.0.0.1 started by the test."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from textlab.data.download import copy_into_cache, download_dataset
from textlab.data.registry import Dataset
from textlab.errors import DownloadError

PAYLOAD = os.urandom(300_000) + b"textlab" * 1000


class _Server:
    """A loopback server whose behaviour each test sets: cut a response short, fail first, 404."""

    def __init__(self):
        self.cut_first_after: int | None = None
        self.stall_first_after: int | None = None
        self.fail_first: int = 0
        self.ignore_range = False
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_GET(self):  # noqa: N802
                server.requests.append({"path": self.path, "range": self.headers.get("Range")})
                if self.path != "/data.bin":
                    self.send_error(404, "Not Found")
                    return
                if server.fail_first > 0:
                    server.fail_first -= 1
                    self.send_error(500, "Server Error")
                    return
                start = 0
                range_header = self.headers.get("Range")
                if range_header and not server.ignore_range:
                    start = int(range_header.split("=")[1].split("-")[0])
                    if start >= len(PAYLOAD):
                        self.send_error(416, "Range Not Satisfiable")
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
                else:
                    self.send_response(200)
                body = PAYLOAD[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.stall_first_after is not None:
                    limit, server.stall_first_after = server.stall_first_after, None
                    self.wfile.write(body[:limit])
                    self.wfile.flush()
                    time.sleep(3)  # longer than the client's read timeout
                    return
                if server.cut_first_after is not None:
                    limit, server.cut_first_after = server.cut_first_after, None
                    self.wfile.write(body[:limit])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    srv = _Server()
    yield srv
    srv.close()


def _dataset(server, path="/data.bin", sha=None, size=len(PAYLOAD)) -> Dataset:
    return Dataset(
        name="testdata", description="test", url=server.base + path, filename="data.bin",
        size=size, sha256=sha or hashlib.sha256(PAYLOAD).hexdigest(), license="test",
    )


def test_full_download_lands_in_the_cache(server, textlab_home):
    path = download_dataset(_dataset(server), backoff=0.01)
    assert path == textlab_home / "datasets" / "data.bin"
    assert path.read_bytes() == PAYLOAD
    assert not path.with_name("data.bin.part").exists()


def test_cut_connection_resumes_with_a_range_request(server, tmp_path):
    server.cut_first_after = 100_000
    path = download_dataset(_dataset(server), dest=tmp_path / "data.bin", backoff=0.01)
    assert path.read_bytes() == PAYLOAD
    assert server.requests[0]["range"] is None
    assert server.requests[1]["range"] == "bytes=100000-"


def test_existing_partial_file_is_resumed(server, tmp_path):
    (tmp_path / "data.bin.part").write_bytes(PAYLOAD[:12345])
    path = download_dataset(_dataset(server), dest=tmp_path / "data.bin", backoff=0.01)
    assert path.read_bytes() == PAYLOAD
    assert server.requests[0]["range"] == "bytes=12345-"


def test_server_ignoring_range_restarts_cleanly(server, tmp_path):
    server.ignore_range = True
    (tmp_path / "data.bin.part").write_bytes(b"garbage" * 10)
    path = download_dataset(_dataset(server), dest=tmp_path / "data.bin", backoff=0.01)
    assert path.read_bytes() == PAYLOAD


def test_server_error_is_retried_then_succeeds(server, tmp_path):
    server.fail_first = 2
    path = download_dataset(_dataset(server), dest=tmp_path / "data.bin", backoff=0.01)
    assert path.read_bytes() == PAYLOAD
    assert len(server.requests) == 3


def test_persistent_server_error_gives_up(server, tmp_path):
    server.fail_first = 100
    with pytest.raises(DownloadError, match="after 3 tries"):
        download_dataset(_dataset(server), dest=tmp_path / "data.bin", retries=2, backoff=0.01)
    assert not (tmp_path / "data.bin").exists()


def test_checksum_mismatch_removes_the_bad_file(server, tmp_path):
    with pytest.raises(DownloadError, match="SHA-256 mismatch"):
        download_dataset(_dataset(server, sha="0" * 64), dest=tmp_path / "data.bin", backoff=0.01)
    assert not (tmp_path / "data.bin").exists()
    assert not (tmp_path / "data.bin.part").exists()


def test_wrong_length_is_refused(server, tmp_path):
    with pytest.raises(DownloadError, match="size mismatch"):
        download_dataset(_dataset(server, size=len(PAYLOAD) + 10), dest=tmp_path / "data.bin", backoff=0.01)
    assert not (tmp_path / "data.bin").exists()


def test_not_found_is_a_clear_error_without_retries(server, tmp_path):
    with pytest.raises(DownloadError, match="404"):
        download_dataset(_dataset(server, path="/missing.bin"), dest=tmp_path / "data.bin", backoff=0.01)
    assert len(server.requests) == 1


def test_unreachable_host_fails_with_a_message(tmp_path):
    dataset = Dataset(name="nowhere", description="", url="http://127.0.0.1:9/x", filename="x",
                      size=None, sha256=None, license="")
    with pytest.raises(DownloadError, match="cannot reach") as caught:
        download_dataset(dataset, dest=tmp_path / "x", retries=1, backoff=0.01, timeout=2)
    # what to do offline: both ways named
    assert str(caught.value).endswith(f"without network access, get x another way, then run 'textlab download "
                                      f"nowhere --from FILE' or place the file at {tmp_path / 'x'}")


def test_local_file_is_copied_into_the_cache_only_when_it_checks_out(server, tmp_path, textlab_home):
    dataset = _dataset(server)
    wrong = tmp_path / "wrong.bin"
    wrong.write_bytes(PAYLOAD[:-1] + b"?")
    with pytest.raises(DownloadError, match="wrong.bin is not the expected data.bin: testdata: SHA-256 mismatch"):
        copy_into_cache(dataset, wrong)
    assert not any((textlab_home / "datasets").iterdir())  # nothing kept, not even a temporary file
    right = tmp_path / "right.bin"
    right.write_bytes(PAYLOAD)
    assert copy_into_cache(dataset, right) == textlab_home / "datasets" / "data.bin"
    assert (textlab_home / "datasets" / "data.bin").read_bytes() == PAYLOAD
    assert server.requests == []  # never downloaded


def test_cli_download_from_a_file(cli, server, tmp_path, textlab_home, monkeypatch):
    import importlib

    module = importlib.import_module("textlab.data.registry")  # textlab.data.registry is also a function's name
    monkeypatch.setattr(module, "registry", lambda: {"testdata": _dataset(server)})
    short = tmp_path / "short.bin"
    short.write_bytes(b"abc")
    result = cli("download", "testdata", "--from", str(short))
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert f"{short} is not the expected data.bin: testdata: size mismatch, got 3 bytes" in result.stderr
    (tmp_path / "data.bin").write_bytes(PAYLOAD)
    result = cli("download", "testdata", "--from", str(tmp_path / "data.bin"))
    assert result.exit_code == 0 and (textlab_home / "datasets" / "data.bin").read_bytes() == PAYLOAD
    result = cli("download", "testdata", "--from", str(tmp_path / "data.bin"))
    assert result.exit_code == 2 and "already in the cache" in result.stderr
    assert cli("download", "testdata", "--from", str(tmp_path / "data.bin"), "--force").exit_code == 0


def test_cli_download_of_unknown_dataset_is_one_line(cli):
    result = cli("download", "no-such-dataset")
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0
    assert "unknown dataset" in result.stderr


def test_stalled_server_times_out_then_resumes(server, tmp_path):
    server.stall_first_after = 50_000
    path = download_dataset(_dataset(server), dest=tmp_path / "data.bin", backoff=0.01, timeout=0.5)
    assert path.read_bytes() == PAYLOAD
    assert server.requests[1]["range"] == "bytes=50000-"


@pytest.mark.parametrize("fault", ["full disk", "file size limit"])
def test_a_write_failure_removes_the_partial_download_and_keeps_the_previous_file(server, tmp_path, fault):
    """ENOSPC (patched writes) or the kernel's EFBIG (RLIMIT_FSIZE, as ``ulimit -f``): one
    error naming the file and the cause, no ``.part`` left, a previous download untouched."""
    from tests.robustness.faults import FullDisk, file_size_limit

    dest = tmp_path / "data.bin"
    dest.write_bytes(b"the previous download")
    if fault == "full disk":
        fault, reason = FullDisk(tmp_path, match="*.part"), "No space left on device"
    else:
        fault, reason = file_size_limit(100_000), "File too large"
    with pytest.raises(DownloadError) as caught, fault:
        download_dataset(_dataset(server), dest=dest, backoff=0.01, force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin"]
    assert dest.read_bytes() == b"the previous download"
    assert str(caught.value).startswith(f"cannot write the dataset testdata to {dest}: {reason}")
    assert len(server.requests) == 1  # a full disk is not retried
