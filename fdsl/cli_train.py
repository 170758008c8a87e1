"""CLI commands of the training pipeline (pretrain, finetune, evaluate, compare)."""
import argparse


def add_train_commands(sub: argparse._SubParsersAction) -> None:
    """Add the training sub-commands to the ``fdsl`` parser."""
