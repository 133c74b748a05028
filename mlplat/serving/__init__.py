"""Serving: the HTTP prediction service, its hot-switching model holder, the prediction log
and batch prediction. Front doors reach it through ``mlplat.ops`` (``mlplat/ops/serving.py``).
"""
