"""Small utilities shared by every part: atomic writes, the progress view, quieting
third-party output, nested lookups, the cache folder, optional imports and the input checks
every module repeats."""
