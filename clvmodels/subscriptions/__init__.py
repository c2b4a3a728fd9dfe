"""Subscriptions (contractual customers): billing tables, churn, survival, remaining value.

The room for the subscriptions capability (issue 12). It sits beside ``marketing`` and
``segments`` in the data flow: it reads through :mod:`clvmodels.data`, summarises with
:mod:`clvmodels.summaries`, fits through the adapter in :mod:`clvmodels.models`, and is
written out by :mod:`clvmodels.jobs` and the ``clv`` commands.
"""
