"""The training layer every task shares, on one CPU or many GPUs: ``run.py`` (one run for every task
and phase, and scoring saved weights), ``trainer.py`` (the epoch loop, resume, metrics), ``engine.py``
(one epoch of any task's steps), ``loaders.py`` (workers, per-epoch seeding, collate),
``checkpoint.py`` (run folders, safetensors weights, training state), ``model_card.py`` (what every
model card shares), ``config.py`` (the optimiser and loop sections) and ``distributed.py`` (torchrun).
The tasks themselves are packages of :mod:`fdsl.tasks`; experiments over many runs live in
:mod:`fdsl.experiments`.
"""
