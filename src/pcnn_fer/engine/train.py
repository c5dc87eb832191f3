"""Training: a recipe in, a run directory out (one fold or several), on one process or under torchrun.

Model selection never looks at the test set unless asked to (`misc.select test`, labelled as such in every
report): by default the epoch kept is the best on a validation split carved from train.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import random
import signal
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader, Dataset

from pcnn_fer.data import protocols
from pcnn_fer.data.cache import DecodedCache
from pcnn_fer.data.images import ImageError, load_image
from pcnn_fer.data.sample import SampleSet
from pcnn_fer.data.torch_dataset import FERDataset, class_balanced_sampler
from pcnn_fer.data.transforms import train_transform
from pcnn_fer.engine.checkpoint import (
    LAST,
    RESULT_FILE,
    SELECTED,
    SUMMARY_FILE,
    RunDir,
    git_revision,
    rng_state,
    set_rng_state,
)
from pcnn_fer.engine.config import OptimConfig, ScheduleConfig, TrainConfig
from pcnn_fer.engine.distributed import DistContext, ShardedSampler, init_distributed, shutdown
from pcnn_fer.engine.evaluate import (
    EvalOptions,
    autocast,
    evaluate,
    evaluation_model,
    fit_calibration,
    write_evaluation,
)
from pcnn_fer.engine.loaders import make_loader
from pcnn_fer.engine.metrics import mean_std
from pcnn_fer.engine.reporting import (
    TensorBoardLog,
    format_table,
    plot_curves,
    write_cv_report,
    write_fold_report,
)
from pcnn_fer.models.loss import TwoPhaseLoss
from pcnn_fer.models.pcnn import PCNN
from pcnn_fer.models.registry import create_model
from pcnn_fer.progress import progress
from pcnn_fer.weights.backbones import load_backbone_weights
from pcnn_fer.weights.store import load_model

log = logging.getLogger(__name__)
MIN_VAL_PER_CLASS = 10  # fewer validation images per class than this and selection follows noise
TEST_SELECTION_NOTE = "selected on the test set (optimistic; for comparison with the reference code only)"
SKIPPED_FILE = "skipped.txt"
SHOWN_SKIPPED = 10


class TrainingInterrupted(Exception):
    """Ctrl-C (or SIGTERM) arrived; a resumable checkpoint was saved first."""


@dataclass
class Fold:
    """One train / val / test assignment; `name` is "" for a single split."""

    name: str
    train: SampleSet
    val: SampleSet | None
    test: SampleSet | None


def plan_folds(config: TrainConfig, samples: SampleSet) -> list[Fold]:
    """The recipe's protocol applied to `samples`, with a validation part wherever selection needs one."""
    data, seed = config.data, config.misc.seed
    if data.protocol == "official":
        parts = protocols.official_split(samples)
        if "train" not in parts:
            raise ValueError(f"{samples.name}: the official split has no training part (found {sorted(parts)})")
        folds = [Fold("", parts["train"], parts.get("val"), parts.get("test"))]
    else:
        if data.protocol == "subject_kfold":
            pairs = protocols.subject_kfold(samples, data.folds, seed)
        elif data.protocol == "leave_one_subject_out":
            pairs = protocols.leave_one_subject_out(samples)
        else:
            pairs = protocols.random_kfold(samples, data.folds, seed)
        folds = [Fold(f"fold_{i:02d}", train, None, test) for i, (train, test) in enumerate(pairs, start=1)]
        if data.run_folds:
            bad = [f for f in data.run_folds if not 1 <= f <= len(folds)]
            if bad:
                raise ValueError(f"data.run_folds {bad} out of range: this protocol has folds 1..{len(folds)}")
            folds = [folds[f - 1] for f in sorted(set(data.run_folds))]
    for fold in folds:
        if config.misc.select == "val" and fold.val is None:
            fold.train, fold.val = protocols.holdout(fold.train, data.val_fraction, seed, stratified=True,
                                                     by_subject=data.val_by_subject)
        if config.misc.select == "test" and fold.test is None:
            raise ValueError(f"misc.select test needs a test split, and {samples.name} {fold.name} has none")
    return folds


def warn_small_validation(config: TrainConfig, folds: list[Fold]) -> None:
    """Say so when the validation part is too small for its accuracy to tell epochs apart."""
    if config.misc.select != "val":
        return
    for fold in folds:
        count, classes = len(fold.val), len(fold.val.class_names)
        if count < MIN_VAL_PER_CLASS * classes:
            log.warning("%s: the validation part holds only %d image(s) for %d classes (one image moves its "
                        "accuracy by %.1f points), too few to select an epoch on; raise data.val_fraction, or "
                        "select the last epoch (--select last)", fold.name or "training", count, classes,
                        100.0 / max(count, 1))


def check_classes(config: TrainConfig, samples: SampleSet) -> None:
    """Refuse a dataset whose class count differs from the recipe's before any training starts."""
    expected = config.data.classes
    if expected and len(samples.class_names) != expected:
        raise ValueError(f"dataset {samples.name} at {config.data.root or '<memory>'} has "
                         f"{len(samples.class_names)} classes {list(samples.class_names)} but the recipe expects "
                         f"data.classes={expected}; pick the matching reader options or set data.classes")


def seed_everything(seed: int, deterministic: bool) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def build_model(config: TrainConfig, class_names: tuple[str, ...]) -> PCNN:
    """A freshly initialised PCNN of the recipe's variant for these classes (see PretrainedWeights for more)."""
    return create_model(config.model.variant, class_names=class_names, input_size=config.model.input_size,
                        organs=config.model.organs, stn=config.model.stn,
                        mean=tuple(config.augment.mean), std=tuple(config.augment.std))


class PretrainedWeights:
    """model.pretrained, read once per run and applied to each fold that starts afresh.

    A fold resumed from its last checkpoint skips them: the checkpoint's weights replace them anyway.
    """

    def __init__(self, source: str, context: DistContext) -> None:
        self.source = source
        self.context = context
        self._loaded: PCNN | dict[str, torch.Tensor] | None = None

    def apply(self, model: PCNN) -> PCNN:
        """Initialise `model` as model.pretrained says: unchanged ("none"), a whole pcnn-fer model, or its trunks."""
        if self.source == "none":
            return model
        if Path(self.source).is_dir():
            if self._loaded is None:
                self._loaded = load_model(self.source)
            start = self._loaded
            if start.class_names != model.class_names or start.config.backbone != model.config.backbone:
                raise ValueError(f"model.pretrained {self.source} is a {start.config.backbone} model for classes "
                                 f"{list(start.class_names)}; this run needs {model.config.backbone} for "
                                 f"{list(model.class_names)}")
            model.load_state_dict(start.state_dict())
            return model
        if self._loaded is None:
            # The main process fetches first, so several processes never race to fill the cache.
            if not self.context.is_main:
                self.context.barrier()
            self._loaded = load_backbone_weights(self.source, model.config.backbone)
            if self.context.is_main:
                self.context.barrier()
        model.init_backbone(self._loaded)
        return model


def decoded_cache(config: TrainConfig, samples: SampleSet, context: DistContext) -> DecodedCache | None:
    """The data.cache directory opened (built by the main process first when missing or stale), or None."""
    if not config.data.cache:
        return None
    if not context.is_main:
        context.barrier()
    cache = DecodedCache.ensure(samples, config.data.cache, size=config.model.input_size,
                                skip_bad=config.data.skip_bad, progress=not config.misc.quiet and context.is_main)
    if context.is_main:
        context.barrier()
    return cache


class _ImageCheck(Dataset):
    """For each sample, "" when its image can be read, else the reason (which names the file)."""

    def __init__(self, samples: SampleSet, decode: bool) -> None:
        self.samples, self.decode = samples, decode

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> str:
        source = self.samples.samples[index].source
        try:
            if self.decode or not isinstance(source, (str, Path)):
                load_image(source)
                return ""
            with Image.open(source) as image:  # parses the header only
                width, height = image.size
        except ImageError as error:
            return str(error)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
            return f"{source}: not an image Pillow can read ({error})"
        return "" if width > 0 and height > 0 else f"{source}: image has no pixels ({width} x {height})"


def unreadable_images(samples: SampleSet, *, decode: bool, workers: int = 0, show_progress: bool = True
                      ) -> dict[str, str]:
    """Key -> reason for each sample whose image cannot be read.

    decode=True decodes every image as training will; decode=False parses file headers only, which is cheap
    and finds missing, empty and non-image files, though not truncated pixel data.
    """
    loader = DataLoader(_ImageCheck(samples, decode), batch_size=64, num_workers=workers, collate_fn=list)
    reasons: list[str] = []
    for batch in progress(loader, len(loader), f"checking {samples.name} images", show_progress, unit="batch"):
        reasons.extend(batch)
    return {sample.key: reason for sample, reason in zip(samples, reasons) if reason}


def readable_samples(samples: SampleSet, skip_bad: bool, context: DistContext, *, cache: DecodedCache | None = None,
                     workers: int = 0, show_progress: bool = True) -> SampleSet:
    """`samples` without those whose image cannot be read: left out and logged when skip_bad, else an error.

    Checked before folds are planned, so every fold (and a later `pcnn-fer eval` of it) holds the same readable
    samples. A decoded cache already decoded everything; without one, skip_bad decodes every image up front, so
    no epoch meets a bad one (data.cache does that once for all runs), and otherwise only headers are read.
    """
    if cache is not None:
        bad = {s.key: cache.skipped[s.key] for s in samples if s.key in cache.skipped}
    else:
        found = unreadable_images(samples, decode=skip_bad, workers=workers,
                                  show_progress=show_progress) if context.is_main else None
        bad = context.broadcast(found)
    if not bad:
        return samples
    reasons = list(bad.values())
    if not skip_bad:
        raise ValueError(f"{samples.name}: {len(bad)} image(s) cannot be read, first: {reasons[0]}; pass "
                         f"--skip-bad (data.skip_bad) to leave such samples out")
    shown = "; ".join(reasons[:SHOWN_SKIPPED]) + (f"; and {len(bad) - SHOWN_SKIPPED} more"
                                                   if len(bad) > SHOWN_SKIPPED else "")
    log.warning("%s: left out %d unreadable image(s): %s", samples.name, len(bad), shown)
    return SampleSet(samples.name, samples.class_names, [s for s in samples if s.key not in bad],
                     [*samples.skipped, *reasons])


def lr_factor(schedule: ScheduleConfig, base_lr: float, epochs_done: float) -> float:
    """The learning-rate multiplier after `epochs_done` (fractional) epochs: schedule times linear warm-up."""
    if schedule.name == "step":
        factor = schedule.gamma ** (int(epochs_done) // schedule.step_size)
    elif schedule.name == "cosine":
        floor = schedule.min_lr / base_lr if base_lr else 0.0
        factor = floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(epochs_done / schedule.epochs, 1.0)))
    else:
        factor = 1.0
    if epochs_done < schedule.warmup_epochs:
        factor *= schedule.warmup_factor + (1 - schedule.warmup_factor) * epochs_done / schedule.warmup_epochs
    return factor


def build_optimizer(optim: OptimConfig, model: nn.Module) -> torch.optim.Optimizer:
    if optim.name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=optim.lr, momentum=optim.momentum,
                               weight_decay=optim.weight_decay, nesterov=optim.nesterov)
    return torch.optim.AdamW(model.parameters(), lr=optim.lr, betas=tuple(optim.betas),
                             weight_decay=optim.weight_decay)


def set_train_mode(model: nn.Module, freeze_bn: bool) -> None:
    """Training mode, with BatchNorm statistics frozen when asked (tiny per-process batches)."""
    model.train()
    if freeze_bn:
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()


class StopRequest:
    """Turns Ctrl-C / SIGTERM into a flag checked between optimiser steps; a second Ctrl-C aborts at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopRequest:
        try:
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        except ValueError:  # not the main thread: leave signals alone
            self._previous.clear()
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True
        log.warning("stopping after this step; a resumable checkpoint will be saved (Ctrl-C again to abort)")

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


class FoldTrainer:
    """Trains one fold into its run directory, resuming from its last checkpoint when there is one."""

    def __init__(self, config: TrainConfig, fold: Fold, run: RunDir, context: DistContext,
                 cache: DecodedCache | None = None, pretrained: PretrainedWeights | None = None) -> None:
        self.config, self.fold, self.run, self.context, self.cache = config, fold, run, context, cache
        data, misc = config.data, config.misc
        divisor = context.world_size * config.optim.accumulate
        if data.batch_size % divisor:
            raise ValueError(f"data.batch_size {data.batch_size} must be a multiple of processes x "
                             f"optim.accumulate = {divisor}")
        self.micro_batch = data.batch_size // divisor
        self.device = context.device
        self.model = build_model(config, fold.train.class_names)
        self.state = None
        if run.checkpoint_path(LAST) is not None:
            saved, self.state = run.load_state(LAST)
            self.model.load_state_dict(saved.state_dict())
        else:
            (pretrained or PretrainedWeights(config.model.pretrained, context)).apply(self.model)
        self.model.to(self.device)
        if misc.channels_last:
            self.model.to(memory_format=torch.channels_last)
        network: nn.Module = self.model
        if context.enabled:
            if config.distributed.sync_bn and self.device.type == "cuda":
                network = nn.SyncBatchNorm.convert_sync_batchnorm(network)
            network = DistributedDataParallel(network, device_ids=[self.device.index] if self.device.type == "cuda"
                                              else None)
        self.network = torch.compile(network) if misc.compile else network
        self.optimizer = build_optimizer(config.optim, self.model)
        weights = class_balanced_sampler(fold.train).weights if data.balanced else None
        self.sampler = ShardedSampler(len(fold.train), context, seed=misc.seed, weights=weights)
        micro_steps = math.ceil(len(self.sampler) / self.micro_batch)
        self.steps_per_epoch = math.ceil(micro_steps / config.optim.accumulate)
        base_lr = config.optim.lr
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: lr_factor(config.schedule, base_lr, step / self.steps_per_epoch))
        self.scaler = torch.amp.GradScaler("cuda") if misc.amp == "fp16" and self.device.type == "cuda" else None
        self.ema = (AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(config.ema.decay), use_buffers=True)
                    if config.ema.enabled else None)
        self.criterion = TwoPhaseLoss(config.optim.loss_alpha, config.optim.loss_beta, config.optim.label_smoothing)
        self.train_data = FERDataset(
            fold.train, train_transform(config.model.input_size, config.augment.mean, config.augment.std,
                                        config.augment.train), cache)
        self.eval_options = EvalOptions(
            batch_size=max(1, (data.eval_batch_size or data.batch_size) // context.world_size),
            workers=data.workers, amp=misc.amp, channels_last=misc.channels_last, show_progress=not misc.quiet)
        # Progress carried across epochs (and restarts).
        self.epoch, self.batches_done, self.global_step = 0, 0, 0
        self.history: list[dict] = []
        self.best: dict = {"epoch": None, "value": None}
        self.running = torch.zeros(4, dtype=torch.float64)  # loss sum, correct, count, skipped steps
        if self.state is not None:
            self._restore(self.state)

    @property
    def eval_model(self) -> nn.Module:
        """What is evaluated and kept: the EMA weights when EMA is on."""
        return self.ema.module if self.ema is not None else self.model

    def fit(self, stop: StopRequest) -> dict:
        """Train the remaining epochs, keep the selected epoch, evaluate it on test; the fold's result."""
        epochs = self.config.schedule.epochs
        board = TensorBoardLog(self.run.path / "tensorboard", enabled=self.context.is_main)
        try:
            while self.epoch < epochs:
                record = self._train_epoch(stop)
                record.update(self._watch())
                self.history.append(record)
                self._select(record)
                self.epoch, self.batches_done = self.epoch + 1, 0
                self.running.zero_()
                self._save_last()
                if self.context.is_main:
                    self.run.write_metrics(self.history)
                    board.scalars(record, record["epoch"])
                    log.info(_epoch_line(record, epochs, self.fold.name))
        finally:
            board.close()
        return self._finish()

    def _train_epoch(self, stop: StopRequest) -> dict:
        config, context = self.config, self.context
        accumulate = config.optim.accumulate
        self.sampler.set_epoch(self.epoch, skip=self.batches_done * self.micro_batch)
        loader = make_loader(self.train_data, self.sampler, self.micro_batch, config.data.workers, self.device,
                             seed=config.misc.seed)
        set_train_mode(self.network, config.model.freeze_bn)
        lr = self.optimizer.param_groups[0]["lr"]  # the rate this epoch starts with, not the next epoch's
        started, images_seen = time.perf_counter(), 0
        description = f"{self.fold.name + ' ' if self.fold.name else ''}epoch {self.epoch + 1}/{config.schedule.epochs}"
        bar = progress(loader, len(loader), description, context.is_main and not config.misc.quiet)
        micro_steps_total = math.ceil((len(self.sampler) + self.sampler.skip) / self.micro_batch)
        for images, targets in bar:
            images = images.to(self.device, non_blocking=True)
            targets = targets.to(self.device, non_blocking=True)
            if config.misc.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            closes_group = (self.batches_done + 1) % accumulate == 0 or self.batches_done + 1 == micro_steps_total
            with autocast(self.device, config.misc.amp):
                output = self.network(images)
                loss = self.criterion(output, targets)
            flags = context.sum(torch.tensor([float(not torch.isfinite(loss).item()), float(stop.requested)]))
            self.batches_done += 1
            if flags[0] > 0:
                self._nonfinite(loss)
                continue
            sync = closes_group or not isinstance(self.network, DistributedDataParallel)
            with (contextlib.nullcontext() if sync else self.network.no_sync()):
                if self.scaler is not None:
                    self.scaler.scale(loss / accumulate).backward()
                else:
                    (loss / accumulate).backward()
            hard = targets if targets.dim() == 1 else targets.argmax(dim=1)
            self.running += torch.tensor([float(loss.detach()) * len(images),
                                          float((output.logits.detach().argmax(dim=1) == hard).sum()),
                                          len(images), 0.0], dtype=torch.float64)
            images_seen += len(images)
            if closes_group:
                self._optimizer_step()
                if flags[1] > 0:
                    self._save_last()
                    raise TrainingInterrupted(f"interrupted in epoch {self.epoch + 1} after {self.batches_done} "
                                              f"batches; checkpoint saved in {self.run.path / LAST}")
            if context.is_main:
                elapsed = max(time.perf_counter() - started, 1e-9)
                loss_sum, correct, count, _ = self.running.tolist()
                bar.set_postfix(img_s=f"{images_seen * context.world_size / elapsed:.1f}",
                                loss=f"{loss_sum / max(count, 1):.3f}", acc=f"{correct / max(count, 1):.3f}")
        elapsed = time.perf_counter() - started
        loss_sum, correct, count, skipped = context.sum(self.running).tolist()
        seen = context.sum(torch.tensor(float(images_seen))).item()
        return {"epoch": self.epoch + 1, "lr": lr,
                "train_loss": loss_sum / max(count, 1), "train_accuracy": correct / max(count, 1),
                "train_images_per_s": seen / max(elapsed, 1e-9), "skipped_steps": int(skipped),
                "epoch_time_s": elapsed}

    def _nonfinite(self, loss: torch.Tensor) -> None:
        where = (f"epoch {self.epoch + 1}, batch {self.batches_done} (optimiser step {self.global_step + 1})"
                 f"{' of ' + self.fold.name if self.fold.name else ''}")
        if not self.config.optim.skip_nonfinite:
            raise RuntimeError(f"loss is {float(loss.detach())} at {where}; lower optim.lr, enable "
                               f"optim.clip_grad, or pass --skip-nonfinite to skip such steps")
        log.warning("skipping %s: loss is %s", where, float(loss.detach()))
        self.optimizer.zero_grad(set_to_none=True)
        if self.context.is_main:  # every process skips the same step; count it once
            self.running[3] += 1

    def _optimizer_step(self) -> None:
        clip = self.config.optim.clip_grad
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        if clip:
            nn.utils.clip_grad_norm_(self.model.parameters(), clip)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        self.global_step += 1
        if self.ema is not None:
            self.ema.update_parameters(self.model)

    def _watch(self) -> dict:
        """Metrics on the splits watched during training: val, and test only under --select test."""
        record = {}
        watched = [("val", self.fold.val)]
        if self.config.misc.select == "test":
            watched.append(("test", self.fold.test))
        for split, samples in watched:
            if samples is None:
                continue
            metrics = evaluate(self.eval_model, samples, self.eval_options, self.context, self.criterion,
                               description=split, cache=self.cache)["main"]
            record.update({f"{split}_{k}": metrics[k] for k in ("loss", "accuracy", "mean_class_accuracy",
                                                                 "macro_f1")})
        return record

    def _select(self, record: dict) -> None:
        select = self.config.misc.select
        if select == "last":
            return
        value = record[f"{select}_{self.config.misc.select_metric}"]
        if self.best["value"] is None or value > self.best["value"]:
            self.best = {"epoch": record["epoch"], "value": value}
            if self.context.is_main:
                self.run.save_checkpoint(SELECTED, evaluation_model(self.eval_model), self._metadata())

    def _metadata(self, **extra) -> dict:
        fold, config = self.fold, self.config
        return {"dataset": fold.train.name, "fold": fold.name or None, "recipe": config.to_dict(),
                "git_revision": git_revision(), "selection": config.misc.select,
                "selection_metric": config.misc.select_metric, **extra}

    def _save_last(self) -> None:
        running = self.context.sum(self.running)  # collective: every process takes part
        if not self.context.is_main:
            return
        state = {
            "epoch": self.epoch, "batches_done": self.batches_done, "global_step": self.global_step,
            "world_size": self.context.world_size, "history": self.history, "best": self.best,
            "running": running, "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(), "rng": rng_state(),
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "ema": self.ema.state_dict() if self.ema is not None else None,
        }
        self.run.save_checkpoint(LAST, self.model, self._metadata(epoch=self.epoch), state)

    def _restore(self, state: dict) -> None:
        if state["world_size"] != self.context.world_size and state["batches_done"]:
            raise ValueError(f"{self.run.path}: saved mid-epoch by {state['world_size']} process(es); resume it "
                             f"with the same number of processes")
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler is not None and state["scaler"] is not None:
            self.scaler.load_state_dict(state["scaler"])
        if self.ema is not None and state["ema"] is not None:
            self.ema.load_state_dict(state["ema"])
        set_rng_state(state["rng"])
        self.epoch, self.batches_done, self.global_step = state["epoch"], state["batches_done"], state["global_step"]
        self.history, self.best = list(state["history"]), dict(state["best"])
        # A mid-epoch save holds the running sums reduced over processes: each takes back an equal share.
        self.running = state["running"].clone() / self.context.world_size
        log.info("resumed %s at epoch %d, batch %d", self.run.path, self.epoch + 1, self.batches_done)

    def _finish(self) -> dict:
        """Keep the selected weights, evaluate them on test, write curves, metrics and the report."""
        config, context = self.config, self.context
        if config.misc.select == "last" and context.is_main:
            self.run.save_checkpoint(SELECTED, evaluation_model(self.eval_model), self._metadata())
        context.barrier()
        selected = load_model(self.run.checkpoint_path(SELECTED), device=self.device)
        selected_epoch = self.best["epoch"] if config.misc.select != "last" else len(self.history)
        selection = (TEST_SELECTION_NOTE if config.misc.select == "test"
                     else f"selected by {config.misc.select_metric} on the validation split" if config.misc.select
                     == "val" else "last epoch")
        result: dict = {"fold": self.fold.name or None, "selected_epoch": selected_epoch, "selection": selection,
                        "train_samples": len(self.fold.train),
                        "val_samples": len(self.fold.val) if self.fold.val is not None else 0, "test": None}
        options = replace(self.eval_options, flip=config.augment.tta_flip, organ_weight=config.misc.organ_weight)
        extra: dict = {}
        if self.fold.val is not None:
            # One pass over val: the temperature that makes the selected model's confidences honest.
            calibration = fit_calibration(selected, self.fold.val, options, "val", context, self.cache)
            result["calibration"] = extra["calibration"] = calibration
            options = replace(options, temperature=calibration["temperature"])
        if self.fold.test is not None:
            test = evaluate(selected, self.fold.test, options, context, description="test", cache=self.cache)
            result["test"] = test
            result["test_samples"] = len(self.fold.test)
            extra["metrics"] = {"split": f"test {self.fold.name}".strip(), "selection": selection,
                                **{k: test["main"][k] for k in ("accuracy", "mean_class_accuracy", "macro_f1")}}
        if context.is_main:
            if result["test"] is not None:
                images = write_evaluation(result["test"], self.run.plots, "test",
                                          f"{self.fold.train.name} {self.fold.name} test".strip())
                result["confusion_images"], result["reliability_images"] = images["confusion"], images["reliability"]
            if extra:
                self.run.save_checkpoint(SELECTED, selected, self._metadata(epoch=selected_epoch, **extra))
            self.run.write_metrics(self.history)
            plot_curves(self.history, self.run.plots / "curves.png")
            self.run.write_json(RESULT_FILE, result)
            write_fold_report(self.run, config, result, self.history)
            log.info("%s", format_table(self.history, _TABLE_COLUMNS))
        return result


_TABLE_COLUMNS = ("epoch", "lr", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_accuracy",
                  "train_images_per_s")


def _epoch_line(record: dict, epochs: int, fold: str) -> str:
    parts = [f"{fold + ' ' if fold else ''}epoch {record['epoch']}/{epochs}", f"lr {record['lr']:.2e}",
             f"train loss {record['train_loss']:.4f} acc {record['train_accuracy']:.4f}"]
    for split in ("val", "test"):
        if f"{split}_accuracy" in record:
            parts.append(f"{split} loss {record[f'{split}_loss']:.4f} acc {record[f'{split}_accuracy']:.4f}")
    parts.append(f"{record['train_images_per_s']:.1f} img/s")
    if record["skipped_steps"]:
        parts.append(f"{record['skipped_steps']} non-finite steps skipped")
    return "  ".join(parts)


def train(config: TrainConfig, samples: SampleSet | None = None, resume: str | Path | None = None) -> Path:
    """Run the recipe (every fold of it) and return the run directory.

    `samples` replaces reading data.dataset from data.root (e.g. data built in memory). `resume` continues
    the run in that directory: finished folds are kept, the current one restarts from its last checkpoint.
    """
    misc = config.misc
    threads = torch.get_num_threads()
    if misc.threads:
        torch.set_num_threads(misc.threads)
    context = init_distributed(config.distributed.backend, misc.device)
    try:
        seed_everything(misc.seed + context.rank, misc.deterministic)
        if samples is None:
            from pcnn_fer.data.datasets import load_dataset

            if not config.data.root:
                raise ValueError(f"no dataset directory: pass --data-root DIR (the {config.data.dataset} files as "
                                 f"their publisher ships them) or set data.root in the recipe")

            samples = load_dataset(config.data.dataset, config.data.root, skip_bad=config.data.skip_bad,
                                   **config.data.options)
        check_classes(config, samples)
        cache = decoded_cache(config, samples, context)
        samples = readable_samples(samples, config.data.skip_bad, context, cache=cache, workers=config.data.workers,
                                   show_progress=not misc.quiet)
        folds = plan_folds(config, samples)
        if context.is_main:
            warn_small_validation(config, folds)
        pretrained = PretrainedWeights(config.model.pretrained, context)
        root = Path(resume) if resume else Path(misc.output) / context.broadcast(
            misc.name or f"{samples.name}-{config.model.variant}-{time.strftime('%Y%m%d-%H%M%S')}")
        # Decided by the main process alone: it creates the folder, which the others would then find.
        made_here = resume is None and not root.exists()
        taken = (not resume and root.exists() and any(root.iterdir())) if context.is_main else None
        if context.broadcast(taken):
            state = "a finished run" if (root / RESULT_FILE).exists() else "a run"
            raise ValueError(f"{root} already holds {state}; choose another misc.name, --resume it, or remove it")
        run = RunDir(root)
        try:
            return _train_folds(config, folds, run, context, cache, pretrained, samples.skipped, resume is not None)
        except (TrainingInterrupted, KeyboardInterrupt):
            raise
        except Exception as error:
            if context.is_main:
                run.abandon(error, made_here)
            raise
    finally:
        shutdown(context)
        torch.set_num_threads(threads)


def _train_folds(config: TrainConfig, folds: list[Fold], run: RunDir, context: DistContext,
                 cache: DecodedCache | None, pretrained: PretrainedWeights, skipped: list[str],
                 resumed: bool) -> Path:
    """Write the run's recipe and train every fold not finished yet, then summarise a cross-validation."""
    root = run.path
    if context.is_main:
        run.create()
        run.write_text("config.yaml", config.to_yaml())
        run.write_environment()
        if skipped:
            run.write_text(SKIPPED_FILE, "".join(f"{reason}\n" for reason in skipped))
    context.barrier()
    results = []
    with StopRequest() as stop:
        for fold in folds:
            fold_run = RunDir(root / fold.name) if fold.name else run
            if (fold_run.path / RESULT_FILE).is_file():
                results.append(_read_result(fold_run))
                continue
            if context.is_main:
                fold_run.create()
            context.barrier()
            try:
                results.append(FoldTrainer(config, fold, fold_run, context, cache, pretrained).fit(stop))
            except TrainingInterrupted as interrupted:
                raise TrainingInterrupted(f"{interrupted}; resume with --resume {root}") from None
    if folds[0].name and context.is_main:  # cross-validation, even when data.run_folds runs one fold
        summary = summarize_folds(results)
        run.write_json(SUMMARY_FILE, summary)
        write_cv_report(run, config, results, summary)
        log.info("%s", format_cv_summary(results, summary))
    if context.is_main and resumed:
        run.clear_failure()
    return root


def _read_result(run: RunDir) -> dict:
    return json.loads((run.path / RESULT_FILE).read_text())


def summarize_folds(results: list[dict]) -> dict:
    """Mean ± std over folds of each test metric of each scored head, and the confusion summed over folds."""
    scored = [r for r in results if r["test"] is not None]
    if not scored:
        return {"folds": len(results)}
    summary: dict = {"folds": len(results), "heads": {}}
    for head in scored[0]["test"]:
        summary["heads"][head] = {
            metric: dict(zip(("mean", "std"), mean_std([r["test"][head][metric] for r in scored])))
            for metric in ("accuracy", "mean_class_accuracy", "macro_f1")}
        summary["heads"][head]["confusion"] = np.sum(
            [np.array(r["test"][head]["confusion"]) for r in scored], axis=0).tolist()
        summary["heads"][head]["class_names"] = scored[0]["test"][head]["class_names"]
    return summary


def format_cv_summary(results: list[dict], summary: dict) -> str:
    """Accuracy per fold and mean ± std, as printed at the end of a cross-validation run."""
    rows = [{"fold": r["fold"], "test_samples": r.get("test_samples", 0), "selected_epoch": r["selected_epoch"],
             "accuracy": r["test"]["main"]["accuracy"] if r["test"] else None} for r in results]
    lines = [format_table(rows, ("fold", "test_samples", "selected_epoch", "accuracy"))]
    for head, stats in summary.get("heads", {}).items():
        lines.append(f"{head}: accuracy {stats['accuracy']['mean']:.4f} ± {stats['accuracy']['std']:.4f}  "
                     f"mean class accuracy {stats['mean_class_accuracy']['mean']:.4f} ± "
                     f"{stats['mean_class_accuracy']['std']:.4f}  macro-F1 {stats['macro_f1']['mean']:.4f} ± "
                     f"{stats['macro_f1']['std']:.4f} over {summary['folds']} folds")
    return "\n".join(lines)
