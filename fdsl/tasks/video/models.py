"""Video ResNets at any depth and width, built from torchvision's own blocks, and I3D inflation of a
2-D timm ResNet into one.

- **Architectures** (``<convolution>_<depth>``): ``r3d`` (3-D convolutions throughout), ``mc3``
  (3-D in the first stage, 2-D (1 x 3 x 3) after) and ``r2plus1d`` (each 3-D kernel factored into a
  spatial and a temporal one), from Tran et al., "A Closer Look at Spatiotemporal Convolutions for
  Action Recognition", CVPR 2018, as torchvision builds them (``torchvision.models.video``); at the
  depths of Hara et al., "Can Spatiotemporal 3D CNNs Retrace the History of 2D CNNs and ImageNet?",
  CVPR 2018: 10, 18, 34 (basic blocks) and 50, 101, 152 (bottlenecks). torchvision offers depth 18
  at one width; here ``widths`` (the four stages' planes) and ``stem_width`` set any width, and
  ``stem_pool`` adds the 2-D ResNet's 3 x 3 max-pool after the stem (spatial only, as I3D keeps its
  first pools, so the later stages run at a quarter of the pixels). With the defaults the model is
  torchvision's, key for key (tests/test_video_task.py).
- **Inflation** (Carreira & Zisserman, "Quo Vadis, Action Recognition? A New Model and the Kinetics
  Dataset", CVPR 2017, section 2.5): each k x k kernel of a 2-D network becomes a t x k x k one by
  repeating it over the t frames and dividing by t, so a clip of one repeated image gives the 2-D
  network's activations. The batch norms are copied. A timm ResNet with the plain 7 x 7 stem (an fdsl
  classification run's weights) inflates into ``r3d`` or ``mc3`` of the same depth and widths, with
  the stem's max-pool; ``r2plus1d`` factors its kernels, so it has none to inflate into.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

import torch
from torch import nn
from torchvision.models.video.resnet import (BasicBlock, Bottleneck, Conv2Plus1D, Conv3DNoTemporal, Conv3DSimple,
                                             VideoResNet)

from fdsl.errors import FdslError, check

#: The convolution of each of the four stages, by architecture.
CONVOLUTIONS = {
    "r3d": (Conv3DSimple,) * 4,
    "mc3": (Conv3DSimple,) + (Conv3DNoTemporal,) * 3,
    "r2plus1d": (Conv2Plus1D,) * 4,
}
#: Block and blocks per stage of each depth (Hara et al., CVPR 2018, table 1).
DEPTHS = {
    10: (BasicBlock, (1, 1, 1, 1)),
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}
VIDEO_MODELS = tuple(f"{conv}_{depth}" for conv in CONVOLUTIONS for depth in DEPTHS)
#: torchvision's stage widths and stem width.
WIDTHS = (64, 128, 256, 512)
STEM_WIDTH = 64
#: Architectures a 2-D ResNet inflates into (their stem is one 3 x 7 x 7 convolution).
INFLATABLE = ("r3d", "mc3")
HEAD_PREFIX = "fc."


def parse_name(name: str) -> tuple[str, int]:
    """``"r3d_18"`` -> ``("r3d", 18)``; a one-line error listing the valid names."""
    conv, _, depth = name.rpartition("_")
    check(conv in CONVOLUTIONS and depth.isdigit() and int(depth) in DEPTHS,
          f"unknown video model {name!r}; valid: {', '.join(VIDEO_MODELS)}")
    return conv, int(depth)


def stem(conv: str, width: int, pool: bool) -> nn.Sequential:
    """torchvision's stem of ``conv`` at ``width`` channels (R(2+1)D's middle width scaled as its 45 of
    64), then the optional spatial max-pool, which has no weights (the keys stay torchvision's)."""
    if conv == "r2plus1d":
        middle = max(1, 45 * width // 64)
        layers = [nn.Conv3d(3, middle, (1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False),
                  nn.BatchNorm3d(middle), nn.ReLU(inplace=True),
                  nn.Conv3d(middle, width, (3, 1, 1), stride=1, padding=(1, 0, 0), bias=False),
                  nn.BatchNorm3d(width), nn.ReLU(inplace=True)]
    else:
        layers = [nn.Conv3d(3, width, (3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False),
                  nn.BatchNorm3d(width), nn.ReLU(inplace=True)]
    if pool:
        layers.append(nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)))
    return nn.Sequential(*layers)


class ScaledVideoResNet(VideoResNet):
    """torchvision's :class:`VideoResNet` (its forward, its ``_make_layer``) with any stage and stem widths."""

    def __init__(self, block: type, convs: Sequence[type], layers: Sequence[int], *, stem: nn.Module,
                 stem_width: int, widths: Sequence[int], num_classes: int):
        nn.Module.__init__(self)  # VideoResNet.__init__ fixes the widths at 64..512
        self.inplanes = stem_width
        self.stem = stem
        for index, (conv, planes, blocks) in enumerate(zip(convs, widths, layers)):
            setattr(self, f"layer{index + 1}", self._make_layer(block, conv, planes, blocks, stride=1 if index == 0 else 2))
        self.avgpool = nn.AdaptiveAvgPool3d((1, 1, 1))
        self.fc = nn.Linear(widths[-1] * block.expansion, num_classes)
        initialise_like_torchvision(self)


def initialise_like_torchvision(model: nn.Module) -> None:
    """VideoResNet's initialisation: He (fan out) convolutions, unit batch norms, a N(0, 0.01) classifier."""
    for module in model.modules():
        if isinstance(module, nn.Conv3d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.BatchNorm3d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0, 0.01)
            nn.init.zeros_(module.bias)


def create_video_model(name: str, *, num_classes: int, widths: Sequence[int] = WIDTHS, stem_width: int = STEM_WIDTH,
                       stem_pool: bool = False, **unknown) -> VideoResNet:
    """The video ResNet ``name`` (:data:`VIDEO_MODELS`) for ``num_classes``; see the module docstring."""
    if unknown:
        raise FdslError(f"video model {name!r} takes no option {sorted(unknown)[0]!r}; valid: widths, stem_width, "
                        "stem_pool")
    conv, depth = parse_name(name)
    check(len(widths) == 4 and all(int(w) >= 1 for w in widths),
          f"video model widths = {list(widths)}; allowed: four stage widths >= 1")
    check(int(stem_width) >= 1, f"video model stem_width = {stem_width}; allowed: >= 1")
    block, layers = DEPTHS[depth]
    return ScaledVideoResNet(block, CONVOLUTIONS[conv], layers, stem=stem(conv, int(stem_width), bool(stem_pool)),
                             stem_width=int(stem_width), widths=[int(w) for w in widths], num_classes=num_classes)


# --- I3D inflation ----------------------------------------------------------------------------------
#: A timm ResNet's key -> the video ResNet's (torchvision's stages wrap each conv and its norm in a Sequential).
RENAMES = (
    (re.compile(r"^conv1\.(.+)$"), r"stem.0.\1"),
    (re.compile(r"^bn1\.(.+)$"), r"stem.1.\1"),
    (re.compile(r"^(layer\d+\.\d+)\.conv(\d)\.(.+)$"), r"\1.conv\2.0.\3"),
    (re.compile(r"^(layer\d+\.\d+)\.bn(\d)\.(.+)$"), r"\1.conv\2.1.\3"),
)


def video_key(key: str) -> str:
    """The video ResNet's name of a timm ResNet's weight (downsample and fc keep theirs)."""
    for pattern, replacement in RENAMES:
        if pattern.match(key):
            return pattern.sub(replacement, key)
    return key


def inflate(weight: torch.Tensor, frames: int) -> torch.Tensor:
    """A 2-D kernel (out, in, k, k) as a 3-D one (out, in, frames, k, k): repeated over time, divided by ``frames``."""
    return weight.unsqueeze(2).repeat(1, 1, frames, 1, 1) / frames


def inflated_state(image_state: dict[str, torch.Tensor], target: dict[str, torch.Tensor], *, source: str,
                   new_head: bool) -> dict[str, torch.Tensor]:
    """The weights of a 2-D timm ResNet (``image_state``) as those of the video ResNet whose state is
    ``target``: every convolution inflated to the target's temporal size, the rest copied; the
    classifier left out with ``new_head``. Anything that does not fit is a one-line error."""
    state = {}
    for key, value in image_state.items():
        name = video_key(key)
        if new_head and name.startswith(HEAD_PREFIX):
            continue
        check(name in target, f"{source!r} does not inflate into the video ResNet: it has no weight for {key!r} "
                              f"(looked for {name!r}); inflate a timm ResNet with the plain 7 x 7 stem")
        if value.ndim == 4 and target[name].ndim == 5:
            value = inflate(value, target[name].shape[2])
        check(value.shape == target[name].shape,
              f"{source!r} does not inflate into the video ResNet: {key!r} has shape {tuple(value.shape)}, the "
              f"model needs {tuple(target[name].shape)}")
        state[name] = value
    missing = [k for k in target if k not in state and not (new_head and k.startswith(HEAD_PREFIX))]
    if missing:
        raise FdslError(f"{source!r} does not inflate into the video ResNet: {len(missing)} of its weights have no "
                        f"2-D counterpart, e.g. {missing[0]!r}")
    return state


def image_resnet_layout(state: dict[str, torch.Tensor], source: str) -> dict[str, object]:
    """Depth, stage widths and stem width of a 2-D timm ResNet, read from its weights' shapes."""
    stem_weight = state.get("conv1.weight")
    check(stem_weight is not None and stem_weight.ndim == 4 and tuple(stem_weight.shape[2:]) == (7, 7),
          f"{source!r} is no 2-D ResNet with the plain 7 x 7 stem (its conv1.weight: "
          f"{tuple(stem_weight.shape) if stem_weight is not None else 'none'}); I3D inflation takes timm's resnet10..152")
    blocks = [len({k.split(".")[1] for k in state if k.startswith(f"layer{stage}.")}) for stage in range(1, 5)]
    block = Bottleneck if "layer1.0.conv3.weight" in state else BasicBlock
    depth = next((d for d, (kind, layers) in DEPTHS.items() if kind is block and tuple(blocks) == layers), None)
    check(depth is not None, f"{source!r} has {blocks} {block.__name__.lower()}s per stage: no video ResNet depth "
                             f"has them ({', '.join(map(str, DEPTHS))})")
    widths = [int(state[f"layer{stage}.0.conv1.weight"].shape[0]) for stage in range(1, 5)]
    return {"depth": depth, "widths": widths, "stem_width": int(stem_weight.shape[0])}
