"""Video training recipes by name: small ones for a 2-core CPU (UD810's 27 clips), and a GPU-scale
pair. Each docstring says where its figures come from; what no paper gives is ours.

What the paper does, and what we do: Kataoka et al., WACV 2022 initialise 3D ResNets (18 to 152) and
(2+1)D ResNets on Video Perlin Noise, then pre-train on Kinetics and fine-tune on UCF101, HMDB51 or
ActivityNet; clip length, size and the VPN grid are unpublished. Here VPN pre-training is followed
directly by fine-tuning (there is no Kinetics on this machine), and the CPU recipes use a narrow
3D ResNet-18 at 64 px.
"""
from __future__ import annotations

import copy
from collections.abc import Callable

from fdsl.tasks.video.config import (ClipConfig, VideoFinetuneConfig, VideoFolderConfig, VideoFormulaDataConfig,
                                     VideoModelConfig, VideoPretrainConfig)
from fdsl.train.config import OptimConfig, TrainConfig

#: The narrow 3D ResNet-18 of the CPU recipes: a quarter of torchvision's stage widths, timm's 64-wide
#: 7 x 7 stem (so timm's resnet18 with ``channels=[16, 32, 64, 128]`` inflates into it) and the 2-D
#: ResNet's max-pool after it; 2.1M parameters, about 0.12-0.25 s per training clip of 16 x 64 x 64 on
#: one shared core.
CPU_R3D = {"widths": [16, 32, 64, 128], "stem_width": 64, "stem_pool": True}
#: UD810's file names ``PS7A<a>P<p>T<t>.avi``: the person is the group held out (leave-one-person-out).
UD810_PERSON = r"P(\d+)"


def cpu_model() -> VideoModelConfig:
    return VideoModelConfig(name="r3d_18", kwargs=copy.deepcopy(CPU_R3D))


def cpu_optim(lr: float) -> OptimConfig:
    return OptimConfig(opt="adamw", lr=lr, weight_decay=0.05, sched="cosine", warmup_epochs=1, warmup_lr=1e-5,
                       min_lr=1e-5, clip_grad=1.0)


def cpu_small_pretrain() -> VideoPretrainConfig:
    """Minutes on a 2-core CPU: Video Perlin Noise, the low-frequency variant (the paper's better one),
    64 categories x 30 instances of 8 frames at 64 px on the fly (2 more held out), the narrow
    3D ResNet-18. The category is the noise's frequency per frame side and per clip, so the clip is
    not cropped (a zoom would change its spatial frequency) or cut in time; only flipped. 8 frames,
    not 16: a clip trains in half the time (about 75 against 160 ms on one core), and the temporal
    frequencies are per clip, so 8 frames show the motion of 16 at half the frame rate. One torch
    thread and no loader worker: a clip renders in a few ms."""
    return VideoPretrainConfig(
        model=cpu_model(),
        data=VideoFormulaDataConfig(family="vpn", formula={"size": 64, "frames": 8, "variant": "low"},
                                    categories=64, instances=30, val_instances=2),
        augment=ClipConfig(frames=8, stride=1, size=64, resize=64, scale=(1.0, 1.0), ratio=(1.0, 1.0), hflip=0.5,
                           label_smoothing=0.1),
        optim=cpu_optim(1e-3),
        train=TrainConfig(epochs=6, batch_size=16, workers=0, threads=1, log_interval=20),
    )


def cpu_small_finetune() -> VideoFinetuneConfig:
    """Minutes on a 2-core CPU: UD810's 27 clips (``../shared/data/ud810-actions``), person 1 held out
    (one fold of leave-one-person-out: 18 clips train, 9 validate; ``--test-group 2`` or ``3`` for the
    others); 8 frames 8 apart (57 frames: the shortest clip has 61, and a gesture takes the whole clip)
    at 64 px from frames decoded at 80 px, random resized crops (area 0.5-1) and flips; AdamW lr 1e-3,
    batch 6, 30 epochs, scored every epoch. About 75 ms per training clip on one core: 18 clips, 1.5 s an
    epoch alone, 3 to 7 s on the shared machine."""
    return VideoFinetuneConfig(
        model=cpu_model(),
        data=VideoFolderConfig(dataset="../shared/data/ud810-actions", group=UD810_PERSON, test_group="1"),
        augment=ClipConfig(frames=8, stride=8, size=64, resize=80, scale=(0.5, 1.0), hflip=0.5),
        optim=cpu_optim(1e-3),
        train=TrainConfig(epochs=30, batch_size=6, workers=0, threads=1, log_interval=20),
    )


def vpn_r3d_18_pretrain() -> VideoPretrainConfig:
    """For a GPU: torchvision's full-width r3d_18 on VPN-low at 112 px and 16 frames (Hara et al.'s
    3D-ResNets-PyTorch input), SGD lr 0.1, momentum 0.9, weight decay 1e-3 (their defaults), batch 128
    per process; 64 categories x 1,000 instances, 100 epochs with a cosine schedule (ours)."""
    return VideoPretrainConfig(
        model=VideoModelConfig(name="r3d_18"),
        data=VideoFormulaDataConfig(family="vpn", formula={"size": 112, "frames": 16, "variant": "low"},
                                    categories=64, instances=1000, val_instances=10),
        augment=ClipConfig(frames=16, stride=1, size=112, resize=112, scale=(1.0, 1.0), ratio=(1.0, 1.0)),
        optim=OptimConfig(opt="sgd", lr=0.1, momentum=0.9, weight_decay=1e-3, sched="cosine", warmup_epochs=2),
        train=TrainConfig(epochs=100, batch_size=128, workers=8),
    )


def ucf101_r3d_18_finetune() -> VideoFinetuneConfig:
    """For a GPU: UCF101 split 1 (``data.dataset`` the UCF-101 folder, ``data.split_dir`` its
    ucfTrainTestlist), videos decoded when drawn; 16 consecutive frames at 112 px from frames decoded
    at 128 px (torchvision's video reference: 128 x 171, crops of 112); SGD lr 0.01, momentum 0.9,
    weight decay 1e-3, batch 32, 30 epochs, cosine (ours)."""
    return VideoFinetuneConfig(
        model=VideoModelConfig(name="r3d_18"),
        data=VideoFolderConfig(dataset="UCF-101", split_dir="ucfTrainTestlist", split=1, in_memory=False),
        augment=ClipConfig(frames=16, stride=1, size=112, resize=128, scale=(0.5, 1.0)),
        optim=OptimConfig(opt="sgd", lr=0.01, momentum=0.9, weight_decay=1e-3, sched="cosine", warmup_epochs=1),
        train=TrainConfig(epochs=30, batch_size=32, workers=8, eval_interval=5),
    )


PRETRAIN_PRESETS: dict[str, Callable[[], VideoPretrainConfig]] = {
    "cpu-small": cpu_small_pretrain,
    "vpn-r3d-18": vpn_r3d_18_pretrain,
}
FINETUNE_PRESETS: dict[str, Callable[[], VideoFinetuneConfig]] = {
    "cpu-small": cpu_small_finetune,
    "ucf101-r3d-18": ucf101_r3d_18_finetune,
}
