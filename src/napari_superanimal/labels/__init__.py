"""Keypoint labels and predictions, and their file formats."""
