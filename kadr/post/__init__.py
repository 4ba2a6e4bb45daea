"""Post-processing applied to frames on their way to the encoder (streaming, bounded memory)."""
