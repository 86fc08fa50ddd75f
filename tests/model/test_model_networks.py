"""Networks in DeepLabCut's state-dict layout, strict snapshot loading, and heatmap decoding."""

from __future__ import annotations

import pytest
import torch

from napari_superanimal.errors import CheckpointError
from napari_superanimal.model.checkpoint import load_snapshot, save_snapshot
from napari_superanimal.model.decode import decode_heatmaps
from napari_superanimal.model.networks import build_network
from napari_superanimal.zoo.keypoints import QUADRUPED, TOPVIEWMOUSE


def test_keypoint_sets_have_the_published_sizes_and_spellings():
    assert len(TOPVIEWMOUSE) == 27 and len(set(TOPVIEWMOUSE)) == 27
    assert len(QUADRUPED) == 39 and len(set(QUADRUPED)) == 39
    assert TOPVIEWMOUSE[0] == "nose" and "tail_base" in TOPVIEWMOUSE
    assert {"front_left_thai", "back_right_thai"} <= set(QUADRUPED)


@pytest.mark.parametrize("keypoints", [TOPVIEWMOUSE, QUADRUPED], ids=["topviewmouse", "quadruped"])
def test_hrnet_w32_state_dict_matches_deeplabcut_layout(keypoints):
    net = build_network("hrnet_w32", len(keypoints))
    state = net.state_dict()
    heads = sorted(k for k in state if not k.startswith("backbone.model."))
    assert heads == [
        "heads.bodypart.heatmap_head.deconv_layers.0.bias",
        "heads.bodypart.heatmap_head.deconv_layers.0.weight",
    ]
    assert tuple(state["heads.bodypart.heatmap_head.deconv_layers.0.weight"].shape) == (
        32,
        len(keypoints),
        1,
        1,
    )
    assert not any("incre" in k for k in state)  # raw branches, not timm's "incre" features
    out = net.eval()(torch.zeros(1, 3, 256, 256))
    assert tuple(out["heatmap"].shape) == (1, len(keypoints), 64, 64)  # stride 4


@pytest.mark.parametrize("keypoints", [TOPVIEWMOUSE, QUADRUPED], ids=["topviewmouse", "quadruped"])
def test_resnet_50_state_dict_matches_deeplabcut_layout(keypoints):
    k = len(keypoints)
    net = build_network("resnet_50", k).eval()
    state = net.state_dict()
    heads = {key: tuple(v.shape) for key, v in state.items() if key.startswith("heads.")}
    assert heads == {
        "heads.bodypart.heatmap_head.deconv_layers.0.weight": (2048, k, 3, 3),
        "heads.bodypart.heatmap_head.deconv_layers.0.bias": (k,),
        "heads.bodypart.locref_head.deconv_layers.0.weight": (2048, 2 * k, 3, 3),
        "heads.bodypart.locref_head.deconv_layers.0.bias": (2 * k,),
    }
    assert "backbone.model.layer4.2.conv3.weight" in state and not any(".fc." in s for s in state)
    assert tuple(state["backbone.model.bn1.weight"].shape) == (64,)  # GroupNorm, timm's names
    with torch.no_grad():
        out = net(torch.zeros(1, 3, 256, 256))
    # output stride 16 (16x16 features), unpadded 3x3 stride-2 deconvolution: 33x33
    assert tuple(out["heatmap"].shape) == (1, k, 33, 33)
    assert tuple(out["locref"].shape) == (1, 2 * k, 33, 33)
    assert net.stride == 8


def test_decode_adds_location_refinement_at_the_peak_in_locref_std_units():
    hm = torch.zeros(1, 2, 33, 33)
    hm[0, 0, 3, 5] = 0.7
    hm[0, 1, 10, 0] = 0.4
    locref = torch.zeros(1, 4, 33, 33)
    locref[0, 0, 3, 5], locref[0, 1, 3, 5] = 0.5, -1.0  # keypoint 0: dx, dy at its peak
    locref[0, 2, 10, 0], locref[0, 3, 10, 0] = -0.25, 0.1
    locref[0, 0, 0, 0] = 9.0  # elsewhere: ignored
    out = decode_heatmaps(hm, stride=8, locref=locref, locref_std=7.2801)
    expect = torch.tensor([5 * 8 + 4 + 0.5 * 7.2801, 3 * 8 + 4 - 7.2801, 0.7])
    torch.testing.assert_close(out[0, 0], expect)
    torch.testing.assert_close(out[0, 1], torch.tensor([4 - 0.25 * 7.2801, 84 + 0.72801, 0.4]))


def test_snapshot_in_deeplabcut_layout_loads_strictly(tmp_path):
    torch.manual_seed(0)
    source = build_network("hrnet_w32", 27)
    path = tmp_path / "snapshot-200.pt"
    torch.save({"model": source.state_dict(), "metadata": {"epoch": 200}}, path)
    target = build_network("hrnet_w32", 27)
    meta = load_snapshot(path, target)
    assert meta == {"epoch": 200}
    for key, value in source.state_dict().items():
        assert torch.equal(value, target.state_dict()[key]), key


def test_snapshot_for_another_keypoint_set_is_refused_clearly(tmp_path):
    path = save_snapshot(tmp_path / "quad.pt", build_network("hrnet_w32", 39))
    with pytest.raises(CheckpointError, match="other shapes.*another keypoint set"):
        load_snapshot(path, build_network("hrnet_w32", 27))


def test_snapshot_of_another_architecture_is_refused_clearly(tmp_path):
    path = save_snapshot(tmp_path / "light.pt", build_network("light_resnet18", 27))
    with pytest.raises(CheckpointError, match="keys do not fit"):
        load_snapshot(path, build_network("hrnet_w32", 27))


def test_non_snapshot_files_are_refused_without_running_code(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a pickle")
    with pytest.raises(CheckpointError, match="not a PyTorch snapshot"):
        load_snapshot(junk, build_network("light_resnet18", 3))

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    evil = tmp_path / "evil.pt"
    torch.save({"model": Evil()}, evil)
    with pytest.raises(CheckpointError):
        load_snapshot(evil, build_network("light_resnet18", 3))


def test_decode_peaks_at_known_cells_and_borders():
    hm = torch.zeros(2, 3, 16, 12)
    hm[0, 0, 5, 7] = 0.8  # interior
    hm[0, 1, 0, 0] = 0.3  # top-left corner
    hm[0, 2, 15, 11] = 0.6  # bottom-right corner
    hm[1, :, 2, 3] = 1.7  # above 1: score clipped
    out = decode_heatmaps(hm, stride=4)
    assert out.shape == (2, 3, 3)
    torch.testing.assert_close(out[0, 0], torch.tensor([7 * 4 + 2.0, 5 * 4 + 2.0, 0.8]))
    torch.testing.assert_close(out[0, 1], torch.tensor([2.0, 2.0, 0.3]))
    torch.testing.assert_close(out[0, 2], torch.tensor([46.0, 62.0, 0.6]))
    torch.testing.assert_close(out[1, 0], torch.tensor([14.0, 10.0, 1.0]))


def test_decode_ties_take_the_first_peak_in_row_major_order_and_negative_scores_clip():
    hm = torch.full((1, 2, 4, 4), -0.5)
    hm[0, 0, 2, 1] = 0.5
    hm[0, 0, 1, 3] = 0.5  # earlier in row-major order: wins
    out = decode_heatmaps(hm, stride=(8, 2))
    torch.testing.assert_close(out[0, 0], torch.tensor([3 * 2 + 1.0, 1 * 8 + 4.0, 0.5]))
    assert out[0, 1, 2] == 0.0  # all -0.5: peak clipped to 0


def test_subpixel_refinement_is_opt_in_and_moves_toward_the_true_peak():
    ys, xs = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    true_x, true_y = 10.3, 20.7
    hm = torch.exp(-((xs - true_x) ** 2 + (ys - true_y) ** 2) / (2 * 2.0**2))[None, None]
    plain = decode_heatmaps(hm, stride=1)
    refined = decode_heatmaps(hm, stride=1, subpixel=True)
    assert plain[0, 0, 0] == 10.5 and plain[0, 0, 1] == 21.5  # cell centres, as DeepLabCut
    err_plain = abs(plain[0, 0, 0] - 0.5 - true_x) + abs(plain[0, 0, 1] - 0.5 - true_y)
    err_refined = abs(refined[0, 0, 0] - 0.5 - true_x) + abs(refined[0, 0, 1] - 0.5 - true_y)
    assert err_refined < err_plain / 2
