"""Measures of prediction quality that need no labels (jitter, consistency)."""
