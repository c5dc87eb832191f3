"""Tasks of a corpus: videos alone and largest first, photos in batches, inputs already done left out."""

from __future__ import annotations

import pytest

from pcnn_fer.cluster.plan import Task, plan_tasks


def test_videos_come_first_largest_first_then_photos_in_batches(tmp_path):
    small, large = tmp_path / "small.mp4", tmp_path / "large.mov"
    small.write_bytes(b"x" * 10)
    large.write_bytes(b"x" * 1000)
    photos = [f"p{i}.jpg" for i in range(5)]
    tasks = plan_tasks([photos[0], str(small), *photos[1:], str(large)], photos_per_task=2)
    assert [task.inputs for task in tasks] == [(str(large),), (str(small),), ("p0.jpg", "p1.jpg"),
                                               ("p2.jpg", "p3.jpg"), ("p4.jpg",)]


def test_inputs_done_are_left_out_and_repeats_count_once():
    tasks = plan_tasks(["a.jpg", "b.jpg", "a.jpg", "c.png"], done={"b.jpg"}, photos_per_task=10)
    assert [task.inputs for task in tasks] == [("a.jpg", "c.png")]
    assert plan_tasks(["a.jpg"], done={"a.jpg"}) == []


def test_a_task_is_named_by_its_inputs_alone():
    assert Task(("a.jpg", "b.jpg")).id == Task(("a.jpg", "b.jpg")).id != Task(("b.jpg", "a.jpg")).id
    assert len(Task(("a.jpg",)).id) == 16


def test_webcams_and_empty_batches_are_refused():
    with pytest.raises(ValueError, match="webcam"):
        plan_tasks(["webcam:0"])
    with pytest.raises(ValueError, match="photos_per_task"):
        plan_tasks(["a.jpg"], photos_per_task=0)
