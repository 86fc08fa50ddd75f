"""Frame suggestions: each strategy finds what it claims, on data built to contain it."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest

from napari_superanimal.suggest import (
    STRATEGIES,
    SuggestError,
    Thumbnails,
    compute_thumbnails,
    frame_confidence,
    jump_scores,
    suggest_frames,
)
from napari_superanimal.suggest.diversity import diversity_ranking


def walk(n_frames=300, n_keypoints=5, seed=0) -> np.ndarray:
    """A smooth random walk of every keypoint, confident (0.85-0.95) everywhere."""
    rng = np.random.default_rng(seed)
    poses = np.empty((n_frames, n_keypoints, 3))
    poses[:, :, :2] = 100 + np.cumsum(rng.normal(0, 1.0, (n_frames, n_keypoints, 2)), axis=0)
    poses[:, :, 2] = rng.uniform(0.85, 0.95, (n_frames, n_keypoints))
    return poses


def kinds_thumbnails(n_frames=200, size=8, seed=0):
    """Thumbnails of every frame: kind 0 (80%), 1 (15%) or 2 (5%) look clearly different."""
    rng = np.random.default_rng(seed)
    kind = np.zeros(n_frames, int)
    order = rng.permutation(n_frames)
    kind[order[: n_frames * 15 // 100]] = 1
    kind[order[n_frames * 15 // 100 : n_frames * 20 // 100]] = 2
    images = rng.normal(0.5, 0.02, (n_frames, size, size))
    images[kind == 1, : size // 2] += 0.4  # bright top half
    images[kind == 2, :, : size // 2] -= 0.4  # dark left half
    return Thumbnails(np.arange(n_frames), images.astype(np.float32), n_frames), kind


def test_confidence_ranks_the_least_confident_frames_first():
    poses = walk()
    poses[[40, 41], :, 2] = 0.2  # the model is lost on two frames
    poses[200, 0, 2] = 0.3  # and unsure of one keypoint on another
    np.testing.assert_allclose(frame_confidence(poses)[40], 0.2)
    ranked = suggest_frames(poses, [], 3, "confidence")
    assert set(ranked[:2]) == {40, 41} and ranked[2] == 200


def test_jumps_blame_the_glitching_frame_not_its_neighbours():
    poses = walk()
    poses[120, 2, :2] += 40  # one keypoint thrown for one frame
    poses[200:230, 3, :2] += 25  # another displaced for a whole second: jumps at both ends
    scores = jump_scores(poses)
    assert int(np.argmax(scores)) == 120
    assert scores[119] < scores[120] / 4 and scores[121] < scores[120] / 4
    top = set(suggest_frames(poses, [], 3, "jumps").tolist())
    assert 120 in top
    assert top & {199, 200} and top & {229, 230}  # the start and the end of the long error


def test_jumps_ignore_a_steady_fast_animal_and_gaps():
    poses = walk()
    poses[:, :, 0] += 8.0 * np.arange(len(poses))[:, None]  # running fast, but steadily
    poses[150:160] = np.nan  # not predicted: a gap is no evidence
    scores = jump_scores(poses)
    assert np.isnan(scores[150:160]).all()
    assert np.nanmax(scores) < 8  # nothing stands out (a 40 px glitch scores > 50)


def test_diversity_suggests_every_kind_of_image_first():
    thumbs, kind = kinds_thumbnails()
    first = suggest_frames(None, [], 3, "diversity", thumbnails=thumbs)
    assert sorted(kind[first]) == [0, 1, 2]  # the rare kind too, though only 5% of frames
    # clusters that already hold labels come last
    labeled = np.flatnonzero(kind == 0)[:5]
    ranked = diversity_ranking(thumbs, labeled, n_clusters=3)
    assert sorted(kind[ranked[:2]]) == [1, 2]


def test_diversity_needs_thumbnails():
    with pytest.raises(SuggestError, match="needs thumbnails"):
        suggest_frames(walk(), [], 5, "diversity")


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_labeled_frames_are_never_suggested(strategy):
    poses = walk(100)
    poses[[10, 50], :, 2] = 0.1
    poses[30, 1, :2] += 50
    if strategy == "swaps":  # two animals, whose names swap on frame 30
        poses = np.stack([poses, poses + 300], axis=1)
        poses[30:] = poses[30:, ::-1]
    thumbs, _ = kinds_thumbnails(100)
    first = suggest_frames(poses, [], 5, strategy, thumbnails=thumbs)
    labeled = [*first.tolist(), 10, 30, 50]
    again = suggest_frames(poses, labeled, 100, strategy, thumbnails=thumbs)
    assert not set(again) & set(labeled)
    assert len(set(again)) == len(again)  # no frame twice
    mask = np.zeros(100, bool)
    mask[labeled] = True  # a boolean mask means the same
    np.testing.assert_array_equal(
        suggest_frames(poses, mask, 100, strategy, thumbnails=thumbs), again
    )


def test_combined_finds_errors_uniform_sampling_misses():
    rng = np.random.default_rng(1)
    poses = walk(1000)
    truth = poses.copy()
    glitches = rng.choice(np.arange(5, 995), 12, replace=False)
    for f in glitches:  # wrong and (mostly) unsure, but not always: likelihood 0.3-0.8
        poses[f, rng.integers(5), :2] += rng.uniform(25, 50, 2)
        poses[f, :, 2] -= rng.uniform(0.1, 0.5)
    hesitant = rng.choice(1000, 12, replace=False)  # unsure but right
    poses[hesitant, :, 2] -= 0.3
    error = np.linalg.norm(poses[:, :, :2] - truth[:, :, :2], axis=2).mean(axis=1)
    worst = set(np.argsort(-error)[:12])
    combined = suggest_frames(poses, [], 12, "combined")
    uniform = suggest_frames(poses, [], 12, "uniform")
    assert len(worst & set(combined)) >= 10
    assert len(worst & set(uniform)) <= 2


def test_combined_spreads_suggestions_over_kinds_of_image():
    poses = walk(200)
    thumbs, kind = kinds_thumbnails(200)
    first = suggest_frames(poses, [], 3, "combined", thumbnails=thumbs)
    assert sorted(kind[first]) == [0, 1, 2]  # no error evidence: coverage decides


def test_n_larger_than_the_unlabeled_frames():
    poses = walk(30)
    labeled = list(range(0, 30, 2)) + [1, 3, 5]
    free = sorted(set(range(30)) - set(labeled))
    for strategy in ("combined", "uniform", "confidence", "jumps"):
        got = suggest_frames(poses, labeled, 1000, strategy)
        assert sorted(got) == free, strategy
    assert len(suggest_frames(poses, [], 0)) == 0
    assert len(suggest_frames(poses, range(30), 5)) == 0  # everything labeled: nothing left


def test_all_nan_predictions():
    """No frame predicted yet: confidence and jumps refuse, naming why; combined falls back to
    frames spread evenly over the video (and to diversity when it has thumbnails)."""
    poses = np.full((100, 4, 3), np.nan)
    for strategy in ("confidence", "jumps"):
        with pytest.raises(SuggestError, match="no frame is predicted"):
            suggest_frames(poses, [], 5, strategy)
    got = suggest_frames(poses, [50], 5, "combined")
    assert len(got) == 5 and 50 not in got
    assert {0, 99} <= set(got)  # farthest from the label and from each other first
    assert np.diff(np.sort(np.r_[got, 50])).min() >= 12
    thumbs, kind = kinds_thumbnails(100)
    assert len(set(kind[suggest_frames(poses, [], 3, "combined", thumbnails=thumbs)])) == 3


def test_partly_predicted_video():
    poses = walk(100)
    poses[60:] = np.nan  # only the first 60 frames predicted so far
    poses[20, :, 2] = 0.1
    ranked = suggest_frames(poses, [], 100, "confidence")
    assert ranked[0] == 20 and ranked.max() < 60  # unpredicted frames are not ranked
    assert suggest_frames(poses, [], 1, "combined")[0] == 20


def test_bad_inputs_say_what_is_wrong():
    with pytest.raises(SuggestError, match="unknown strategy 'best'"):
        suggest_frames(walk(), [], 5, "best")
    with pytest.raises(SuggestError, match=r"\(frames, keypoints, 3\)"):
        suggest_frames(np.zeros((10, 3)), [], 5)
    with pytest.raises(SuggestError, match="outside the video"):
        suggest_frames(walk(10), [12], 5)
    with pytest.raises(SuggestError, match="n must be"):
        suggest_frames(walk(10), [], -1)


def test_thumbnails_read_only_the_sampled_frames():
    read = []

    def frame(block, block_info=None):
        start = block_info[None]["array-location"][0][0]
        read.append(start)
        out = np.zeros(block.shape, np.uint8)
        out[:, : 10 + start % 50] = 255  # something that changes from frame to frame
        return out

    frames = da.zeros((5000, 60, 80, 3), np.uint8, chunks=(1, 60, 80, 3)).map_blocks(
        frame, dtype=np.uint8
    )
    thumbs = compute_thumbnails(frames, n_samples=40, size=16)
    assert len(thumbs) == 40 and thumbs.images.shape == (40, 16, 16)
    assert thumbs.frames[0] == 0 and thumbs.frames[-1] == 4999
    assert sorted(read) == thumbs.frames.tolist()  # 40 frames read, not 5000
    assert thumbs.images.min() >= 0 and thumbs.images.max() <= 1
    assert thumbs.images[1].mean() != thumbs.images[2].mean()


def test_session_suggest_and_cli(video_copy, capsys):
    from napari_superanimal import open_video
    from napari_superanimal.cli import main
    from napari_superanimal.session import Session

    keypoints = ("nose", "tail_base")
    with Session.open(open_video(video_copy, convert=False), keypoints=keypoints) as s:
        assert np.isnan(s.all_predictions()).all()
        uniform = s.suggest(n=3, strategy="uniform")
        assert uniform == [0, 74, 149]
        assert len(s.suggest(n=5)) == 5  # no predictions: diversity of the frames themselves
        poses = walk(len(s), len(keypoints))
        poses[[30, 90], :, 2] = 0.1
        s.add_predictions(range(len(s)), poses, model_version="test-model")
        s.label(30, "nose", 10.0, 10.0)
        assert s.suggest(n=2, strategy="confidence")[0] == 90  # 30 is labeled now
        combined = s.suggest(n=10)
        assert 90 in combined and 30 not in combined
        with pytest.raises(ValueError):
            s.all_predictions()[0, 0, 0] = 1.0  # a read-only view
    assert main(["suggest", str(video_copy), "-n", "2", "--strategy", "confidence"]) == 0
    lines = capsys.readouterr().out.split()
    assert lines[0] == "90" and len(lines) == 2
    assert main(["suggest", str(video_copy), "-n", "4"]) == 0
    assert len(capsys.readouterr().out.split()) == 4
    with pytest.raises(SystemExit):  # argparse refuses an unknown strategy
        main(["suggest", str(video_copy), "--strategy", "nonsense"])
