"""The baseline a benchmark compares one mlplat job against: the same work in plain scikit-learn.

One job = hold out 20% (stratified), 3-fold stratified CV of the pipeline scored with
accuracy, f1, roc_auc and log_loss, then a final fit on the training split scored on the
holdout: what `mlplat train ... evaluation=fast` does for a binary classifier.
"""

from __future__ import annotations


def bare_job(pipe, X, y, seed: int = 42) -> None:
    import numpy as np
    from sklearn.base import clone
    from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score
    from sklearn.model_selection import StratifiedKFold, train_test_split

    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, random_state=seed, stratify=y)

    def score(est, Xs, ys):
        proba = est.predict_proba(Xs)
        pred = est.predict(Xs)
        return accuracy_score(ys, pred), f1_score(ys, pred), roc_auc_score(ys, proba[:, 1]), log_loss(ys, proba)

    folds = [score(clone(pipe).fit(X_tr[a], y_tr[a]), X_tr[b], y_tr[b])
             for a, b in StratifiedKFold(3, shuffle=True, random_state=seed).split(X_tr, y_tr)]
    np.mean(folds, axis=0)
    score(clone(pipe).fit(X_tr, y_tr), X_te, y_te)
