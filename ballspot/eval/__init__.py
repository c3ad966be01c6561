"""Eval: the SoccerNet metric (tight/loose mAP, equal to the official evaluator) and the chance
level (random scores on the same frames). May import ``core``, ``data`` and ``predict``.
"""
