import pytest
import torch
from shapes import CLASSES, write_shapes_tree

from pcnn_fer.engine.evaluate import EvalOptions
from pcnn_fer.engine.run_eval import ROW_COLUMNS, EvalRequest, evaluate_run
from pcnn_fer.models import create_model

OPTIONS = EvalOptions(batch_size=4, show_progress=False)


@pytest.fixture(scope="module")
def model_and_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("run_eval")
    data = write_shapes_tree(root / "data", train_per_class=1, test_per_class=2, size=32)
    torch.manual_seed(0)
    return create_model("pcnn_mbv2", class_names=CLASSES, input_size=32).save_pretrained(root / "model"), data


def test_a_model_directory_is_scored_as_a_library_call(model_and_data, tmp_path):
    model, data = model_and_data
    evaluation = evaluate_run(EvalRequest(model=model, dataset="folder", data_root=data, output=tmp_path), OPTIONS)
    (row,) = evaluation.rows
    assert set(row) == set(ROW_COLUMNS) and (row["fold"], row["set"], row["head"], row["count"]) == \
        ("-", "test", "main", 6)
    assert evaluation.notes == [] and evaluation.across_folds() == {} and evaluation.output == tmp_path
    assert (tmp_path / "test.json").is_file()


def test_the_default_output_folder_sits_in_the_model_directory(model_and_data):
    model, data = model_and_data
    assert EvalRequest(model=model, dataset="folder", data_root=data, split="all").output_dir == \
        model / "eval-folder-all"


def test_a_split_the_dataset_lacks_names_the_splits_it_has(model_and_data, tmp_path):
    model, data = model_and_data
    request = EvalRequest(model=model, dataset="folder", data_root=data, split="val", output=tmp_path)
    with pytest.raises(ValueError, match=r"has no 'val' split \(it has train, test\); use --split all"):
        evaluate_run(request, OPTIONS)
