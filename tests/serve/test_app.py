"""The HTTP API on a tiny random model: predict's records, options, batching, video jobs, limits, JSON errors."""

from __future__ import annotations

import base64
import io
import struct
import time
import zlib

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pcnn_fer.faces.detect import Detection
from pcnn_fer.inference.recognizer import Recognizer
from pcnn_fer.inference.video import predict_video
from pcnn_fer.models.storage import load_model
from pcnn_fer.serve.app import create_app
from pcnn_fer.serve.batching import QueueFull
from pcnn_fer.serve.settings import ServeSettings


@pytest.fixture
def serve(recognizer):
    """serve(**limits) -> a started TestClient; every one is shut down (threads joined) after the test."""
    clients = []

    def start(model=recognizer, **limits):
        client = TestClient(create_app(model, ServeSettings(**limits)))
        client.__enter__()
        clients.append(client)
        return client

    yield start
    recognizer.gate.set()
    for client in clients:
        client.__exit__(None, None, None)


def _healthy(client, encoded, headers=None):
    assert client.get("/healthz").json()["status"] == "ok"
    answer = client.post("/v1/analyze", content=encoded(), headers=headers)
    assert answer.status_code == 200 and len(answer.json()["faces"]) == 1


def _error(answer, status: int, code: str) -> dict:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"]
    return body["error"]


def test_analyze_answers_the_records_predict_writes_by_upload_or_raw_body(serve, recognizer, encoded):
    client = serve()
    image = encoded(size=(80, 60))
    by_file = client.post("/v1/analyze", files={"image": ("me.png", image, "image/png")}).json()
    raw = client.post("/v1/analyze?name=me.png", content=image, headers={"content-type": "image/png"}).json()
    expected = [face.to_dict() for face in recognizer.predict_batch([image], names=["me.png"])[0]]
    assert by_file["faces"] == raw["faces"] == expected
    assert (by_file["input"], by_file["width"], by_file["height"]) == ("me.png", 80, 60)
    assert set(by_file["timings_ms"]) == {"decode", "detect", "queue", "model", "total"}
    assert by_file["faces"][0]["label"] in recognizer.class_names
    assert sum(by_file["faces"][0]["organ_contributions"].values()) == pytest.approx(1, abs=1e-4)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP", "TIFF"])
def test_every_common_image_format_is_read(serve, encoded, fmt):
    answer = serve().post("/v1/analyze", files={"image": (f"x.{fmt.lower()}", encoded(fmt))})
    assert answer.status_code == 200 and answer.json()["width"] == 64


def test_flip_tta_is_chosen_per_request(serve, tiny_model_dir, encoded):
    client = serve()
    image = encoded()
    flipped = Recognizer(load_model(tiny_model_dir), detector="none", flip_tta=True).predict(image)[0]
    plain = client.post("/v1/analyze", content=image).json()["faces"][0]["probabilities"]
    tta = client.post("/v1/analyze?flip_tta=true", content=image).json()["faces"][0]["probabilities"]
    np.testing.assert_allclose(list(tta.values()), list(flipped.probabilities.values()), atol=1e-5)
    assert not np.allclose(list(plain.values()), list(tta.values()), atol=1e-5)


def test_explain_adds_a_heat_layer_and_annotate_the_drawn_image(serve, encoded):
    answer = serve().post("/v1/analyze?explain=true&annotate=true", content=encoded(size=(90, 70))).json()
    heat = Image.open(io.BytesIO(base64.b64decode(answer["heatmap_png"])))
    drawn = Image.open(io.BytesIO(base64.b64decode(answer["annotated_jpeg"])))
    assert (heat.mode, heat.size, drawn.format, drawn.size) == ("RGBA", (90, 70), "JPEG", (90, 70))
    assert np.asarray(heat)[..., 3].max() > 0  # some of the face is hot
    plain = serve().post("/v1/analyze", content=encoded()).json()
    assert "heatmap_png" not in plain and "annotated_jpeg" not in plain


class TwoFaces:
    """A detector that finds a sure face and an unsure one on every image."""

    name = "two"

    def detect(self, image):
        return [Detection((0, 0, 32, 32), 0.99, None), Detection((20, 10, 60, 46), 0.4, None)]

    def detect_batch(self, images):
        return [self.detect(image) for image in images]


def test_min_score_drops_unsure_faces(serve, tiny_model_dir, encoded):
    client = serve(Recognizer(load_model(tiny_model_dir), detector=TwoFaces()))
    assert len(client.post("/v1/analyze", content=encoded()).json()["faces"]) == 2
    (kept,) = client.post("/v1/analyze?min_score=0.9", content=encoded()).json()["faces"]
    assert kept["detection_score"] == pytest.approx(0.99)
    _error(client.post("/v1/analyze?min_score=1.5", content=encoded()), 422, "invalid_parameter")


def test_batch_answers_each_image_and_a_bad_one_alone(serve, recognizer, encoded):
    client = serve(batch_window_ms=50)
    recognizer.batches.clear()
    files = [("images", ("a.png", encoded(seed=1))), ("images", ("notes.txt", b"not an image")),
             ("images", ("b.jpg", encoded("JPEG", seed=2)))]
    results = client.post("/v1/analyze/batch", files=files).json()["results"]
    assert [r["input"] for r in results] == ["a.png", "notes.txt", "b.jpg"]
    assert len(results[0]["faces"]) == len(results[2]["faces"]) == 1
    assert results[1]["error"]["code"] == "bad_image" and "notes.txt" in results[1]["error"]["message"]
    assert recognizer.batches == [2]  # the two good images went through the model together
    _error(client.post("/v1/analyze", files=files[:1] * 2), 422, "several_files")


def _bomb_png(width: int = 30000, height: int = 30000) -> bytes:
    """A PNG whose header claims width x height pixels, with almost no data behind it."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND",
                                                                                                          b"")


def test_bad_uploads_get_json_errors_and_leave_the_server_healthy(serve, encoded):
    client = serve()
    cases = [
        (dict(content=b""), 422, "no_file"),
        (dict(files={"note": (None, "a form field, no file")}), 422, "no_file"),
        (dict(files={"image": ("notes.txt", b"hello, not an image", "text/plain")}), 422, "bad_image"),
        (dict(content=encoded("JPEG", size=(200, 200))[:600]), 422, "bad_image"),
        (dict(content=_bomb_png()), 413, "too_many_pixels"),  # past Pillow's own bomb limit
        (dict(content=_bomb_png(12000, 12000)), 413, "too_many_pixels"),  # past the decoder's cap only
        (dict(content=b"\0" * (21 * 1024 * 1024)), 413, "too_large"),
        (dict(files={"image": ("big.png", b"\0" * (21 * 1024 * 1024))}), 413, "too_large"),
        # No Content-Length (chunked): the cap holds while the body streams in.
        (dict(content=iter([b"\0" * (1024 * 1024)] * 21)), 413, "too_large"),
        (dict(content=b"--x\r\nbroken", headers={"content-type": "multipart/form-data; boundary=x"}), 422,
         None),
    ]
    for request, status, code in cases:
        answer = client.post("/v1/analyze", **request)
        assert answer.status_code == status, (request.keys(), answer.text)
        assert answer.json()["error"]["code"] == (code or answer.json()["error"]["code"])
        _healthy(client, encoded)
    assert "12000 x 12000" in client.post("/v1/analyze", content=_bomb_png(12000, 12000)).json()["error"]["message"]


def test_unknown_paths_methods_and_parameters_are_json_errors(serve, encoded):
    client = serve()
    _error(client.get("/v1/nothing"), 404, "not_found")
    _error(client.get("/v1/analyze"), 405, "method_not_allowed")
    _error(client.post("/v1/videos?every=0", content=b"x"), 422, "invalid_parameter")
    _healthy(client, encoded)


def test_a_token_guards_the_api_but_not_health_or_the_page(serve, encoded):
    client = serve(token="s3cret")
    _error(client.post("/v1/analyze", content=encoded()), 401, "unauthorized")
    _error(client.post("/v1/analyze", content=encoded(), headers={"Authorization": "Bearer wrong"}), 401,
           "unauthorized")
    assert client.get("/v1/models").status_code == 401
    assert client.get("/healthz").status_code == client.get("/").status_code == 200
    _healthy(client, encoded, headers={"Authorization": "Bearer s3cret"})


def test_a_full_queue_answers_503_with_retry_after(serve, recognizer, encoded):
    client = serve(queue_size=2, batch_window_ms=0)
    recognizer.gate.clear()  # the model thread holds its first batch: the images inside stay inside
    batcher = client.app.state.context.batcher
    pixels = np.zeros((8, 8, 3), np.uint8)
    waiting = [batcher.submit(pixels, "held"), batcher.submit(pixels, "filler")]
    with pytest.raises(QueueFull):
        batcher.submit(pixels, "one too many")
    answer = client.post("/v1/analyze", content=encoded())
    _error(answer, 503, "busy")
    assert answer.headers["retry-after"] == "1"
    assert "pcnn_fer_queue_depth 2.0" in client.get("/metrics").text
    recognizer.gate.set()
    assert all(len(future.result(timeout=30).faces) == 1 for future in waiting)
    _healthy(client, encoded)


def test_a_request_that_waits_too_long_answers_504(serve, recognizer, encoded):
    client = serve(timeout_s=0.2)
    recognizer.gate.clear()
    _error(client.post("/v1/analyze", content=encoded()), 504, "timeout")
    recognizer.gate.set()
    _healthy(client, encoded)


def _finished(client, url: str, seconds: float = 60) -> dict:
    deadline = time.monotonic() + seconds
    while (job := client.get(url).json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    return job


def test_a_video_job_gives_the_tracked_records_predict_video_gives(serve, recognizer, write_video, tmp_path):
    client = serve()
    path = tmp_path / "clip.mp4"
    write_video(path, frames=6)
    answer = client.post("/v1/videos", files={"video": ("clip.mp4", path.read_bytes(), "video/mp4")})
    assert answer.status_code == 202 and answer.headers["location"] == answer.json()["url"]
    job = _finished(client, answer.json()["url"])
    expected = [record.to_dict() for frame in predict_video(recognizer, path, name="clip.mp4")
                for record in frame.faces]
    assert (job["status"], job["frames_done"], job["progress"]) == ("done", 6, 1.0)
    assert job["records"] == expected and [r["frame"] for r in job["records"]] == list(range(6))
    later = client.get(f"{answer.json()['url']}?offset=4").json()
    assert later["records"] == expected[4:] and later["next_offset"] == 6
    assert list(client.app.state.context.folder.iterdir()) == []  # the upload is gone once its job ends


def test_video_uploads_stay_in_the_server_folder_under_its_own_names(serve, recognizer, write_video, tmp_path):
    client = serve()
    path = tmp_path / "clip.mp4"
    write_video(path, frames=2)
    recognizer.gate.clear()  # the job is held while it is looked at
    answer = client.post("/v1/videos", files={"video": ("../../escape.mp4", path.read_bytes())})
    (stored,) = client.app.state.context.folder.iterdir()
    assert stored.name == f"{answer.json()['id']}.mp4" and not (tmp_path.parent / "escape.mp4").exists()
    recognizer.gate.set()
    assert _finished(client, answer.json()["url"])["input"] == "../../escape.mp4"


def test_video_errors_are_json_and_a_full_video_queue_answers_503(serve, recognizer, write_video, tmp_path,
                                                                  encoded):
    client = serve(video_queue_size=1)
    _error(client.post("/v1/videos", files={"video": ("x.mp4", b"not a video at all")}), 422, "bad_video")
    _error(client.post("/v1/videos", content=b""), 422, "no_file")
    _error(client.get("/v1/videos/0123abc"), 404, "unknown_job")
    path = tmp_path / "clip.mp4"
    write_video(path, frames=2)
    recognizer.gate.clear()
    urls, answers = [], []
    for _ in range(4):  # one job runs (held), one waits, the rest find the queue full
        answer = client.post("/v1/videos", content=path.read_bytes())
        answers.append(answer.status_code)
        if answer.status_code == 202:
            urls.append(answer.json()["url"])
    assert answers[-1] == 503 and answers.count(202) in (1, 2)
    recognizer.gate.set()
    assert all(_finished(client, url)["status"] == "done" for url in urls)
    _healthy(client, encoded)


def test_models_health_and_metrics(serve, recognizer, encoded):
    client = serve()
    model = client.get("/v1/models").json()
    assert model["classes"] == list(recognizer.class_names) and model["input"]["size"] == 96
    assert len(model["organs"]) == 5 and model["metadata"] == recognizer.model.metadata.to_dict()
    assert client.get("/healthz").json() == {"status": "ok", "queue": 0, "video_jobs_waiting": 0}
    client.post("/v1/analyze", content=encoded())
    client.post("/v1/analyze", content=b"junk")
    text = client.get("/metrics").text
    assert 'pcnn_fer_requests_total{endpoint="/v1/analyze",status="200"} 1.0' in text
    assert 'pcnn_fer_requests_total{endpoint="/v1/analyze",status="422"} 1.0' in text
    assert 'pcnn_fer_request_seconds_bucket{endpoint="/v1/analyze",le="+Inf"} 2.0' in text
    assert "pcnn_fer_faces_total 1.0" in text and 'pcnn_fer_image_errors_total{code="bad_image"} 1.0' in text
    assert "pcnn_fer_batch_images_count" in text


def test_cors_is_off_unless_origins_are_given(serve, encoded):
    origin = {"Origin": "https://example.org"}
    assert "access-control-allow-origin" not in serve().post("/v1/analyze", content=encoded(), headers=origin).headers
    allowed = serve(cors_origins=("https://example.org",)).post("/v1/analyze", content=encoded(), headers=origin)
    assert allowed.headers["access-control-allow-origin"] == "https://example.org"


def test_the_page_and_its_assets_come_from_the_package(serve):
    client = serve()
    page = client.get("/")
    assert page.status_code == 200 and "<title>pcnn-fer" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    for asset in ("/static/page.js", "/static/page.css"):
        assert client.get(asset).status_code == 200
    assert "/docs" in client.get("/docs").text or client.get("/openapi.json").json()["info"]["title"] == "pcnn-fer"


def test_a_bug_in_a_video_job_fails_that_job_with_its_traceback_logged_and_the_worker_goes_on(
        serve, write_video, tmp_path, monkeypatch, caplog):
    client = serve()
    path = tmp_path / "clip.mp4"
    write_video(path, frames=2)
    real = client.app.state.context.jobs._work.__globals__["predict_video"]

    def broken(*args, **options):
        raise KeyError("a key a bug forgot")

    monkeypatch.setattr("pcnn_fer.serve.videos.predict_video", broken)
    failed = _finished(client, client.post("/v1/videos", content=path.read_bytes()).json()["url"])
    assert failed["status"] == "failed" and failed["error"].startswith("internal error: KeyError")
    assert "video job" in caplog.text and "Traceback" in caplog.text
    monkeypatch.setattr("pcnn_fer.serve.videos.predict_video", real)
    assert _finished(client, client.post("/v1/videos", content=path.read_bytes()).json()["url"])["status"] == "done"
