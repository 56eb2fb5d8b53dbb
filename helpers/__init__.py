"""Helpers for the deep-learning-for-vision notebooks.

One module per concern:

- ``config``      paths, the smoke flag, seeding, device and precision choice
- ``data``        Fashion-MNIST, held in memory, and the batch iterator
- ``facades``     the 5-class facade segmentation set and the CMP converter
- ``models``      the networks
- ``training``    the training loop, evaluation and prediction
- ``checkpoints`` saving and reusing trained models
- ``metrics``     accuracy, confusion, AP, IoU
- ``plots``       figures that are shown inline and saved under ``figures/``
- ``results``     the README results table, generated from the metrics files

Importing this package changes no global state.
"""
