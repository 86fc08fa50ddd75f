"""The napari layer: readers, sample data and (later) widgets, on top of the headless core."""
