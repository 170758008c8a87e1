"""What a pre-trained model learned: first-layer filters, attention maps and rollout, position
embedding similarity, mean attention distance (``fdsl analyze``)."""
