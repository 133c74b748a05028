"""Puts the project's conf/ and the config library shipped with mlplat on Hydra's search path."""
