"""Differentiable operations: one Function per op, grouped by family, one family a file."""
