"""One fold trained into its run directory: the epoch loop with AMP, accumulation, EMA and DDP, selection, resume.

Model selection never looks at the test set unless asked to (`misc.select test`, labelled as such in every
report): by default the epoch kept is the best on a validation split carved from train.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from dataclasses import replace

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from pcnn_fer.data.batch_augment import BatchAugment
from pcnn_fer.data.cache import DecodedCache
from pcnn_fer.data.mixing import draw_weights
from pcnn_fer.data.mixup import Mixup
from pcnn_fer.data.names import BATCHED_AUGMENTATIONS
from pcnn_fer.data.preprocessing import Preprocessing
from pcnn_fer.data.sample import SampleSet
from pcnn_fer.data.torch_dataset import FERDataset
from pcnn_fer.data.transforms import train_transform
from pcnn_fer.engine.checkpoint import (
    CURVES_FILE,
    LAST,
    RESULT_FILE,
    SELECTED,
    TENSORBOARD_DIR,
    RunDir,
    git_revision,
    rng_state,
    set_rng_state,
)
from pcnn_fer.engine.config import TrainConfig
from pcnn_fer.engine.distillation import TEACHER_LOGITS_FILE, distilled, teacher_logits
from pcnn_fer.engine.distributed import DistContext, ShardedSampler
from pcnn_fer.engine.evaluate import (
    EvalOptions,
    autocast,
    evaluate,
    evaluation_model,
    fit_calibration,
    fit_prior_correction,
    held_out_logits,
    training_prior,
    write_evaluation,
)
from pcnn_fer.engine.fold_result import FoldResult, samples_fingerprint
from pcnn_fer.engine.folds import Fold
from pcnn_fer.engine.interruption import StopRequest, TrainingInterrupted
from pcnn_fer.engine.loaders import make_loader
from pcnn_fer.engine.model_setup import PretrainedWeights, build_model
from pcnn_fer.engine.optimization import build_optimizer, lr_factor, set_train_mode
from pcnn_fer.engine.reporting import TensorBoardLog, format_table, plot_curves, write_fold_report
from pcnn_fer.faces.framing import DATASET_FRAMINGS
from pcnn_fer.models.loss import TwoPhaseLoss, balance_terms, class_prior
from pcnn_fer.models.metadata import ModelMetadata
from pcnn_fer.models.storage import load_model
from pcnn_fer.progress import progress

log = logging.getLogger(__name__)
TEST_SELECTION_NOTE = "selected on the test set (optimistic; for comparison with the reference code only)"


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
        weights = draw_weights(fold.train, {source.dataset: source.share for source in data.mix}, data.balanced)
        self.sampler = ShardedSampler(len(fold.train), context, seed=misc.seed, weights=weights)
        micro_steps = math.ceil(len(self.sampler) / self.micro_batch)
        self.steps_per_epoch = math.ceil(micro_steps / config.optim.accumulate)
        base_lr = config.optim.lr
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: lr_factor(config.schedule, base_lr, step / self.steps_per_epoch))
        self.scaler = torch.amp.GradScaler("cuda") if misc.amp == "fp16" and self.device.type == "cuda" else None
        self.ema = (AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(config.ema.decay), use_buffers=True)
                    if config.ema.enabled else None)
        self.eval_options = EvalOptions(
            batch_size=max(1, (data.eval_batch_size or data.batch_size) // context.world_size),
            workers=data.workers, amp=misc.amp, channels_last=misc.channels_last, show_progress=not misc.quiet)
        self.criterion = self._criterion(fold.train)
        train = fold.train
        if config.distill.teacher:
            logits = teacher_logits(config.distill, train, self.eval_options, context,
                                    run.path / TEACHER_LOGITS_FILE)
            train = distilled(train, logits, config.distill.weight, config.distill.temperature,
                              config.distill.sources, data.dataset)
        preprocessing = Preprocessing.of(self.model.config)
        self.train_data = FERDataset(
            train, train_transform(preprocessing, config.augment.train, config.augment.working_size), cache)
        self.batch_augment = (BatchAugment(preprocessing).to(self.device)
                              if config.augment.train in BATCHED_AUGMENTATIONS else None)
        self.mixup = Mixup(config.augment.mixup, len(train.class_names)) if config.augment.mixup else None
        # Progress carried across epochs (and restarts).
        self.epoch, self.batches_done, self.global_step = 0, 0, 0
        self.history: list[dict] = []
        self.best: dict = {"epoch": None, "value": None}
        self.running = torch.zeros(4, dtype=torch.float64)  # loss sum, correct, count, skipped steps
        if self.state is not None:
            self._restore(self.state)

    def _criterion(self, train: SampleSet) -> TwoPhaseLoss:
        """The two-phase loss, with the class-balance terms the recipe asks for, from the training labels' prior."""
        optim = self.config.optim
        balance = {}
        if optim.logit_adjust or optim.class_weighting != "none":
            labels = [s.label for s in train.samples]
            as_tensor = torch.tensor(labels, dtype=torch.int64 if isinstance(labels[0], int) else torch.float64)
            prior = class_prior(as_tensor, len(train.class_names))
            balance = balance_terms(prior, optim.logit_adjust, optim.class_weighting)
        return TwoPhaseLoss(optim.loss_alpha, optim.loss_beta, optim.label_smoothing, **balance).to(self.device)

    @property
    def eval_model(self) -> nn.Module:
        """What is evaluated and kept: the EMA weights when EMA is on."""
        return self.ema.module if self.ema is not None else self.model

    def fit(self, stop: StopRequest) -> FoldResult:
        """Train the remaining epochs, keep the selected epoch, evaluate it on test; the fold's result."""
        epochs = self.config.schedule.epochs
        board = TensorBoardLog(self.run.path / TENSORBOARD_DIR, enabled=self.context.is_main)
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
        """One pass over this process's share of the training part; the epoch's record of loss, accuracy, speed."""
        config, context = self.config, self.context
        accumulate = config.optim.accumulate
        self.sampler.set_epoch(self.epoch, skip=self.batches_done * self.micro_batch)
        loader = make_loader(self.train_data, self.sampler, self.micro_batch, config.data.workers, self.device,
                             seed=config.misc.seed)
        set_train_mode(self.network, config.model.freeze_bn)
        lr = self.optimizer.param_groups[0]["lr"]  # the rate this epoch starts with, not the next epoch's
        started, images_seen = time.perf_counter(), 0
        description = f"{self.fold.name + ' ' if self.fold.name else ''}epoch {self.epoch + 1}/{config.schedule.epochs}"
        bar = progress(loader, len(loader), description, context.is_main and not config.misc.quiet, unit="batch")
        micro_steps_total = math.ceil((len(self.sampler) + self.sampler.skip) / self.micro_batch)
        for images, targets in bar:
            images = images.to(self.device, non_blocking=True)
            targets = targets.to(self.device, non_blocking=True)
            if self.batch_augment is not None:
                images = self.batch_augment(images)
            if self.mixup is not None:
                images, targets = self.mixup(images, targets)
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
        """A NaN/inf loss: stop naming the step, or skip it under optim.skip_nonfinite."""
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
        """Keep this epoch's weights as selected/ when they beat the best so far on the selection metric."""
        select = self.config.misc.select
        if select == "last":
            return
        value = record[f"{select}_{self.config.misc.select_metric}"]
        if self.best["value"] is None or value > self.best["value"]:
            self.best = {"epoch": record["epoch"], "value": value}
            if self.context.is_main:
                self.run.save_checkpoint(SELECTED, evaluation_model(self.eval_model), self._metadata())

    def _metadata(self, **measured) -> ModelMetadata:
        """What a checkpoint of this fold records about itself; `measured` adds epoch, calibration, metrics."""
        fold, config = self.fold, self.config
        framing = DATASET_FRAMINGS.get(fold.train.name)
        return ModelMetadata(dataset=fold.train.name, fold=fold.name or None, recipe=config.to_dict(),
                             framing=framing.to_dict() if framing is not None else None,
                             git_revision=git_revision(),
                             selection={"rule": config.misc.select, "metric": config.misc.select_metric},
                             **measured)

    def _recorded_prior_correction(self, logits: torch.Tensor, targets: torch.Tensor, temperature: float) -> dict:
        """The training labels' class prior and the correction weight fitted on val's `logits` at `temperature`,
        recorded with a weight of 0: the model keeps its own predictions and `--prior-correction W` opts in. Empty
        when a class has no training faces (there is no prior to correct from)."""
        try:
            prior = training_prior(self.fold.train, evaluation_model(self.model).config.class_names)
        except ValueError as error:
            log.warning("no prior correction recorded: %s", error)
            return {}
        return {"prior_correction": fit_prior_correction(logits, targets, prior, temperature, "val", self.context,
                                                         apply=False)}

    def _save_last(self) -> None:
        """The resumable checkpoint last/: weights and every state a restart needs to continue exactly here."""
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

    def _finish(self) -> FoldResult:
        """Keep the selected weights, evaluate them on test, write curves, metrics and the report."""
        config, context, fold = self.config, self.context, self.fold
        if config.misc.select == "last" and context.is_main:
            self.run.save_checkpoint(SELECTED, evaluation_model(self.eval_model), self._metadata())
            if self.ema is None:  # the selected weights are the last checkpoint's own: store them once
                self.run.drop_model(LAST)
        context.barrier()
        selected = load_model(self.run.checkpoint_path(SELECTED), device=self.device)
        selected_epoch = self.best["epoch"] if config.misc.select != "last" else len(self.history)
        selection = (TEST_SELECTION_NOTE if config.misc.select == "test"
                     else f"selected by {config.misc.select_metric} on the validation split" if config.misc.select
                     == "val" else "last epoch")
        options = replace(self.eval_options, flip_tta=config.augment.flip_tta, organ_weight=config.misc.organ_weight)
        calibration = test = None
        extra: dict = {}
        if fold.val is not None:
            # One pass over val: the temperature that makes the selected model's confidences honest, and the
            # prior correction fitted at it.
            logits, targets = held_out_logits(selected, fold.val, options, "val", context, self.cache)
            calibration = extra["calibration"] = fit_calibration(logits, targets, "val", context)
            options = replace(options, temperature=calibration["temperature"])
            extra.update(self._recorded_prior_correction(logits, targets, calibration["temperature"]))
        if fold.test is not None:
            test = evaluate(selected, fold.test, options, context, description="test", cache=self.cache)
            extra["metrics"] = {"test": {"split": f"test {fold.name}".strip(), "selection": selection,
                                         "count": test["main"]["count"],
                                         **{k: test["main"][k] for k in ("accuracy", "mean_class_accuracy",
                                                                         "macro_f1")}}}
        images: dict[str, dict[str, str]] = {"confusion": {}, "reliability": {}}
        if context.is_main and test is not None:
            images = write_evaluation(test, self.run.plots, "test", f"{fold.train.name} {fold.name} test".strip())
        result = FoldResult(
            fold=fold.name or None, selected_epoch=selected_epoch, selection=selection,
            train_samples=len(fold.train), val_samples=len(fold.val) if fold.val is not None else 0, test=test,
            test_samples=len(fold.test) if fold.test is not None else 0,
            test_fingerprint=samples_fingerprint(fold.test) if fold.test is not None else None,
            calibration=calibration, confusion_images=images["confusion"], reliability_images=images["reliability"])
        if context.is_main:
            if extra:
                self.run.save_checkpoint(SELECTED, selected, self._metadata(epoch=selected_epoch, **extra))
            self.run.write_metrics(self.history)
            plot_curves(self.history, self.run.plots / CURVES_FILE)
            self.run.write_json(RESULT_FILE, result.to_dict())
            write_fold_report(self.run, config, result, self.history)
            log.info("%s", format_table(self.history, _TABLE_COLUMNS))
        return result


_TABLE_COLUMNS = ("epoch", "lr", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_accuracy",
                  "train_images_per_s")


def _epoch_line(record: dict, epochs: int, fold: str) -> str:
    """The line logged after each epoch: learning rate, train and watched losses and accuracies, speed."""
    parts = [f"{fold + ' ' if fold else ''}epoch {record['epoch']}/{epochs}", f"lr {record['lr']:.2e}",
             f"train loss {record['train_loss']:.4f} acc {record['train_accuracy']:.4f}"]
    for split in ("val", "test"):
        if f"{split}_accuracy" in record:
            parts.append(f"{split} loss {record[f'{split}_loss']:.4f} acc {record[f'{split}_accuracy']:.4f}")
    parts.append(f"{record['train_images_per_s']:.1f} img/s")
    if record["skipped_steps"]:
        parts.append(f"{record['skipped_steps']} non-finite steps skipped")
    return "  ".join(parts)
