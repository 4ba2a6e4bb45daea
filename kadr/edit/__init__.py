"""Going on from existing material: extending a video, remixing it, first and last frame, shots, references.

Each module stands alone (the engine imports what a request uses): :mod:`kadr.edit.source` reads a
source video, :mod:`kadr.edit.seam` measures where an extension joins its source.
"""
