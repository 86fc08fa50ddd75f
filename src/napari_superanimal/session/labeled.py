"""Which frames of a video carry the user's points, kept sorted for O(log n) navigation.

Example::

    index = LabeledFrames(store.frame_states("mouse.mp4"))
    index.update(10, {"labeled"})     # frame 10 now has a labeled point
    index.next_after(5)               # 10
"""

from __future__ import annotations

import bisect


class LabeledFrames:
    """Frames with at least one user point, and the kinds of point on each."""

    def __init__(self, states: dict[int, set[str]]):
        self._states = {int(f): set(s) for f, s in states.items()}
        self._sorted = sorted(self._states)

    def __len__(self) -> int:
        return len(self._sorted)

    def __contains__(self, frame: int) -> bool:
        return frame in self._states

    def frames(self) -> list[int]:
        return list(self._sorted)

    def update(self, frame: int, states: set[str]) -> None:
        """Record the kinds of point now on ``frame`` (empty: none left)."""
        had = frame in self._states
        if states:
            self._states[frame] = set(states)
            if not had:
                bisect.insort(self._sorted, frame)
        elif had:
            del self._states[frame]
            self._sorted.remove(frame)

    def next_after(self, frame: int) -> int | None:
        i = bisect.bisect_right(self._sorted, frame)
        return self._sorted[i] if i < len(self._sorted) else None

    def previous_before(self, frame: int) -> int | None:
        i = bisect.bisect_left(self._sorted, frame)
        return self._sorted[i - 1] if i > 0 else None

    def count(self, state: str) -> int:
        """Frames holding at least one point of ``state``."""
        return sum(state in s for s in self._states.values())
