"""Example data: simulated orders and marketing with known truth, and the CDNOW data.

Modules: ``simulate`` (simulate_orders, SimulationTruth), ``marketing`` (simulate_marketing,
SourceSpec, MarketingTruth), ``traffic`` (its visits and costs), ``cdnow`` (load_cdnow,
load_cdnow_summary) and ``arguments`` (the simulators' argument checks).
"""
