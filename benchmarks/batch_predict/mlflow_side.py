"""Run by the MLflow venv's interpreter: save an mlplat model artifact as an MLflow model.

`python mlflow_side.py <model.joblib> <out dir>`. The pickle holds mlplat's LabelEncoded
wrapper, so the repository is put on sys.path (imported, not installed: MLflow's venv
never gets mlplat's dependencies beyond what the pickle needs: numpy, scikit-learn, xgboost).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import joblib  # noqa: E402
import mlflow.sklearn  # noqa: E402

model = joblib.load(sys.argv[1])
mlflow.sklearn.save_model(model, sys.argv[2], serialization_format="cloudpickle")
print("saved", sys.argv[2])
