"""The server's Prometheus metrics, in a registry of its own (several apps in one process do not mix)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)


class ServerMetrics:
    """Requests by endpoint and status, their latency, faces found, images refused, batch sizes, queue depths."""

    def __init__(self, queue_depth: Callable[[], int], video_jobs_waiting: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("pcnn_fer_requests", "HTTP requests answered", ["endpoint", "status"],
                                registry=self.registry)
        self.latency = Histogram("pcnn_fer_request_seconds", "Time to answer a request", ["endpoint"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.faces = Counter("pcnn_fer_faces", "Faces recognised", registry=self.registry)
        self.image_errors = Counter("pcnn_fer_image_errors", "Images refused or failed", ["code"],
                                    registry=self.registry)
        self.batch_size = Histogram("pcnn_fer_batch_images", "Images per model call", buckets=BATCH_BUCKETS,
                                    registry=self.registry)
        Gauge("pcnn_fer_queue_depth", "Images waiting for the model", registry=self.registry).set_function(
            queue_depth)
        Gauge("pcnn_fer_video_jobs_waiting", "Video jobs waiting to start", registry=self.registry).set_function(
            video_jobs_waiting)

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric."""
        return generate_latest(self.registry)
