"""Pipeline: the DAG's steps (train a fold, predict games, evaluate folds) and the params
file's schema; the only layer that reads the params file's layout. The thin modules in
``stages/`` call it. May import core, data, model, train, predict and eval (not render, app,
bench or the CLI).
"""
