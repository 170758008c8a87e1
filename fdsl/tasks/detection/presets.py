"""Detection recipes by name: small ones for a CPU (ours), and a ResNet-50 FPN Mask R-CNN at 800 px for
GPUs (torchvision's references/detection recipe).

Sources: torchvision ``references/detection/README.md`` (``maskrcnn_resnet50_fpn``: SGD lr 0.02 for 16
images, momentum 0.9, weight decay 1e-4, 26 epochs, x0.1 at 16 and 22, linear warm-up, images
resized to a shorter side of 800 px, at most 1,333, horizontal flips) and the detectors' defaults
(He et al., "Mask R-CNN", ICCV 2017; Lin et al., "Feature Pyramid Networks", CVPR 2017). The CVPR 2022
ExFractalDB/RCDB table (``../shared/reference/FORMULAS.md``) fine-tunes on COCO, but its detector and
backbone are not in our references: the paper-like presets are torchvision's recipe, not that table's.
"""
from __future__ import annotations

from collections.abc import Callable

from fdsl.data.config import DetectionDataConfig
from fdsl.tasks.detection.config import DetAugmentConfig, DetFinetuneConfig, DetFormulaDataConfig, DetModelConfig, \
    DetPretrainConfig
from fdsl.train.config import OptimConfig, TrainConfig

#: The longer image side of the CPU recipes (COCO128's photos are 640 px at most).
CPU_SIZE = 256
#: The narrow timm ResNet-18 of the CPU recipes (the segmentation cpu-small encoder's widths):
#: pre-train a classifier with these kwargs for its backbone to load.
CPU_BACKBONE = {"channels": [16, 32, 64, 128], "stem_width": 16}
#: Fewer proposals and sampled RoIs than torchvision's defaults (2000/1000 proposals, 512 RoIs):
#: scenes and COCO128 images hold a few to a few tens of objects.
CPU_DETECTOR = {"rpn_pre_nms_top_n_train": 600, "rpn_post_nms_top_n_train": 300, "rpn_pre_nms_top_n_test": 300,
                "rpn_post_nms_top_n_test": 150, "box_batch_size_per_image": 64}


def cpu_model() -> DetModelConfig:
    """Faster R-CNN with a 64-channel FPN over the narrow ResNet-18, a 256-wide box head (and a 64-wide
    mask head with ``--model mask_rcnn``), anchors 16-256 px for 256 px inputs, the input at the data's
    fixed size."""
    return DetModelConfig(name="faster_rcnn", backbone="resnet18", backbone_kwargs=dict(CPU_BACKBONE),
                          fpn_channels=64, representation_size=256, mask_channels=64,
                          anchor_sizes=(16, 32, 64, 128, 256), min_size=None, max_size=None,
                          detector_kwargs=dict(CPU_DETECTOR))


def cpu_optim() -> OptimConfig:
    return OptimConfig(opt="adamw", lr=1e-3, weight_decay=0.05, sched="cosine", warmup_epochs=1, warmup_lr=1e-5,
                       min_lr=1e-5, clip_grad=5.0)


def cpu_small_pretrain() -> DetPretrainConfig:
    """fractaldb-scenes on the fly at 256 px: 2-8 objects of FractalDB's 100 categories of the seed
    (searched at 128 px, as the classification cpu-small FractalDB), 1,000 scenes per epoch and 50
    held out, the whole detector trained; one torch thread and one loader worker per process."""
    return DetPretrainConfig(
        model=cpu_model(),
        data=DetFormulaDataConfig(family="fractaldb-scenes", formula={"size": CPU_SIZE, "classes": 100,
                                                                      "search_size": 128, "search_points": 10000},
                                  categories=1, instances=1000, val_instances=50),
        augment=DetAugmentConfig(hflip=0.5),
        optim=cpu_optim(),
        train=TrainConfig(epochs=8, batch_size=4, workers=1, threads=1, log_interval=50, eval_interval=2),
    )


def cpu_small_finetune() -> DetFinetuneConfig:
    """COCO128's boxes (``../shared/data/coco128``, 80 classes, its two orphan label files skipped), every
    fifth image held out (26 of 128), at 256 px, flips, AdamW lr 1e-3 with a cosine after one warm-up
    epoch, batch 4; scored every 2 epochs and after the last."""
    return DetFinetuneConfig(
        model=cpu_model(),
        data=DetectionDataConfig(dataset="../shared/data/coco128", labels="boxes", holdout=0.2, orphan_labels="skip",
                                 image_size=CPU_SIZE),
        augment=DetAugmentConfig(hflip=0.5),
        optim=cpu_optim(),
        train=TrainConfig(epochs=12, batch_size=4, workers=1, threads=1, log_interval=50, eval_interval=2),
    )


def r50_fpn(name: str) -> DetModelConfig:
    """torchvision's ``maskrcnn_resnet50_fpn`` / ``fasterrcnn_resnet50_fpn``: a timm ResNet-50 here."""
    return DetModelConfig(name=name, backbone="resnet50", min_size=800, max_size=1333)


def paper_optim(milestones: tuple[int, ...]) -> OptimConfig:
    """SGD 0.02 for 16 images (scaled by the global batch), momentum 0.9, weight decay 1e-4, x0.1 at the
    milestones; torchvision warms up over 1,000 iterations, here over the first epoch."""
    return OptimConfig(opt="sgd", lr=0.02, lr_base_batch=16, weight_decay=1e-4, momentum=0.9, sched="multistep",
                       decay_milestones=milestones, decay_rate=0.1, warmup_epochs=1, warmup_lr=2e-5, min_lr=0.0)


def coco_mask_rcnn_r50_fpn() -> DetFinetuneConfig:
    """torchvision's Mask R-CNN recipe (module docstring): 26 epochs of COCO train2017 with masks at 800 px,
    2 images per GPU. fdsl holds out a share of the one annotation file instead of reading val2017: 5%
    (about 5,900 images, val2017 has 5,000). Point ``data.dataset`` at ``instances_train2017.json``."""
    return DetFinetuneConfig(
        model=r50_fpn("mask_rcnn"),
        data=DetectionDataConfig(dataset="coco/annotations/instances_train2017.json", labels="masks", holdout=0.05),
        augment=DetAugmentConfig(hflip=0.5),
        optim=paper_optim((16, 22)),
        train=TrainConfig(epochs=26, batch_size=2, workers=4, log_interval=200),
    )


def scenes_mask_rcnn_r50_fpn() -> DetPretrainConfig:
    """Ours (no paper pre-trains a detector on formula scenes): the whole Mask R-CNN R50-FPN on 20,000
    fractaldb-scenes at their 512 px (objects of FractalDB's 100 categories), 12 epochs (the "1x"
    schedule: x0.1 at 8 and 11), torchvision's optimiser, 500 scenes held out."""
    model = r50_fpn("mask_rcnn")
    model.min_size = model.max_size = None
    return DetPretrainConfig(
        model=model,
        data=DetFormulaDataConfig(family="fractaldb-scenes", categories=1, instances=20000, val_instances=500),
        augment=DetAugmentConfig(hflip=0.5),
        optim=paper_optim((8, 11)),
        train=TrainConfig(epochs=12, batch_size=2, workers=4, log_interval=200),
    )


PRETRAIN_PRESETS: dict[str, Callable[[], DetPretrainConfig]] = {
    "cpu-small": cpu_small_pretrain,
    "scenes-mask-rcnn-r50-fpn": scenes_mask_rcnn_r50_fpn,
}
FINETUNE_PRESETS: dict[str, Callable[[], DetFinetuneConfig]] = {
    "cpu-small": cpu_small_finetune,
    "coco-mask-rcnn-r50-fpn": coco_mask_rcnn_r50_fpn,
}
