"""Before any fold is planned: the decoded-image cache made ready, and samples whose image cannot be read found.

Both run once per run on the main process, the others waiting, so every process sees the same samples.
"""

from __future__ import annotations

import logging

from pcnn_fer.data.cache import DecodedCache
from pcnn_fer.data.checks import unreadable_images
from pcnn_fer.data.sample import SampleSet
from pcnn_fer.engine.config import TrainConfig
from pcnn_fer.engine.distributed import DistContext

log = logging.getLogger(__name__)
SHOWN_SKIPPED = 10


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
