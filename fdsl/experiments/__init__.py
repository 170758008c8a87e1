"""Experiments made of many training runs: ``compare.py`` (scratch against checkpoints over seeds),
``study.py`` (a grid of pre-training variants, then compare), ``demo.py`` (the README's main job),
``jobs.py`` (one way to run N runs: serially in this process or side by side in their own processes)
and ``launch.py`` (DDP pre-training through torch's launcher). Their results are dataclasses
(``results.py``); printing is the CLI's, plots are :mod:`fdsl.viz`'s.
"""
