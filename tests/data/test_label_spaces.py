import numpy as np
import pytest

from pcnn_fer.data.labels import (
    CANONICAL_CLASSES,
    NATIVE_CLASSES,
    canonical_name,
    class_order,
    label_mapping,
    relabel,
    remap_labels,
)
from pcnn_fer.data.sample import Sample, SampleSet


def test_every_native_order_uses_canonical_names_once():
    for name, classes in NATIVE_CLASSES.items():
        assert len(set(classes)) == len(classes), name
        assert set(classes) <= set(CANONICAL_CLASSES), name


def test_native_orders_as_published():
    assert NATIVE_CLASSES["rafdb"][0] == "surprise" and NATIVE_CLASSES["rafdb"][6] == "neutral"
    assert NATIVE_CLASSES["fer2013"][0] == "anger" and NATIVE_CLASSES["fer2013"][3] == "happiness"
    assert NATIVE_CLASSES["ferplus"][7] == "contempt" and NATIVE_CLASSES["ferplus"][2] == "surprise"
    assert NATIVE_CLASSES["ckplus"][2] == "contempt" and NATIVE_CLASSES["ckplus"][7] == "surprise"
    assert NATIVE_CLASSES["affectnet"] == CANONICAL_CLASSES


def test_remap_between_orders():
    # RAF-DB surprise (0), neutral (6), anger (5) -> FER2013 surprise (5), neutral (6), anger (0)
    out = remap_labels([0, 6, 5], NATIVE_CLASSES["rafdb"], NATIVE_CLASSES["fer2013"])
    np.testing.assert_array_equal(out, [5, 6, 0])
    back = remap_labels(out, NATIVE_CLASSES["fer2013"], NATIVE_CLASSES["rafdb"])
    np.testing.assert_array_equal(back, [0, 6, 5])


def test_missing_class_in_target_is_an_error():
    with pytest.raises(ValueError, match="contempt"):
        label_mapping(NATIVE_CLASSES["ferplus"], NATIVE_CLASSES["rafdb"])
    with pytest.raises(ValueError, match="out of range"):
        remap_labels([7], NATIVE_CLASSES["rafdb"], NATIVE_CLASSES["ferplus"])


def test_spellings():
    assert canonical_name("Happy") == "happiness"
    assert canonical_name(" ANGRY ") == "anger"
    assert canonical_name("SU") == "surprise"
    with pytest.raises(ValueError, match="unknown expression"):
        canonical_name("bored")


def test_class_order_from_a_dataset_name_or_a_list():
    assert class_order(" RAFDB ") == NATIVE_CLASSES["rafdb"]
    assert class_order("Happy, sad ,pain") == ("happiness", "sadness", "pain")
    for spec in ("happiness", "a,,b", ""):
        with pytest.raises(ValueError, match=r"^--classes: expected a dataset name .* at least two names"):
            class_order(spec, "--classes")
    with pytest.raises(ValueError, match="happiness listed twice"):
        class_order("happy,sad,happiness")


def test_relabel_sample_sets():
    ferplus = NATIVE_CLASSES["ferplus"]
    samples = [Sample("/a", 7, "a"), Sample("/b", 1, "b"), Sample("/c", (0.5, 0, 0, 0, 0, 0, 0, 0.5), "c"),
               Sample("/d", (0,) * 7 + (1.0,), "d")]
    s = SampleSet("ferplus", ferplus, samples)
    with pytest.raises(ValueError, match="contempt"):
        relabel(s, NATIVE_CLASSES["rafdb"])
    out = relabel(s, NATIVE_CLASSES["rafdb"], drop_missing=True)
    assert [x.key for x in out] == ["b", "c"]
    assert out.samples[0].label == NATIVE_CLASSES["rafdb"].index("happiness")
    assert out.samples[1].label[NATIVE_CLASSES["rafdb"].index("neutral")] == 1.0
    back = relabel(out, ferplus)
    assert back.samples[0].label == 1 and back.class_names == ferplus
