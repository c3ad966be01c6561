"""Data: matches on disk and how they are read and made.

Owns the SoccerNet layout and label files, video reading (frame-accurate decoding, CPU or
NVDEC) and writing (a portable H.264/HEVC encoder), the official download, the synthetic match
generator and the data stage's preparation of both. May import ``core`` only.
"""
