"""Model: the slow-fusion stacker (a timm 2D encoder, 3D blocks over stacks of frames, a head),
the frame padding and normalisation it expects, and self-describing model folders (weights and
the params that built them). May import ``core`` only.
"""
