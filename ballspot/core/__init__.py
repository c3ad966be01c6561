"""Core: what every layer shares and nothing else.

Owns the one-line error type, atomic writes of files and folders, the allocator tuning, torch
device names, the params file reader and the file-format names of the DAG's artefacts.
Imports nothing from ballspot outside ``core``.
"""
