"""Timelines of tracked people from video records, and what each adds up to."""

from __future__ import annotations

import numpy as np
import pytest

from pcnn_fer.report.timeline import timelines


def test_each_tracked_person_of_each_video_gets_a_timeline(video_records):
    found = timelines(r.to_dict() for r in video_records)
    assert [(t.input, t.track, len(t.times)) for t in found] == [("clip.mp4", 0, 10), ("clip.mp4", 1, 7),
                                                                 ("other.mp4", 0, 5)]
    first = found[0]
    assert first.class_names == ("neutral", "happiness", "surprise")
    assert first.step == pytest.approx(0.1) and first.duration == pytest.approx(1.0)
    assert first.labels.tolist() == [0] * 4 + [1] * 6
    assert np.allclose(first.probabilities[0], [0.8, 0.1, 0.1])


def test_the_summary_gives_share_of_time_mean_probability_and_longest_spell(video_records):
    first, second, _ = timelines(r.to_dict() for r in video_records)
    rows = {row["expression"]: row for row in first.summary()}
    assert rows["neutral"]["share_of_time"] == pytest.approx(0.4)
    assert rows["happiness"]["share_of_time"] == pytest.approx(0.6)
    assert rows["happiness"]["mean_probability"] == pytest.approx(0.6 * 0.8 + 0.4 * 0.1)
    assert (rows["happiness"]["longest_spell_s"], rows["happiness"]["longest_spell_start_s"]) == \
        pytest.approx((0.6, 0.4))
    assert rows["surprise"]["longest_spell_s"] == 0 and rows["surprise"]["longest_spell_start_s"] is None
    # Person 1 leaves the view between frames 2 and 6: two spells, the longer one 0.4 s from 0.6 s.
    assert [(label, round(start, 3), round(end, 3)) for label, start, end in second.spells()] == \
        [(2, 0.0, 0.3), (2, 0.6, 1.0)]
    assert {row["expression"]: row["longest_spell_s"] for row in second.summary()}["surprise"] == pytest.approx(0.4)


def test_photos_empty_frames_and_failures_give_no_timeline(video_records):
    assert timelines(r.to_dict() for r in video_records[-3:]) == []
