"""SuperAnimal keypoint sets, in DeepLabCut's order (the order of the heatmap channels).

The names and their order are facts of the published models (DeepLabCut model zoo project
configs); the heatmap channel ``i`` of a SuperAnimal head is keypoint ``i`` of its list.
"""

from __future__ import annotations

TOPVIEWMOUSE: tuple[str, ...] = (
    "nose", "left_ear", "right_ear", "left_ear_tip", "right_ear_tip", "left_eye", "right_eye",
    "neck", "mid_back", "mouse_center", "mid_backend", "mid_backend2", "mid_backend3",
    "tail_base", "tail1", "tail2", "tail3", "tail4", "tail5", "left_shoulder", "left_midside",
    "left_hip", "right_shoulder", "right_midside", "right_hip", "tail_end", "head_midpoint",
)  # fmt: skip

QUADRUPED: tuple[str, ...] = (
    "nose", "upper_jaw", "lower_jaw", "mouth_end_right", "mouth_end_left", "right_eye",
    "right_earbase", "right_earend", "right_antler_base", "right_antler_end", "left_eye",
    "left_earbase", "left_earend", "left_antler_base", "left_antler_end", "neck_base",
    "neck_end", "throat_base", "throat_end", "back_base", "back_end", "back_middle",
    "tail_base", "tail_end", "front_left_thai", "front_left_knee", "front_left_paw",
    "front_right_thai", "front_right_knee", "front_right_paw", "back_left_paw",
    "back_left_thai", "back_right_thai", "back_left_knee", "back_right_knee",
    "back_right_paw", "belly_bottom", "body_middle_right", "body_middle_left",
)  # fmt: skip
