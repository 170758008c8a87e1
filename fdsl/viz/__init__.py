"""Pictures of what fdsl makes and learns: galleries, curves, filters, attention maps."""
