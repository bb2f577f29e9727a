"""What is read out of results files: summaries, Pareto fronts, and comparisons of runs."""
