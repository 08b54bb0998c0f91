"""Dashboards and statistics, above ``labeling`` and ``quality`` (ARCHITECTURE.md, insights).

Every figure comes from grouped SQL queries over indexed columns (never a Python loop over task
or annotation rows); Python only reshapes grouped rows. Public functions open their own read
session and check that the caller may ``manage`` the project (leads and admins).

- :mod:`insights.dashboard`: ``project_stats``, every panel of one project;
- :mod:`insights.overview`: one line per project a lead manages;
- :mod:`insights.items`: the tasks behind a figure;
- :mod:`insights.csv`: a panel's table as CSV;
- the panels: :mod:`insights.progress` (states, progress, throughput, queues, dataset versions),
  :mod:`insights.labels` (labels, noise, confusion), :mod:`insights.agreement` (alpha, kappa),
  :mod:`insights.annotators`; what they share: :mod:`insights.context`, :mod:`insights.sql`,
  :mod:`insights.cache` (the cached, incrementally updated sums).
"""
