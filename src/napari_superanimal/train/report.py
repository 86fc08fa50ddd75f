"""What a round's report says, in one line for the widget's status and the CLI.

Example::

    describe_round(result.info)
    # "test error on 1 frames that chose nothing: 31.2 px, PCK@2.6px 0% -> 3.1 px, PCK@2.6px 100%;
    #  started from random weights (offline: ...); scores calibrated on 80 validation points"
"""

from __future__ import annotations


def test_error(info: dict) -> str:
    """The round's error on its test frames (labeled frames that neither trained nor chose the
    checkpoint), before -> after."""
    before, after = info.get("test_before") or {}, info.get("test_after") or {}
    if after.get("pixels") is None:
        return "no test error (fewer than 5 labeled frames: all of them trained)"

    def fmt(h: dict) -> str:
        if h.get("pixels") is None:
            return "n/a"
        return f"{h['pixels']:.1f} px, PCK@{h['pck_px']:.1f}px {100 * h['pck']:.0f}%"

    return (
        f"test error on {after['frames']} frames that chose nothing: {fmt(before)} -> {fmt(after)}"
    )


def start_and_scores(info: dict) -> str:
    """Where the network started (ImageNet, random weights, an earlier model) and whether its
    scores are calibrated."""
    # "from <version>", "ImageNet weights (...)" or "random weights (...)"
    init = info.get("init", "")
    start = f"started {init}" if init.startswith("from ") else f"started from {init}"
    calibration = info.get("calibration")
    if calibration:
        scores = f"scores calibrated on {calibration['points']} validation points"
    else:
        scores = "scores not calibrated (no validation frames: raw heatmap peaks)"
    return f"{start}; {scores}" if init else scores


def describe_round(info: dict) -> str:
    """:func:`test_error` and :func:`start_and_scores`, in one line."""
    return f"{test_error(info)}; {start_and_scores(info)}"
