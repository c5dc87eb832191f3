"""The video routes alone: a job accepted with its URL, an unknown job a JSON 404."""

from __future__ import annotations

from pcnn_fer.serve.routes.videos import router


def test_a_video_job_is_accepted_and_polled(alone, write_video, tmp_path):
    client = alone(router)
    write_video(tmp_path / "clip.mp4", frames=3)
    accepted = client.post("/v1/videos", files={"video": ("clip.mp4", (tmp_path / "clip.mp4").read_bytes())})
    assert accepted.status_code == 202 and accepted.headers["Location"] == accepted.json()["url"]
    assert client.get(accepted.json()["url"]).json()["status"] in ("queued", "running", "done")
    missing = client.get("/v1/videos/nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown_job"
