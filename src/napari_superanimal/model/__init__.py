"""Pose models: timm backbones with DeepLabCut's heatmap heads, checkpoints, decoding."""
