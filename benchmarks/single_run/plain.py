"""The same work as `mlplat train dataset=breast_cancer model=logreg`, in plain scikit-learn.

Load the bundled breast-cancer frame, hold out 20% (stratified, seed 42), 5-fold stratified
CV of (median impute -> standard scale -> logistic regression C=1, max_iter=2000) scored
with accuracy, f1, roc_auc and log_loss, a final fit scored on the holdout, then the model
pickled and the metrics written as JSON: what a user would write instead of the platform.
"""

import json
import pickle
import sys
from pathlib import Path

from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_validate, train_test_split
from sklearn.pipeline import Pipeline

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
frame = load_breast_cancer(as_frame=True).frame
X, y = frame.drop(columns="target"), frame["target"]
X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, stratify=y, random_state=42)
from sklearn.preprocessing import StandardScaler  # noqa: E402

pre = ColumnTransformer([("num", Pipeline([("impute", SimpleImputer(strategy="median")),
                                           ("scale", StandardScaler())]), list(X.columns))])
pipe = Pipeline([("pre", pre), ("model", LogisticRegression(C=1.0, max_iter=2000, random_state=42))])
cv = cross_validate(pipe, X_tr, y_tr, cv=StratifiedKFold(5, shuffle=True, random_state=42),
                    scoring=["accuracy", "f1", "roc_auc", "neg_log_loss"])
pipe.fit(X_tr, y_tr)
proba = pipe.predict_proba(X_te)[:, 1]
pred = pipe.predict(X_te)
metrics = {"accuracy": accuracy_score(y_te, pred), "f1": f1_score(y_te, pred),
           "roc_auc": roc_auc_score(y_te, proba), "log_loss": log_loss(y_te, proba),
           **{f"cv_{k}": float(v.mean()) for k, v in cv.items() if k.startswith("test_")}}
with open(out / "model.pkl", "wb") as f:
    pickle.dump(pipe, f)
(out / "metrics.json").write_text(json.dumps(metrics))
print(json.dumps(metrics))
