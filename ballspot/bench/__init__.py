"""Bench: ``ballspot bench decode|predict|train``, the measured speed tables. May import every
layer below the CLI.
"""
