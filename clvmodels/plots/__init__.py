"""Plots of clvmodels' tables, drawn with matplotlib's object-oriented API.

Every function takes ``ax=None`` and returns the Axes it drew on; nothing touches pyplot's
global state. :mod:`~clvmodels.plots.base` (new_axes, save_figure),
:mod:`~clvmodels.plots.cohorts` (heatmap, retention curves), :mod:`~clvmodels.plots.matrices`
(frequency-recency and P(alive) matrices), :mod:`~clvmodels.plots.backtest` (tracking,
conditional expectations), :mod:`~clvmodels.plots.marketing`.
"""
