"""`python -m mlplat`: the same as the `mlplat` command."""

from mlplat.cli import run

# guarded: process pools that start workers by "spawn" (joblib's loky, multiprocessing)
# import the parent's main module again, as __mp_main__, and must not re-run the command
if __name__ == "__main__":
    run()
