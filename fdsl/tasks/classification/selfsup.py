"""Self-supervised pre-training objectives: SimCLR and MoCo v2 on two augmented views of each image,
the images' labels unused, with lightly's losses, projection heads and view transforms.

Sources: Chen et al., "A Simple Framework for Contrastive Learning of Visual Representations"
(SimCLR, ICML 2020): NT-Xent over the 2N views of a batch, a 2-layer MLP projection head with batch
norm, temperature 0.5 for CIFAR-10 (its appendix B.9). Chen et al., "Improved Baselines with
Momentum Contrastive Learning" (MoCo v2, 2020): InfoNCE against a queue of keys from a momentum
(moving-average) key encoder, a 2-layer MLP head, temperature 0.2. The talks compare FractalDB with
both (the FractalDB-ViT table).

The pre-training model is the task's timm classifier whose classifier is replaced by a
:class:`ContrastiveHead`: the projection head, and for MoCo the key encoder and the queue (lightly's
memory bank), so that a run's checkpoint resumes exactly. Everything self-supervised lives under
the classifier's name (``head.`` for a ViT, ``fc.`` for a ResNet), which fine-tuning with a new
classifier drops: the saved weights fine-tune with ``fdsl finetune --init RUN --new-head`` as any
classification weights. Their ``config.json`` says ``num_classes: 0``: ``fdsl analyze`` loads the
backbone alone, and ``fdsl evaluate`` asks for a fine-tuning first.
"""
from __future__ import annotations

import copy
import math
from collections.abc import Iterable

import torch
from torch import nn

from fdsl.errors import check
from fdsl.tasks import Step
from fdsl.tasks.classification.config import AugmentConfig, ObjectiveConfig

#: Each objective's temperature where ``objective.temperature`` is unset (see the module docstring).
TEMPERATURES = {"simclr": 0.5, "moco": 0.2}
#: Neighbours of the held-out k-NN score (InstDisc's weighted vote: k = 200 on ImageNet; 20 here,
#: for 10 to 100 held-out images per class), and the temperature of its vote.
KNN_K, KNN_TEMPERATURE = 20, 0.07


def classifier_path(model: nn.Module) -> str:
    """The classifier's module path in a timm model (``head``, ``fc``, ``head.fc``...)."""
    name = model.pretrained_cfg.get("classifier")
    check(isinstance(name, str), f"{type(model).__name__} names no single classifier; a self-supervised "
                                 "objective needs one to replace by its projection head")
    return name


def set_submodule(model: nn.Module, path: str, module: nn.Module) -> None:
    parent, _, name = path.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, name, module)


class ContrastiveHead(nn.Module):
    """What replaces the classifier: the projection MLP, the loss and, for MoCo, the key encoder
    (the whole model with a copy of the projection as its classifier) and lightly's queue."""

    def __init__(self, objective: ObjectiveConfig, model: nn.Module, path: str):
        from lightly.loss import NTXentLoss
        from lightly.models.modules import MoCoProjectionHead, SimCLRProjectionHead
        from lightly.models.utils import deactivate_requires_grad

        super().__init__()
        linear = model.get_submodule(path)
        check(isinstance(linear, nn.Linear), f"{type(model).__name__}'s classifier {path!r} is not a linear layer: "
                                             "a self-supervised objective cannot take its features")
        width, self.name, self.momentum = linear.in_features, objective.name, objective.momentum
        head = SimCLRProjectionHead if objective.name == "simclr" else MoCoProjectionHead
        self.projector = head(width, objective.hidden_dim, objective.output_dim)
        temperature = objective.temperature or TEMPERATURES[objective.name]
        if objective.name == "moco":
            key_encoder = copy.deepcopy(model)
            set_submodule(key_encoder, path, copy.deepcopy(self.projector))
            deactivate_requires_grad(key_encoder)
            self.key_encoder = key_encoder
            self.loss = NTXentLoss(temperature, memory_bank_size=(objective.queue, objective.output_dim))
            keep_in_state_dict(self.loss.memory_bank)
        else:
            self.loss = NTXentLoss(temperature, gather_distributed=torch.distributed.is_initialized())

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.projector(features)


def keep_in_state_dict(module: nn.Module) -> None:
    """Make the module's buffers part of its state dict: lightly registers its queue and pointer as
    non-persistent, and a resumed MoCo run must start from the queue it stopped with."""
    for name, buffer in list(module.named_buffers(recurse=False)):
        module.register_buffer(name, buffer, persistent=True)


def contrastive_model(model: nn.Module, objective: ObjectiveConfig) -> nn.Module:
    """``model`` (a timm classifier, just initialised) with its classifier replaced by a :class:`ContrastiveHead`."""
    path = classifier_path(model)
    set_submodule(model, path, ContrastiveHead(objective, model, path))
    model.num_classes = 0  # config.json: a feature extractor, no classifier (fdsl evaluate refuses it)
    return model


def contrastive_head(model: nn.Module) -> ContrastiveHead | None:
    """The model's :class:`ContrastiveHead` (through DDP's wrapper), or None for a classifier."""
    model = getattr(model, "module", model)
    name = getattr(model, "pretrained_cfg", {}).get("classifier")
    head = model.get_submodule(name) if isinstance(name, str) else None
    return head if isinstance(head, ContrastiveHead) else None


@torch.no_grad()
def update_key_encoder(model: nn.Module, head: ContrastiveHead) -> None:
    """MoCo's key encoder follows the query encoder: k <- m k + (1 - m) q, parameter by parameter
    (the query encoder's projection stands where the key encoder has its copy)."""
    online = [p for name, p in model.named_parameters() if ".key_encoder." not in f".{name}"]
    keys = list(head.key_encoder.parameters())
    check(len(online) == len(keys), "MoCo's key encoder does not mirror the model")
    torch._foreach_mul_(keys, head.momentum)
    torch._foreach_add_(keys, online, alpha=1.0 - head.momentum)


class ContrastiveStep:
    """A batch of ``([view 1, view 2], labels)``: SimCLR's NT-Xent over both views' projections in
    one forward pass, or MoCo's InfoNCE of view 1's queries against view 2's keys (after the key
    encoder's momentum update) and the queue. Counts images, not views."""

    def __call__(self, model: nn.Module, batch, device: torch.device, precision) -> Step:
        (first, second), _ = batch
        first, second = first.to(device, non_blocking=True), second.to(device, non_blocking=True)
        inner = getattr(model, "module", model)
        head = contrastive_head(inner)
        with precision.autocast(device):
            if head.name == "simclr":
                z1, z2 = model(torch.cat([first, second])).float().chunk(2)
                loss = head.loss(z1, z2)
            else:
                queries = model(first).float()
                update_key_encoder(inner, head)
                with torch.no_grad():
                    keys = head.key_encoder(second).float()
                loss = head.loss(queries, keys)
        return Step(loss, len(first))


def view_transform(objective: ObjectiveConfig, augment: AugmentConfig):
    """lightly's two-view transform of the objective (SimCLR's or MoCo v2's colour jitter, grey and
    crops) at the run's image size, flips and normalisation; no blur under 64 px (SimCLR's CIFAR-10
    setting)."""
    from lightly.transforms import MoCoV2Transform, SimCLRTransform

    cls = SimCLRTransform if objective.name == "simclr" else MoCoV2Transform
    return cls(input_size=augment.img_size, gaussian_blur=0.0 if augment.img_size < 64 else 0.5,
               hf_prob=augment.hflip, vf_prob=augment.vflip,
               normalize={"mean": list(augment.mean), "std": list(augment.std)})


@torch.no_grad()
def knn_scores(model: nn.Module, loader: Iterable, *, device: torch.device, precision) -> dict[str, float]:
    """The held-out score of a self-supervised model: each held-out image's class by a weighted vote
    of its ``KNN_K`` nearest other held-out images (cosine similarity of the features the projection
    head takes; Wu et al., InstDisc, CVPR 2018). Labels serve only this score. Returns the vote's
    cross-entropy as "loss", top-1 and top-5 (%) and the image count, over all ranks."""
    from fdsl.train.distributed import gather_objects

    model.eval()
    inner = getattr(model, "module", model)
    features, labels = [], []
    for inputs, targets in loader:
        with precision.autocast(device):
            features.append(inner.forward_head(inner.forward_features(inputs.to(device)), pre_logits=True).float().cpu())
        labels.append(targets)
    features, labels = torch.cat(gather_objects(torch.cat(features))), torch.cat(gather_objects(torch.cat(labels)))
    return knn_vote(nn.functional.normalize(features, dim=1), labels)


def knn_vote(features: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Leave-one-out weighted k-NN over unit ``features``: class scores sum exp(similarity / T) of the
    k nearest others."""
    count, classes = len(labels), int(labels.max()) + 1
    similarity = features @ features.T
    similarity.fill_diagonal_(-math.inf)
    k = min(KNN_K, count - 1)
    nearest, index = similarity.topk(k, dim=1)
    votes = torch.zeros(count, classes, dtype=torch.float64)
    votes.scatter_add_(1, labels[index], (nearest.double() / KNN_TEMPERATURE).exp())
    probabilities = votes / votes.sum(dim=1, keepdim=True)
    loss = -probabilities[torch.arange(count), labels].clamp_min(1e-12).log().mean().item()
    top = probabilities.topk(min(5, classes), dim=1).indices
    hits = top.eq(labels[:, None])
    return {"loss": loss, "top1": 100.0 * hits[:, 0].double().mean().item(),
            "top5": 100.0 * hits.any(dim=1).double().mean().item(), "images": count}
