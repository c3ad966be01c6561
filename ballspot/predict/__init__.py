"""Predict: the caching predictor (each frame's 2D features computed once), per-frame raw
predictions on disk, post-processing into events (smoothing, peaks, SoccerNet results files)
and the fold ensemble with its submission zip. May import ``core``, ``data`` and ``model``.
"""
