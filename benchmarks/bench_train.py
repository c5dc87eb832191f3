"""Training speed on the CPU: images/s and peak memory per PCNN variant, against torchvision's resnet18.

    python benchmarks/bench_train.py [--threads 2] [--rounds 5] [--steps 3] [--quickstart]
    python benchmarks/bench_train.py --grid [--sizes 64 112 224] [--amp none bf16] [--batch 64]

- Step times are measured in this one process, rounds interleaving the models, so machine load shifts hit every
  model alike; the ratio to resnet18's step is the figure to watch (the reference PCNN's step takes 2.1x).
- Peak memory of each model's training step is measured in a fresh child process (resident set size above the
  child's own baseline), so models do not inherit each other's peaks.
- The data loader is timed alone on JPEG files with the reference augmentation, next to the step it feeds.
- --quickstart times one `pcnn-fer quickstart` run and prints its summary.
- --grid measures images/s of each PCNN variant at each input size, in float32 and under bf16 autocast, in
  both memory layouts: the figures a CPU recipe is chosen from (bf16 pays off only where AMX kernels beat the
  conversion cost, which depends on the size).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torchvision
from PIL import Image

from pcnn_fer.models.loss import TwoPhaseLoss
from pcnn_fer.models.registry import create_model, list_variants

BATCH, SIZE, CLASSES = 16, 224, 7


CHANNELS_LAST = "+cl"  # suffix of a model name: trained in channels-last memory format (`misc.channels_last`)


def build(name: str, size: int = SIZE) -> tuple[torch.nn.Module, callable]:
    """A model in training mode and its loss function."""
    if name.endswith(CHANNELS_LAST):
        model, loss = build(name.removesuffix(CHANNELS_LAST), size)
        return model.to(memory_format=torch.channels_last), loss
    if name == "resnet18":
        model = torchvision.models.resnet18(num_classes=CLASSES)
        return model.train(), lambda output, target: torch.nn.functional.cross_entropy(output, target)
    model = create_model(name, num_classes=CLASSES, input_size=size)
    return model.train(), TwoPhaseLoss()


def step_timer(name: str, size: int = SIZE, batch: int = BATCH, amp: str = "none"):
    """A function that runs `steps` SGD steps on one batch and returns seconds per step."""
    model, loss_fn = build(name, size)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    images, targets = torch.randn(batch, 3, size, size), torch.randint(0, CLASSES, (batch,))
    if name.endswith(CHANNELS_LAST):
        images = images.contiguous(memory_format=torch.channels_last)

    def run(steps: int) -> float:
        started = time.perf_counter()
        for _ in range(steps):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp == "bf16"):
                loss = loss_fn(model(images), targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        return (time.perf_counter() - started) / steps

    run(1)  # warm-up: kernel selection and allocator growth
    return run


def resident_mib(field: str) -> float:
    """VmRSS (resident now) or VmHWM (resident peak) of this process, from Linux /proc, in MiB.

    Not getrusage's ru_maxrss: Linux carries that over from the parent through fork and exec.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def peak_memory_child(name: str, threads: int) -> None:
    """Child mode: print the peak resident set (MiB) of two training steps of `name` above the resident set
    after imports."""
    torch.set_num_threads(threads)
    baseline = resident_mib("VmRSS")
    step_timer(name)(1)
    print(resident_mib("VmHWM") - baseline)


def peak_memory(name: str, threads: int) -> float:
    out = subprocess.run([sys.executable, __file__, "--memory-of", name, "--threads", str(threads)],
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def loader_seconds_per_batch(workers: int, batches: int) -> float:
    """The reference training pipeline alone (JPEG decode + augmentation + collation), per batch of 16."""
    from torch.utils.data import DataLoader

    from pcnn_fer.data.preprocessing import Preprocessing
    from pcnn_fer.data.sample import Sample, SampleSet
    from pcnn_fer.data.torch_dataset import FERDataset
    from pcnn_fer.data.transforms import train_transform

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        samples = []
        for i in range(BATCH * batches):
            path = Path(folder) / f"{i}.jpg"
            Image.fromarray(rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)).save(path, quality=90)
            samples.append(Sample(path, i % CLASSES, str(i)))
        dataset = FERDataset(SampleSet("bench", tuple(f"c{i}" for i in range(CLASSES)), samples),
                             train_transform(Preprocessing(SIZE)))
        loader = DataLoader(dataset, batch_size=BATCH, num_workers=workers, shuffle=True)
        started = time.perf_counter()
        for _ in loader:
            pass
        return (time.perf_counter() - started) / batches


def grid(args: argparse.Namespace) -> None:
    """images/s per variant, size, precision and layout; rounds interleave the settings."""
    settings = [(f"{variant}{layout}", size, amp) for variant in list_variants() for size in args.sizes
                for amp in args.amp for layout in ("", CHANNELS_LAST)]
    times: dict[tuple, list[float]] = {s: [] for s in settings}
    timers = {s: step_timer(s[0], s[1], args.batch, s[2]) for s in settings}
    for _ in range(args.rounds):
        for setting in settings:
            times[setting].append(timers[setting](args.steps))
    print(f"torch {torch.__version__}, {args.threads} CPU threads, batch {args.batch}, SGD step, median of "
          f"{args.rounds} rounds of {args.steps} steps")
    print(f"{'model':<13} {'size':>5} {'amp':>5} {'s/step':>8} {'images/s':>9}   (+cl: channels-last)")
    for setting in settings:
        step = statistics.median(times[setting])
        print(f"{setting[0]:<13} {setting[1]:>5} {setting[2]:>5} {step:8.3f} {args.batch / step:9.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3, help="steps per model per round")
    parser.add_argument("--quickstart", action="store_true", help="also time one pcnn-fer quickstart run")
    parser.add_argument("--grid", action="store_true", help="images/s per variant, size, precision and layout")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 112, 224], help="--grid input sizes")
    parser.add_argument("--amp", nargs="+", default=["none", "bf16"], choices=["none", "bf16"], help="--grid")
    parser.add_argument("--batch", type=int, default=64, help="--grid batch size")
    parser.add_argument("--memory-of", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_of:
        peak_memory_child(args.memory_of, args.threads)
        return
    torch.set_num_threads(args.threads)
    if args.grid:
        grid(args)
        return
    print(f"torch {torch.__version__}, {args.threads} CPU threads, batch {BATCH}, {SIZE} px, SGD step "
          f"(forward + loss + backward + update); no GPU measured")
    names = [f"{name}{layout}" for layout in ("", CHANNELS_LAST) for name in ("resnet18", *list_variants())]
    timers = {name: step_timer(name) for name in names}
    times: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(args.rounds):
        for name in names:
            times[name].append(timers[name](args.steps))
    reference = statistics.median(times["resnet18"])
    print(f"{'model':<13} {'s/step':>8} {'images/s':>9} {'x resnet18':>11} {'peak MiB':>9}   (+cl: channels-last)")
    for name in names:
        step = statistics.median(times[name])
        print(f"{name:<13} {step:8.3f} {BATCH / step:9.1f} {step / reference:11.2f} "
              f"{peak_memory(name, args.threads):9.0f}")
    print("reference PCNN implementation: 2.10 x resnet18 (from the issue); ours must not exceed it")
    like_for_like = statistics.median(times["pcnn_r18+cl"]) / statistics.median(times["resnet18+cl"])
    print(f"pcnn_r18+cl / resnet18+cl (both channels-last): {like_for_like:.2f}x")
    pcnn_step = statistics.median(times["pcnn_r18"])
    for workers in (0, 2):
        per_batch = loader_seconds_per_batch(workers, batches=8)
        print(f"data loader alone, {workers} workers: {per_batch:.3f} s/batch = {BATCH / per_batch:.0f} images/s "
              f"({per_batch / pcnn_step:.0%} of a pcnn_r18 step)")
    if args.quickstart:
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "pcnn_fer.cli.main", "quickstart", folder, "--quiet",
                                   "--threads", str(args.threads)], capture_output=True, text=True)
            elapsed = time.perf_counter() - started
        print(done.stdout[-3000:])
        if done.returncode:
            print(done.stderr[-3000:])
        print(f"quickstart wall time: {elapsed:.0f} s (exit {done.returncode})")


if __name__ == "__main__":
    main()
