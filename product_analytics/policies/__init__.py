"""Policies: the rules every layer above follows (partitions and their window, freshness, the writer pool).

This folder imports only ``config``; domains, automation and definitions import it.
"""
