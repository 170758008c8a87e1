"""Sample kinds: what one sample of a formula family is, one module per kind.

A family declares its kind (``Formula.kind``); the writer, the on-the-fly dataset, the gallery,
the registry-wide tests and the benchmarks ask the kind to validate, write, read back, turn into a
training item and draw a sample, so a new modality is a new module here and nothing else changes.

- :mod:`fdsl.samples.image`: uint8 (H, W) or (H, W, 3), one PNG (``<stem>.png``).
- :mod:`fdsl.samples.image_mask`: an image and a uint8 (H, W) class mask (0 background, 255
  ignore), two PNGs (``<stem>.png``, ``<stem>.mask.png``).
- :mod:`fdsl.samples.image_instances`: an image, a uint8 (H, W) instance map (0 background, k + 1
  instance k) and per instance a class and a box (``<stem>.png``, ``<stem>.ids.png``,
  ``<stem>.instances.json``): detection and instance segmentation.
- :mod:`fdsl.samples.point_cloud`: float32 (N, 3) points and optional per-point integer labels
  (``<stem>.npy``, ``<stem>.labels.npy``).
- :mod:`fdsl.samples.scene`: points, per-point instance ids, boxes (K, 7: centre xyz, size xyz,
  yaw) and box classes (``<stem>.npy``, ``.instances.npy``, ``.boxes.npy``, ``.box_classes.npy``).
- :mod:`fdsl.samples.video`: a clip, uint8 (T, H, W) or (T, H, W, 3) (``<stem>.npy``, and an
  optional H.264 viewing copy ``<stem>.mp4``); its gallery tile is a strip of frames.
"""
