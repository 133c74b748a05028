"""mlplat: a declarative ML platform (Hydra configs -> tracked runs -> registry -> serving -> monitoring).

Kept import-light on purpose: ``mlplat --help`` must start in well under half a second, so
heavy modules (sklearn, pandas, SQLAlchemy) are imported by the functions that need them.
"""

__version__ = "0.1.0"
