import pytest

from pcnn_fer.data.bad_input import DatasetError
from pcnn_fer.data.datasets import load_dataset
from pcnn_fer.data.labels import FERPLUS_CLASSES
from pcnn_fer.data.sample import Sample, SampleSet
from pcnn_fer.data.subsets import affectnet_list, occlusion_ferplus, occlusion_rafdb, pose_ferplus, pose_rafdb


@pytest.fixture
def raf_test(rafdb_tree):
    # test_0001 surprise (0), test_0002 neutral (6), test_0003 happiness (3), test_0004 anger (5)
    return load_dataset("rafdb", rafdb_tree).where(split="test")


def test_occlusion_rafdb_counts_the_duplicate_once(tmp_path, raf_test, caplog):
    path = tmp_path / "rafdb_occlusion_list.txt"
    path.write_text("test_0001_aligned 0 4\ntest_0003_aligned 3 2\ntest_0003_aligned 3 2\ntest_0004_aligned 5 1\n")
    subset = occlusion_rafdb(path)
    assert len(subset) == 3
    assert subset.notes == ["rafdb_occlusion_list.txt:3: test_0003 is listed twice; counted once"]
    assert "listed twice" in caplog.text
    filtered = subset.apply(raf_test)
    assert [(x.key, x.tags["occlusion"]) for x in filtered] == [("test_0001", "4"), ("test_0003", "2"),
                                                                ("test_0004", "1")]


def test_occlusion_rafdb_conflicting_duplicate_and_one_based_labels(tmp_path, raf_test):
    path = tmp_path / "rafdb_occlusion_list.txt"
    path.write_text("test_0003_aligned 3 2\ntest_0003_aligned 3 4\n")
    with pytest.raises(DatasetError, match=":2: test_0003 listed again"):
        occlusion_rafdb(path)
    path.write_text("test_0001_aligned 1 4\ntest_0002_aligned 7 1\n")  # 1-based labels: the RAF-DB label-file trap
    with pytest.raises(DatasetError, match="label '7' is not in 0-6"):
        occlusion_rafdb(path)
    path.write_text("test_0001_aligned 1 4\n")
    with pytest.raises(DatasetError, match="the list says fear .* rafdb says surprise"):
        occlusion_rafdb(path).apply(raf_test)
    path.write_text("test_0001_aligned 0 4\ntest_0099_aligned 2 1\n")
    subset = occlusion_rafdb(path).apply(raf_test, skip_bad=True)
    assert len(subset) == 1 and "test_0099 is not in the loaded rafdb set" in subset.skipped[0]


def test_pose_rafdb_uses_the_header_line(tmp_path, raf_test):
    names = tmp_path / "val_raf_db_list_45.txt"
    labels = tmp_path / "val_raf_db_label_45.txt"
    names.write_text("6/test_0002_aligned.jpg\n3/test_0003_aligned.jpg\n")
    labels.write_text("2 7\n6\n3\n")
    subset = pose_rafdb(names, labels, "45")
    assert subset.name == "pose45-rafdb"
    assert [(x.key, x.tags["pose"]) for x in subset.apply(raf_test)] == [("test_0002", "45"), ("test_0003", "45")]
    labels.write_text("6\n3\n")  # header missing: the first label would be taken for a header
    with pytest.raises(DatasetError, match="header"):
        pose_rafdb(names, labels, "45")
    labels.write_text("3 7\n6\n3\n")
    with pytest.raises(DatasetError, match="header says 3 images"):
        pose_rafdb(names, labels, "45")
    labels.write_text("2 7\n6\n4\n")
    with pytest.raises(DatasetError, match="folder 3 but"):
        pose_rafdb(names, labels, "45")


def ferplus_set():
    samples = [Sample(f"/x/fer{n:07d}.png", label, f"fer{n:07d}", None, {"split": "test"})
               for n, label in [(32220, 7), (32222, 0), (33359, 2)]]
    return SampleSet("ferplus", FERPLUS_CLASSES, samples)


def test_occlusion_and_pose_ferplus(tmp_path):
    occlusion = tmp_path / "jianfei_occlusion_list.txt"
    occlusion.write_text("7_fer0032220.png 8 3\n2_fer0033359.png 8 2\n")
    tagged = occlusion_ferplus(occlusion).apply(ferplus_set())
    assert [(x.key, x.tags["occlusion"]) for x in tagged] == [("fer0032220", "3"), ("fer0033359", "2")]
    pose = tmp_path / "pose_30_ferplus_list.txt"
    pose.write_text("0/fer0032222.jpg\n7/fer0032220.jpg\n")
    assert [x.key for x in pose_ferplus(pose, "30").apply(ferplus_set())] == ["fer0032222", "fer0032220"]
    occlusion.write_text("fer0032220.png 8 3\n")
    with pytest.raises(DatasetError, match="<label>_ferNNNNNNN.png"):
        occlusion_ferplus(occlusion)
    with pytest.raises(ValueError, match="filters ferplus, not rafdb"):
        pose_ferplus(pose, "30").apply(SampleSet("rafdb", ("a",), []))


def test_affectnet_lists_match_csv_stems(tmp_path):
    stem = "bc9ad400db82eca1882b11c9603348fb3e92f5b0d67391ac22a1bc79"
    samples = [Sample(f"/a/689/{stem}.jpg", 0, f"689/{stem}.jpg", None, {"split": "test"}),
               Sample("/a/7/other.jpg", 7, "7/other.jpg", None, {"split": "test"})]
    test_set = SampleSet("affectnet", tuple(f"c{i}" for i in range(8)), samples)
    path = tmp_path / "occlusion_affectnet_list.txt"
    path.write_text(f"val/0/{stem}/\n")
    filtered = affectnet_list(path, "occlusion", "yes").apply(test_set)
    assert [x.key for x in filtered] == [f"689/{stem}.jpg"]
