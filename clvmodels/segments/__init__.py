"""Customer segments from a scores table.

Modules: ``scores`` (derived fields: percentiles, RFM quartile scores), ``rules`` (conditions,
rules and the checks of a rule set), ``rules_file`` (TOML rules files and the default rules)
and ``assign`` (segment_customers, segment_summary).
"""
