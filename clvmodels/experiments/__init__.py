"""Experiments: A/B tests judged on conversion, revenue and predicted lifetime value.

The room for the experiments capability (issue 15): assignments and orders to per-group
metrics, tests, sample-ratio checks and power. It sits beside ``marketing`` in the data flow
and may use a fitted :class:`clvmodels.model.CLVModel` for the value after the test window.
"""
