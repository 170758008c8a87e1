"""Datasets and writers: everything that turns a formula family into files or tensors."""
