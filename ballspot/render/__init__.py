"""Render: pictures of predictions for people: the timeline PNG and the overlay video.
May import ``core``, ``data`` and ``predict``.
"""
