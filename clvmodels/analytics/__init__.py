"""Product analytics before the purchase: engagement, conversion and business KPIs over time.

The room for the product-analytics capability (issue 14): visits to DAU/WAU/MAU and
stickiness, the road from first visit to first order, KPIs by period. It sits beside
``marketing`` in the data flow and reads visits through :mod:`clvmodels.data.marketing`.
"""
