"""CI/CD for models: config checks, an experiment report per pull request, gated deployment.

``check`` checks the config tree, ``affected`` maps a git diff to the experiments it touches,
``report`` renders a CI run (markdown, HTML, JSON), ``comment`` posts it to the pull request
(GitHub or GitLab API), ``workflows`` writes the CI files that run it all. The rules (what
counts as like-for-like, gate verdicts, what deploy registers) live in ``mlplat.ops.ci``.
"""
