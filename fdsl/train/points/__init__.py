"""Point-cloud classification: PC-FractalDB pre-training and fine-tuning on folders of real objects.

Modules: :mod:`.models` (PointNet++ SSG and its neighbourhood operations), :mod:`.augment`
(point augmentations), :mod:`.config` and :mod:`.presets` (typed configs and recipes),
:mod:`.objective` (loss, OA / mAcc, weights) and :mod:`.run` (``pretrain``, ``finetune``).
"""
