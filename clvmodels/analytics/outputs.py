"""The files of the ``clv engagement`` and ``clv conversion`` output folders, named once.

:mod:`clvmodels.jobs.engagement` and :mod:`clvmodels.jobs.conversion` write them;
:mod:`clvmodels.report.analytics` reads them back (the report's "Engagement and conversion"
section). Each mapping is name -> file in the folder.
"""

from __future__ import annotations

#: The JSON summary of either folder (with ``data_problems``).
SUMMARY_FILE = "summary.json"
#: The tables of ``clv engagement -o OUT_DIR``.
ENGAGEMENT_TABLES = {
    "daily": "daily.csv",
    "weekly": "weekly.csv",
    "monthly": "monthly.csv",
    "by_device": "by_device.csv",
    "by_source": "by_source.csv",
    "retention": "retention.csv",
    "session_lengths": "session_lengths.csv",
}
#: The plots of ``clv engagement`` (not written with ``--no-plots``).
ENGAGEMENT_PLOTS = {
    "active_users": "active_users.png",
    "session_lengths": "session_lengths.png",
    "retention": "retention.png",
}
#: The tables of ``clv conversion -o OUT_DIR``.
CONVERSION_TABLES = {
    "buyers": "buyers.csv",
    "by_source": "by_source.csv",
    "by_device": "by_device.csv",
    "by_cohort": "by_cohort.csv",
    "orders_by_cohort": "orders_by_cohort.csv",
}
#: The plots of ``clv conversion`` (not written with ``--no-plots``).
CONVERSION_PLOTS = {
    "days_plot": "conversion_days.png",
    "source_plot": "conversion_by_source.png",
    "device_plot": "conversion_by_device.png",
}
