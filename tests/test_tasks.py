"""The task registry: sample kinds pick tasks, objectives name the scores that metrics.csv carries."""
import pytest

from fdsl.errors import FdslError
from fdsl.tasks import get_task, metric_label, task_of_family
from fdsl.train.trainer import FitResult, metric_columns, primary_column


def test_image_families_are_learned_by_classification():
    assert task_of_family("fractaldb").name == "classification"
    assert task_of_family("perlin") is get_task("classification")


def test_unknown_task_and_family_are_one_line_errors():
    with pytest.raises(FdslError, match="unknown task 'regression'; valid: classification"):
        get_task("regression")
    with pytest.raises(FdslError, match="unknown formula family 'mandelbrot'; valid: bezier"):
        task_of_family("mandelbrot")


def test_unknown_preset_names_the_valid_ones():
    with pytest.raises(FdslError, match="unknown classification fine-tuning preset 'x'; valid: .*cpu-small"):
        get_task("classification").preset("finetune", "x")


def test_metrics_csv_names_its_primary_score_first(tmp_path):
    columns = metric_columns(get_task("classification"))
    assert columns[:5] == ("epoch", "train_loss", "val_loss", "val_top1", "val_top5")
    assert primary_column(list(columns)) == "val_top1"
    assert primary_column(["epoch", "train_loss", "val_loss", "val_miou", "val_pixel_acc", "lr"]) == "val_miou"
    (tmp_path / "metrics.csv").write_text("epoch,train_loss,val_loss,val_miou,lr,images_per_s,epoch_s\n"
                                          "1,2.0,1.5,30.0,0.1,10,1\n2,1.0,1.2,25.0,0.1,10,1\n")
    result = FitResult.read(tmp_path)
    assert result.primary == "val_miou" and result.best["epoch"] == 1


def test_metric_labels():
    assert metric_label("val_top1") == "top-1" and metric_label("miou") == "mIoU" and metric_label("odd") == "odd"
