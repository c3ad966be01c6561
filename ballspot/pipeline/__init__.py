"""Pipeline: the DAG's steps (train a fold, predict games, evaluate folds), the only layer that
reads the params file's layout; the thin modules in ``stages/`` call it. May import every layer
above except ``app``, ``bench`` and the CLI.
"""
