"""The demo: a synthetic top-view mouse video with known keypoints, and the demo pipeline."""
