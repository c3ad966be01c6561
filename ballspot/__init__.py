"""ballspot: ball action spotting in soccer broadcast video."""
