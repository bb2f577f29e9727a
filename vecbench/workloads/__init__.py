"""Workloads: what is asked of a store besides static unfiltered top-k. ``filters`` is the
filter language of filtered search (issue 11's first part: parsing, masks, exact ground
truth under a filter, violations); the harness and the adapters' native translations build
on it."""
