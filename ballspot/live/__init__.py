"""Live: spotting a stream as it arrives. Opening and following live sources (network streams,
pipes, files still being written) with reconnection, the 25 fps resampling by timestamp as frames
come, and the ensemble blend and peak detection decided as soon as later frames cannot change
them, so a live run gives the events of the file path. May import ``core``, ``data``, ``model``
and ``predict``.
"""
