"""DeepLabCut files, one module per kind, each with a ``load_*`` / ``save_*`` pair.

- :mod:`.config`: the project's ``config.yaml`` (:func:`load_dlc_config`, :func:`save_dlc_config`);
- :mod:`.labels`: labeled data, ``CollectedData_<scorer>.h5``/``.csv`` (:func:`load_dlc_labels`,
  :func:`save_dlc_labels`);
- :mod:`.predictions`: pose tables as ``analyze_videos`` writes them (:func:`load_dlc_predictions`,
  :func:`save_dlc_predictions`);
- :mod:`.project`: a whole project folder, config and every labeled-data folder
  (:func:`load_dlc_project`, :func:`save_dlc_project`).

Every reader validates what it reads (see :mod:`..model`); every writer writes atomically.

Example::

    from napari_superanimal.labels.io.dlc import load_dlc_project, save_dlc_labels
    project = load_dlc_project("reaching-Mackenzie-2018-08-30/")
    save_dlc_labels("CollectedData_me.h5", project.labels["reachingvideo1"], scorer="me")
"""

from .config import CONFIG, DLCConfig, load_dlc_config, save_dlc_config
from .labels import (
    H5_KEY,
    LABELED_DATA,
    dlc_labels_frame,
    file_individuals,
    image_names,
    load_dlc_animals,
    load_dlc_labels,
    save_dlc_labels,
)
from .predictions import (
    load_dlc_predictions,
    predictions_frame,
    read_export_metadata,
    save_dlc_predictions,
)
from .project import DLCProject, collected_file, load_dlc_project, save_dlc_project, write_png

__all__ = [
    "CONFIG",
    "H5_KEY",
    "LABELED_DATA",
    "DLCConfig",
    "DLCProject",
    "collected_file",
    "dlc_labels_frame",
    "file_individuals",
    "image_names",
    "load_dlc_animals",
    "load_dlc_config",
    "load_dlc_labels",
    "load_dlc_predictions",
    "load_dlc_project",
    "predictions_frame",
    "read_export_metadata",
    "save_dlc_config",
    "save_dlc_labels",
    "save_dlc_predictions",
    "save_dlc_project",
    "write_png",
]
