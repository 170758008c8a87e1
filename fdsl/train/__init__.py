"""Pre-training, fine-tuning and evaluation of timm models, on one CPU or many GPUs.

``config.py`` (typed configs), ``presets.py`` (recipes by name), ``models.py`` (over
``timm.create_model``), ``augment.py`` (timm transforms, Mixup, losses), ``engine.py`` (one epoch,
one evaluation), ``trainer.py`` (the epoch loop, resume, metrics), ``checkpoint.py`` (run folders,
safetensors weights), ``distributed.py`` (torchrun), ``pretrain.py``, ``finetune.py``. Experiments over many runs live in
:mod:`fdsl.experiments`.
"""
