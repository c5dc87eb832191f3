"""Challenge subsets by name: specs checked before anything loads, and the published FERPlus lists on the real
files (sizes, membership in FERPlus Test, labels equal to the 2016 label.csv majority, the reason their rows read
FERPlus with votes=label_csv)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pcnn_fer.data.datasets import load_dataset
from pcnn_fer.data.protocols import official_split
from pcnn_fer.engine.challenge_subsets import read_subset

LISTS = {  # subset name -> (list file under challenge_lists/, published size)
    "occlusion-ferplus": ("ferplus/jianfei_occlusion_list.txt", 605),
    "pose30-ferplus": ("ferplus/pose_30_ferplus_list.txt", 1170),
    "pose45-ferplus": ("ferplus/pose_45_ferplus_list.txt", 633),
}


@pytest.fixture(scope="module")
def challenge_lists(shared_data: Path) -> Path:
    folder = shared_data / "challenge_lists"
    if not folder.is_dir():
        pytest.fail(f"{folder} is missing from the real benchmark data")
    return folder


@pytest.fixture(scope="module")
def ferplus_tests(shared_ferplus: Path) -> dict[str, object]:
    """FERPlus Test under the label.csv and the fer2013new.csv majority."""
    return {votes: official_split(load_dataset("ferplus", shared_ferplus, votes=votes))["test"]
            for votes in ("label_csv", "fer2013new")}


@pytest.mark.parametrize("name", list(LISTS))
def test_each_list_names_its_published_count_of_ferplus_test_faces_with_label_csv_labels(
        name, challenge_lists, ferplus_tests, shared_ferplus):
    file, size = LISTS[name]
    _, subset = read_subset(f"{name}={challenge_lists / file}")
    assert len(subset) == size
    on_disk = {p.stem for p in (shared_ferplus / "FER2013Test").glob("*.png")}
    assert set(subset.entries) <= on_disk
    kept = subset.apply(ferplus_tests["label_csv"])  # raises on any missing face or disagreeing label
    assert len(kept) == size and not kept.skipped


def test_the_newer_votes_disagree_with_a_few_list_labels(challenge_lists, ferplus_tests):
    """Under the fer2013new.csv majority, 8 of the occlusion list's faces get another label and 5 have no majority
    at all, so the newer votes cannot score these rows."""
    _, subset = read_subset(f"occlusion-ferplus={challenge_lists / LISTS['occlusion-ferplus'][0]}")
    kept = subset.apply(ferplus_tests["fer2013new"], skip_bad=True)
    disagreeing = [message for message in kept.skipped if "the list says" in message]
    missing = [message for message in kept.skipped if "is not in the loaded" in message]
    assert (len(disagreeing), len(missing), len(kept)) == (8, 5, 592)


def test_pose45_is_a_subset_of_pose30(challenge_lists):
    _, pose30 = read_subset(f"pose30-ferplus={challenge_lists / LISTS['pose30-ferplus'][0]}")
    _, pose45 = read_subset(f"pose45-ferplus={challenge_lists / LISTS['pose45-ferplus'][0]}")
    assert set(pose45.entries) <= set(pose30.entries)


def test_a_subset_spec_names_the_subsets_there_are(tmp_path):
    with pytest.raises(ValueError, match="NAME one of occlusion-rafdb, pose30-rafdb"):
        read_subset("occlusion=list.txt")
    with pytest.raises(ValueError, match="pose30-rafdb takes 2 file"):
        read_subset(f"pose30-rafdb={tmp_path / 'list.txt'}")
