"""A real `pcnn-fer serve` on a loopback port, driven by urllib, httpx and curl as users drive it: oversized
uploads (with and without Content-Length, multipart and raw) answered with the JSON 413 every client reads, a
wrong token, a full queue, a truncated JPEG, a slow client and one that hangs up mid-upload; after each the
server is healthy and serves the next request."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from PIL import Image

TOKEN = "s3cret"
MEGABYTE = 1024 * 1024
OVERSIZED = 25 * MEGABYTE  # the server's cap is 20 MB


def _jpeg(seed: int = 0) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (96, 96, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG")
    return buffer.getvalue()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(tiny_model_dir, tmp_path_factory, require_module):
    """The base URL of a running server (its model: the tiny one; every image a face crop)."""
    require_module("uvicorn", "serve")
    folder = tmp_path_factory.mktemp("server")
    (folder / "token.txt").write_text(TOKEN)
    port = _free_port()
    log = open(folder / "server.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "pcnn_fer", "serve", "--model", str(tiny_model_dir),
                                "--detector", "none", "--port", str(port), "--token-file", str(folder / "token.txt"),
                                "--queue-size", "1", "--max-batch", "1", "--threads", "1"],
                               stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        assert process.poll() is None, (folder / "server.log").read_text()
        assert time.monotonic() < deadline, "the server did not start within 120 s"
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=5).read()
            break
        except OSError:
            time.sleep(0.2)
    yield url
    process.terminate()
    process.wait(timeout=60)
    log.close()


def _urllib(url: str, data: bytes, headers: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _multipart(name: str, filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = "pcnnferboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def _healthy(server: str) -> None:
    """The server answers health and analyses a photo: nothing before broke it."""
    status, answer = _urllib(f"{server}/v1/analyze", _jpeg(1), {"Authorization": f"Bearer {TOKEN}",
                                                               "Content-Type": "image/jpeg"})
    assert status == 200 and len(answer["faces"]) == 1, answer


def _is_413(status: int, answer: dict) -> None:
    assert status == 413 and answer["error"]["code"] == "too_large", answer


AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.mark.slow
@pytest.mark.parametrize("form", ["raw", "multipart"])
def test_urllib_reads_the_413_of_an_oversized_upload(server, form):
    data = bytes(OVERSIZED)
    body, kind = _multipart("image", "big.jpg", data) if form == "multipart" else (data, "image/jpeg")
    _is_413(*_urllib(f"{server}/v1/analyze", body, {**AUTH, "Content-Type": kind}))
    _healthy(server)


@pytest.mark.slow
@pytest.mark.parametrize("length", ["declared", "chunked"])
def test_httpx_reads_the_413_with_or_without_content_length(server, length, require_module):
    require_module("httpx", "dev")
    import httpx

    data = bytes(OVERSIZED)

    def pieces():
        for start in range(0, len(data), MEGABYTE):
            yield data[start:start + MEGABYTE]

    content = data if length == "declared" else pieces()
    answer = httpx.post(f"{server}/v1/analyze", content=content, headers={**AUTH, "Content-Type": "image/jpeg"},
                        timeout=120)
    _is_413(answer.status_code, answer.json())
    _healthy(server)


@pytest.mark.slow
def test_curl_reads_the_413_of_an_oversized_multipart_upload(server, tmp_path, require_program):
    curl = require_program("curl", "apt-get install curl")
    big = tmp_path / "big.jpg"
    big.write_bytes(bytes(OVERSIZED))
    done = subprocess.run([curl, "-s", "-w", "\n%{http_code}", "-H", f"Authorization: Bearer {TOKEN}",
                           "-F", f"image=@{big}", f"{server}/v1/analyze"], capture_output=True, text=True,
                          timeout=120)
    body, status = done.stdout.rsplit("\n", 1)
    _is_413(int(status), json.loads(body))
    _healthy(server)


@pytest.mark.slow
def test_a_wrong_token_a_truncated_jpeg_and_a_full_queue(server):
    status, answer = _urllib(f"{server}/v1/analyze", _jpeg(), {"Authorization": "Bearer wrong",
                                                               "Content-Type": "image/jpeg"})
    assert status == 401 and answer["error"]["code"] == "unauthorized"
    status, answer = _urllib(f"{server}/v1/analyze", _jpeg()[:300], {**AUTH, "Content-Type": "image/jpeg"})
    assert status == 422 and answer["error"]["code"] == "bad_image"
    # Eight images at once into a queue of one, the model taking one at a time: the queue is full at once.
    parts = b"".join(_multipart("images", f"{i}.jpg", _jpeg(i))[0].rsplit(b"--pcnnferboundary--", 1)[0]
                     for i in range(8)) + b"--pcnnferboundary--\r\n"
    status, answer = _urllib(f"{server}/v1/analyze/batch", parts,
                             {**AUTH, "Content-Type": "multipart/form-data; boundary=pcnnferboundary"})
    assert status == 503 and answer["error"]["code"] == "busy", answer
    _healthy(server)


def _raw_request(server: str, body_pieces: list[bytes], length: int, pause_s: float) -> socket.socket:
    host, port = server.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)), timeout=60)
    connection.sendall((f"POST /v1/analyze HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\n"
                        f"Content-Type: image/jpeg\r\nContent-Length: {length}\r\n\r\n").encode())
    for piece in body_pieces:
        connection.sendall(piece)
        time.sleep(pause_s)
    return connection


@pytest.mark.slow
def test_a_slow_client_is_answered_and_one_that_hangs_up_leaves_the_server_healthy(server):
    photo = _jpeg(2)
    pieces = [photo[i:i + len(photo) // 5 + 1] for i in range(0, len(photo), len(photo) // 5 + 1)]
    connection = _raw_request(server, pieces, len(photo), pause_s=0.3)
    with connection, connection.makefile("rb") as answer:
        assert answer.readline().split()[1] == b"200"
    hung_up = _raw_request(server, [bytes(100_000)], 5 * MEGABYTE, pause_s=0)
    hung_up.close()
    _healthy(server)
