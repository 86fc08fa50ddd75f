"""The thin napari layer: it translates between a :class:`~napari_superanimal.session.Session`
and the viewer, and holds no state of its own that the core does not have.

- :mod:`.reader`: npe2 reader; a video opens as a lazy Image layer, the labeling dock comes up;
- :mod:`.widget`: the labeling dock (keypoints, threshold, model, frames), :mod:`.training` its
  Fine-tune panel and :mod:`.lossplot` the loss plot, :mod:`.forms` the magicgui forms;
- :mod:`.timeline`: the Suggestions dock (confidence over time, frames to label next);
- :mod:`.overlay`: the keypoints Points layer of the frame in view;
- :mod:`.relay`: session events into the GUI thread; :mod:`.show`: a session in a viewer;
- :mod:`.settings`: napari's reader preference; :mod:`.sample`: sample data.

Views subscribe to the session's events (psygnal) and call its methods; none sets a session
attribute.
"""
