"""Whole jobs, each a library call that the CLI parses for, calls once and prints.

``rfm`` (summarise these orders), ``fit`` (fit these orders), ``score`` (score these orders),
``pipeline`` (all of it, and the demo), ``marketing_demo`` (the demo's acquisition part),
``files`` (the names of a job's outputs) and ``warmup`` (fill the compile caches once).
"""
