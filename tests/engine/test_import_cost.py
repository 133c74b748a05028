"""Start-up of `mlplat train`: modules a run does not need are not imported (measured costs
in the modules' comments), and the paths that need them still get them."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def test_the_engine_does_not_import_sklearn_ensemble_until_a_forest_is_built():
    code = ("import sys, mlplat.engine; assert 'sklearn.ensemble' not in sys.modules, 'imported eagerly'; "
            "from mlplat.features.build import _selector; "
            "s = _selector({'method': 'model', 'estimator': 'random_forest', 'threshold': 'median'}, "
            "'classification', 3); print(type(s.estimator).__name__, s.estimator.random_state)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["RandomForestClassifier", "3"]
