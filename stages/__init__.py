"""DVC stages: one thin module each (parse arguments, load params, call ballspot)."""
