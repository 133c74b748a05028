"""mlplat's config library, installed as the package ``mlplat_conf`` (setup.py maps conf/ to it)
so Hydra finds it as ``pkg://mlplat_conf`` wherever mlplat is installed. It holds no code."""
