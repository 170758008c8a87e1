"""Video classification, the task of the clip families (Video Perlin Noise): torchvision's video ResNets
(R3D, MC3, R(2+1)D at any depth and width) pre-trained on formula clips, or inflated from a 2-D ResNet
pre-trained on formula images, and fine-tuned on folders of real videos, scored by top-1 and mean class
accuracy.

Modules: :mod:`.config` and :mod:`.presets`, :mod:`.models` (the video ResNets, I3D inflation),
:mod:`.transforms` (clip transforms in torchvision v2), :mod:`.data`, :mod:`.objective` (loss, confusion
matrix, scores), :mod:`.weights` (init, config.json, evaluation) and :mod:`.card`; the folders of real
videos are read by :mod:`fdsl.data.videofolders`.

Alone or under torchrun (2 CPU processes with gloo)::

    fdsl pretrain --family vpn -o runs/vpn                                   # the family's kind picks the task
    fdsl finetune --task video --init runs/vpn --dataset ../shared/data/ud810-actions --test-group 2 -o runs/ud810
    fdsl finetune --task video --init runs/perlin-resnet18 -o runs/inflated  # a 2-D ResNet, inflated
    python -m torch.distributed.run --standalone --nproc_per_node 2 -m fdsl pretrain --family vpn -o runs/vpn-ddp
"""
from __future__ import annotations

from fdsl.tasks import PRETRAIN, Task, lazy, register_task
from fdsl.tasks.video.config import VideoFinetuneConfig, VideoFolderConfig, VideoPretrainConfig

PACKAGE = "fdsl.tasks.video"


@register_task("video")
class Video(Task):
    pretrain_config = VideoPretrainConfig
    finetune_config = VideoFinetuneConfig
    evaluation_data = VideoFolderConfig
    evaluation_unused = ("in_memory",)
    eval_batch_size = 8
    metrics = ("top1", "macc")
    unit = "clips"
    pipeline_tag = "video-classification"

    def presets(self, phase):
        from fdsl.tasks.video.presets import FINETUNE_PRESETS, PRETRAIN_PRESETS

        return PRETRAIN_PRESETS if phase == PRETRAIN else FINETUNE_PRESETS

    def check_finetune_data(self, data):
        from fdsl.tasks.video.data import check_video_folder

        check_video_folder(data)

    check_model = lazy(f"{PACKAGE}.weights", "check_model")
    resolve_init = lazy(f"{PACKAGE}.weights", "resolve_init")
    datasets = lazy(f"{PACKAGE}.data", "datasets")
    build_model = lazy(f"{PACKAGE}.weights", "build_model")
    train_step = lazy(f"{PACKAGE}.objective", "train_step")
    evaluate = lazy(f"{PACKAGE}.objective", "evaluate")
    write_weights_config = lazy(f"{PACKAGE}.weights", "write_weights_config")
    model_card = lazy(f"{PACKAGE}.card", "model_card")
    load_model = lazy(f"{PACKAGE}.weights", "load_model")
    evaluation_dataset = lazy(f"{PACKAGE}.weights", "evaluation_dataset")
