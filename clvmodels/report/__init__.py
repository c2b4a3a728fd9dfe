"""The HTML report: one self-contained page of the data, the model, plots and tables.

:mod:`~clvmodels.report.build` (``write_report``, ``build_report``) puts together one module
per section (``data``, ``model``, ``matrices``, ``backtest``, ``cohorts``, ``acquisition``,
``segments``), :mod:`~clvmodels.report.html` renders the page and
:mod:`~clvmodels.report.inputs` holds what the sections share.
"""
