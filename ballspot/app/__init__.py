"""App: commands for users outside the DAG: ``spot`` (any video with the fold ensemble),
``visualize``, ``generalise`` and ``profile``. May import every lower layer and ``pipeline``.
"""
