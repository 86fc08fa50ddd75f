"""Fine-tuning on the user's labels: targets, augmentation, memory replay, the training round."""
