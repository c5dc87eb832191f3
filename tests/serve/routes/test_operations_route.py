"""Health and metrics alone."""

from __future__ import annotations

from pcnn_fer.serve.routes.operations import router


def test_health_and_metrics(alone):
    client = alone(router)
    assert client.get("/healthz").json() == {"status": "ok", "queue": 0, "video_jobs_waiting": 0}
    assert "pcnn_fer" in client.get("/metrics").text
