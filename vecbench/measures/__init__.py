"""What the harnesses measure and how: latency, quality against exact ground truth,
bootstrap statistics, cost in dollars, and the machine's other load during a timed pass.

Plain functions over numpy arrays; no store, no I/O beyond the ground-truth cache.
"""
