"""Small utilities shared by every part: atomic writes, progress bars, nested lookups,
the cache folder, optional imports and the input checks every module repeats."""
