"""clvmodels: probabilistic customer lifetime value, and the whole job around it."""

__version__ = "0.1.0"
