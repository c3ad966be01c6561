"""File names of the DAG's artefacts that several layers read or write."""

RAW_PREDICTIONS = "{half}_raw_predictions.npz"  # a half's per-frame scores (predict stages)
RESULTS_FILE = "results_spotting.json"  # a game's events, SoccerNet's format
