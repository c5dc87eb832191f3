"""Expressions of every face in a list of photos and videos, written as records while the run goes on.

One record per face; an input without a face, or one that fails, gets one record saying so and the run goes on
with the next input. This is what `pcnn-fer predict` runs, kept free of the command line so that other front
ends (a server, a notebook) give the same records.
"""

from __future__ import annotations

import glob
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pcnn_fer.data.formats import IMAGE_SUFFIXES
from pcnn_fer.inference.draw import Annotator, VideoSink
from pcnn_fer.inference.recognizer import Recognizer
from pcnn_fer.inference.results import FaceResult, failed
from pcnn_fer.inference.video import VIDEO_SUFFIXES, VideoError, is_video, predict_video, video_info
from pcnn_fer.inference.writers import RecordSink
from pcnn_fer.progress import progress

WEBCAM_PREFIX = "webcam:"  # inputs named webcam:N are camera N


@dataclass(frozen=True)
class PredictOptions:
    """How a run goes through its inputs; the defaults are those of `pcnn-fer predict`."""

    every: int = 1  # videos: process every Nth frame
    batch_size: int = 8  # images (or video frames) that go through the model together
    smooth: float | None = None  # videos: weight of the newest frame in each tracked face's running average
    detect_every: int = 5  # videos: search faces every Nth processed frame, follow them in between (1: every frame)
    detect_side: int | None = 480  # videos: longer side of the frame copy that is searched (None: the full frame)
    realtime: bool = False  # videos: keep up with the source's frame rate, skipping frames (webcams always do)
    show_progress: bool = True  # progress bars on stderr (shown only when it is a terminal)

    def __post_init__(self) -> None:
        if self.every < 1 or self.batch_size < 1 or self.detect_every < 1:
            raise ValueError(f"every, batch_size and detect_every must be at least 1, got {self.every}, "
                             f"{self.batch_size} and {self.detect_every}")
        if self.smooth is not None and not 0 < self.smooth <= 1:
            raise ValueError(f"smooth must lie in (0, 1], got {self.smooth}")


@dataclass
class PredictionSummary:
    """What a run did: inputs processed, inputs that failed, face records written, and video frames skipped to
    keep up with a live source."""

    ok: int = 0
    failed: int = 0
    faces: int = 0
    skipped_frames: int = 0

    def add(self, ok: bool, faces: int) -> None:
        """Count one input: processed or failed, with its number of face records."""
        if ok:
            self.ok += 1
        else:
            self.failed += 1
        self.faces += faces


class PredictionInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped `run_predictions` (the command line makes SIGTERM the same); says how far the run got.

    `summary` counts the inputs done, `current` is the input in progress (None when every input was done),
    `frames` the frames of it processed when it is a video, and `unfinished` the files left under their partial
    names (pcnn_fer.atomic.partial_path): what was written so far, playable and readable, but marked incomplete.
    """

    def __init__(self, summary: PredictionSummary, current: str | None, frames: int | None = None,
                 unfinished: tuple[Path, ...] = ()) -> None:
        super().__init__(f"interrupted in {current}" if current else "interrupted")
        self.summary, self.current, self.frames, self.unfinished = summary, current, frames, unfinished


def expand_inputs(paths: Iterable[str]) -> list[str]:
    """Files as given, folders searched recursively for images and videos, globs expanded (sorted).

    A path that names nothing and matches nothing is kept, so that it is reported as a failed input.
    """
    media = IMAGE_SUFFIXES + VIDEO_SUFFIXES
    found: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += [str(p) for p in sorted(path.rglob("*")) if p.is_file() and p.suffix.lower() in media]
        elif not path.exists() and glob.has_magic(raw):
            found += sorted(p for p in glob.glob(raw, recursive=True) if Path(p).is_file()) or [raw]
        else:
            found.append(raw)
    return list(dict.fromkeys(found))


def run_predictions(recognizer: Recognizer, inputs: Sequence[str], writer: RecordSink,
                    annotator: Annotator | None = None,
                    options: PredictOptions = PredictOptions()) -> PredictionSummary:
    """Write the records of every input (images and videos, told apart by suffix; `webcam_input(N)` for camera N)
    in their order.

    With an `annotator`, annotated copies are written too, with Grad-CAM when it explains. Unreadable inputs
    are failures of their own and never stop the run. Ctrl-C raises PredictionInterrupted, which says how far the
    run got (a webcam's Ctrl-C only ends the webcam).
    """
    summary = PredictionSummary()
    bar = progress(None, len(inputs), enabled=options.show_progress, unit="input")
    explain = annotator is not None and annotator.explain
    pending: list[str] = []

    def flush() -> None:
        # Each image is decoded once: the same pixels go to the recognizer and to the annotator.
        loaded = recognizer.decode_each(pending, names=pending)
        faces_of = recognizer.predict_batch(loaded, names=pending, explain=explain)  # error records pass through
        for path, item, faces in zip(pending, loaded, faces_of):
            summary.add(*_write_input(writer, path, faces))
            if annotator is not None and not failed(faces):
                annotator.image(path, item, faces)
            bar.update(1)
        pending.clear()

    try:
        # Consecutive images are batched together; output follows the order of the inputs.
        for path in inputs:
            if not (is_video(path) or path.startswith(WEBCAM_PREFIX)):
                pending.append(path)
                if len(pending) == options.batch_size:
                    flush()
                continue
            flush()
            bar.set_postfix_str(Path(path).name)
            _predict_video(recognizer, path, writer, annotator, options, summary)
            bar.update(1)
        flush()
    except PredictionInterrupted:
        raise
    except KeyboardInterrupt as interrupt:
        # Inputs are done in their order and each is counted once: the one in progress follows those counted.
        done = summary.ok + summary.failed
        raise PredictionInterrupted(summary, inputs[done] if done < len(inputs) else None) from interrupt
    finally:
        bar.close()
    return summary


def webcam_input(index: int) -> str:
    """The input name of webcam `index`, as records and `run_predictions` know it."""
    return f"{WEBCAM_PREFIX}{index}"


def _video_source(path: str) -> str | int:
    """A file path, or the camera index of a webcam input."""
    return int(path.removeprefix(WEBCAM_PREFIX)) if path.startswith(WEBCAM_PREFIX) else path


def _predict_video(recognizer: Recognizer, path: str, writer: RecordSink, annotator: Annotator | None,
                   options: PredictOptions, summary: PredictionSummary) -> None:
    """Write the records of one video's processed frames and count the video in `summary`."""
    faces = written = skipped = processed = 0
    sink: VideoSink | None = None
    frame_bar = frames = None
    complete = False  # read to its end (a webcam: until stopped), so that its annotated copy is whole
    source = _video_source(path)
    try:
        info = video_info(source)
        count = info.frame_count if not isinstance(source, int) else 0
        frame_bar = progress(None, -(-count // options.every) if count else None, Path(path).name,
                             enabled=options.show_progress, unit="frame")
        frames = predict_video(recognizer, source, every=options.every, batch_frames=options.batch_size,
                               smoothing=options.smooth, explain=annotator is not None and annotator.explain,
                               keep_frames=annotator is not None, name=path, detect_every=options.detect_every,
                               detect_side=options.detect_side, realtime=options.realtime)
        for frame in frames:
            if frame.faces:
                faces += sum(record.is_face for record in frame.faces)
                written += len(frame.faces)
                writer.write(frame.faces)
            if annotator is not None:
                if sink is None:
                    sink = annotator.video(path, info.fps / options.every, frame.image.shape)
                sink.write(frame.image, frame.faces)
            processed += 1
            skipped += frame.skipped
            frame_bar.update(frame.skipped + 1)
            if skipped:
                frame_bar.set_postfix_str(f"{skipped} skipped to keep up")
        complete = True
    except (VideoError, OSError) as error:
        # Records already written for earlier frames stay; the video counts as failed. Anything else is a bug
        # and stops the run with its traceback.
        summary.add(*_write_input(writer, path, [FaceResult.failure(path, str(error))]))
        summary.skipped_frames += skipped
        return
    except KeyboardInterrupt as interrupt:
        if not isinstance(source, int):  # a file stopped early is an interruption
            raise PredictionInterrupted(summary, path, processed,
                                        (sink.partial,) if sink is not None else ()) from interrupt
        complete = True  # a webcam runs until it is stopped
    finally:
        if frames is not None:
            frames.close()  # stops the frame reader at once, also when the run is interrupted
        if frame_bar is not None:
            frame_bar.close()
        if sink is not None:
            sink.close(complete)
    # A video without a single face gets one 'no_face' record, like an image without one.
    if not written:
        writer.write([FaceResult.no_face(path)])
    summary.add(True, faces)
    summary.skipped_frames += skipped


def _write_input(writer: RecordSink, path: str, faces: list[FaceResult]) -> tuple[bool, int]:
    """Write an image's records (one 'no_face' record when it has none); (processed ok, face count)."""
    writer.write(faces or [FaceResult.no_face(path)])
    return (False, 0) if failed(faces) else (True, len(faces))
