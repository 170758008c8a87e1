"""Object detection and instance segmentation, the task of the image+instances families (fractaldb-scenes):
torchvision's Faster R-CNN and Mask R-CNN with an FPN over a timm backbone, pre-trained whole on
formula scenes or from a classification backbone, fine-tuned on COCO JSON or YOLO folders, scored by
COCO's box and mask AP (pycocotools).

Modules: :mod:`.config` and :mod:`.presets`, :mod:`.models` (the detector over timm, init from fdsl
weights), :mod:`.data`, :mod:`.objective` (the detector's losses, COCO scores over ranks),
:mod:`.weights` (init, config.json, evaluation, detections) and :mod:`.card`.

Alone, or under torchrun (every rank renders its own share of each epoch)::

    fdsl pretrain --family fractaldb-scenes --preset cpu-small -o runs/scenes
    fdsl finetune --task detection --init runs/scenes --classes person -o runs/coco128-person
    fdsl evaluate --task detection runs/coco128-person/best --dataset ../shared/data/coco128
"""
from __future__ import annotations

from fdsl.tasks import PRETRAIN, Task, lazy, register_task
from fdsl.tasks.detection.config import DetectionEvalDataConfig, DetFinetuneConfig, DetPretrainConfig

PACKAGE = "fdsl.tasks.detection"
LOSS_TERMS = ("loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg", "loss_mask")
METRICS = tuple(f"{prefix}_{score}" for prefix in ("box", "mask")
                for score in ("ap", "ap50", "ap75", "ap_small", "ap_medium", "ap_large"))


def collate(batch):
    """Lists of images and targets (:func:`fdsl.data.detection_dataset.collate_detection`), imported
    when the first batch is made."""
    from fdsl.data.detection_dataset import collate_detection

    return collate_detection(batch)


@register_task("detection")
class Detection(Task):
    pretrain_config = DetPretrainConfig
    finetune_config = DetFinetuneConfig
    evaluation_data = DetectionEvalDataConfig
    eval_batch_size = 4
    metrics = METRICS
    loss_terms = LOSS_TERMS
    unit = "images"
    pipeline_tag = "object-detection"
    collate = staticmethod(collate)

    def presets(self, phase):
        from fdsl.tasks.detection.presets import FINETUNE_PRESETS, PRETRAIN_PRESETS

        return PRETRAIN_PRESETS if phase == PRETRAIN else FINETUNE_PRESETS

    resolve_init = lazy(f"{PACKAGE}.weights", "resolve_init")
    datasets = lazy(f"{PACKAGE}.data", "datasets")
    build_model = lazy(f"{PACKAGE}.weights", "build_model")
    train_step = lazy(f"{PACKAGE}.objective", "train_step")
    evaluate = lazy(f"{PACKAGE}.objective", "evaluate")
    write_weights_config = lazy(f"{PACKAGE}.weights", "write_weights_config")
    model_card = lazy(f"{PACKAGE}.card", "model_card")
    load_model = lazy(f"{PACKAGE}.weights", "load_model")
    evaluation_dataset = lazy(f"{PACKAGE}.weights", "evaluation_dataset")
    draw_predictions = lazy("fdsl.viz.detection", "save_prediction_grid")
