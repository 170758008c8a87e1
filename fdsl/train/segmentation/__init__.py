"""Semantic segmentation: SegRCDB pre-training and fine-tuning on image/label folders, with
segmentation-models-pytorch models over timm encoders (:mod:`.run`, :mod:`.objective`)."""
