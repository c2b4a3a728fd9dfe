"""Acquisition economics: which source brought each buyer, what they cost, when they pay back.

Modules: ``attribution`` (buyers' sources, cost cells, date-range checks), ``sources`` (the
fitted model per source), ``payback`` (CAC, ROMI and payback: the analysis), ``grid`` (its
cells as arrays, realised and predicted), ``summary`` (the measures per group of cells),
``curves`` (LTV and ROMI by age), ``tables`` (its settings and output tables) and ``budget``
(what a new customer is worth, where to move the budget).
"""
