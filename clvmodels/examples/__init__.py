"""Example data: simulated orders and marketing with known truth, and the CDNOW data.

Modules: ``simulate`` (simulate_orders, SimulationTruth), ``marketing`` (simulate_marketing,
SourceSpec, MarketingTruth), ``traffic`` (its visits and costs), ``subscriptions``
(simulate_subscriptions, SubscriptionTables: SaaS billing, companies, activities, people),
``cdnow`` (load_cdnow, load_cdnow_summary) and ``arguments`` (the simulators' argument checks).
"""
