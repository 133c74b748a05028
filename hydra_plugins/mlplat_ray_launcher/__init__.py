"""mlplat's Ray launcher: hydra-ray-launcher's jobs, with every trial's end collected.

See launcher.py for why it exists; ``launcher=ray`` (conf/launcher/ray.yaml) selects it.
"""
