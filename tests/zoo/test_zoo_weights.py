"""Weight resolution: explicit path, hand-placed file, Hugging Face cache, download, offline error.

Nothing here reaches the network: the cache is laid out by the test, and the download goes to a
fake hub served on 127.0.0.1 by the test itself.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import subprocess
import sys
import threading

import pytest
import torch

from napari_superanimal.model.checkpoint import load_snapshot
from napari_superanimal.model.networks import build_network
from napari_superanimal.zoo import WeightsNotFoundError, get_entry, resolve_weights
from napari_superanimal.zoo.weights import manual_dir

ENTRY = get_entry("superanimal_topviewmouse", "hrnet_w32")
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def test_zoo_names_the_published_files():
    assert ENTRY.weights.repo_id == "mwmathis/DeepLabCutModelZoo-SuperAnimal-TopViewMouse"
    assert ENTRY.weights.filename == "superanimal_topviewmouse_hrnet_w32.pt"
    quad = get_entry("superanimal_quadruped", "hrnet_w32")
    assert quad.weights.repo_id.endswith("SuperAnimal-Quadruped") and len(quad.keypoints) == 39
    with pytest.raises(ValueError, match="unknown SuperAnimal model"):
        get_entry("superanimal_fish")


def test_explicit_path_wins_and_must_exist(tmp_path):
    path = tmp_path / "mine.pt"
    path.write_bytes(b"x")
    assert resolve_weights(ENTRY.weights, weights=path) == path
    with pytest.raises(WeightsNotFoundError, match="weights file not found"):
        resolve_weights(ENTRY.weights, weights=tmp_path / "absent.pt")


def test_hand_placed_file_in_the_cache_folder_is_found(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    target = manual_dir() / ENTRY.weights.filename
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"weights")
    assert resolve_weights(ENTRY.weights) == target


def test_huggingface_cache_layout_is_found(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    repo = tmp_path / "hub" / "models--mwmathis--DeepLabCutModelZoo-SuperAnimal-TopViewMouse"
    snap = repo / "snapshots" / COMMIT
    snap.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    net = build_network("hrnet_w32", 27)
    torch.save({"model": net.state_dict(), "metadata": {}}, snap / ENTRY.weights.filename)
    found = resolve_weights(ENTRY.weights, hub_cache=tmp_path / "hub")
    assert found == snap / ENTRY.weights.filename
    load_snapshot(found, build_network("hrnet_w32", 27))  # a real-layout checkpoint loads


def test_offline_error_names_the_file_its_url_and_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsNotFoundError) as info:
        resolve_weights(ENTRY.weights, hub_cache=tmp_path / "empty")
    message = str(info.value)
    assert ENTRY.weights.filename in message
    assert "DeepLabCutModelZoo-SuperAnimal-TopViewMouse/resolve/main" in message
    assert str(manual_dir() / ENTRY.weights.filename) in message
    assert "\n" not in message


class _FakeHub(http.server.BaseHTTPRequestHandler):
    payload = b""
    filename = ENTRY.weights.filename  # what it serves; anything else is a 404
    requests: list[str] = []

    def _headers(self) -> None:
        etag = hashlib.sha256(self.payload).hexdigest()
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("ETag", f'"{etag}"')
        self.send_header("Content-Length", str(len(self.payload)))
        self.send_header("Content-Type", "application/octet-stream")

    def _serve(self, method: str, body: bool) -> None:
        self.requests.append(f"{method} {self.path}")
        if not self.path.endswith(self.filename):
            self.send_error(404)
            return
        self.send_response(200)
        self._headers()
        self.end_headers()
        if body:
            self.wfile.write(self.payload)

    def do_HEAD(self):  # noqa: N802 - http.server API
        self._serve("HEAD", body=False)

    def do_GET(self):  # noqa: N802
        self._serve("GET", body=True)

    def log_message(self, *args):
        pass


def test_download_from_a_local_fake_hub(tmp_path):
    net = build_network("hrnet_w32", 27)
    blob = tmp_path / "blob.pt"
    torch.save({"model": net.state_dict(), "metadata": {"source": "fake hub"}}, blob)
    _FakeHub.payload = blob.read_bytes()
    _FakeHub.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FakeHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = dict(
            os.environ,
            HF_ENDPOINT=f"http://127.0.0.1:{server.server_port}",
            HF_HUB_CACHE=str(tmp_path / "hub"),
            HF_HUB_OFFLINE="0",
            HF_HUB_DISABLE_TELEMETRY="1",
            NO_PROXY="127.0.0.1",
            no_proxy="127.0.0.1",
        )
        code = (
            "from napari_superanimal.zoo import get_entry, resolve_weights\n"
            "print(resolve_weights(get_entry('superanimal_topviewmouse').weights))\n"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
        )
    finally:
        server.shutdown()
    assert proc.returncode == 0, proc.stderr[-2000:]
    path = proc.stdout.strip().splitlines()[-1]
    assert path.startswith(str(tmp_path / "hub"))
    assert any(
        r.startswith("GET /mwmathis/DeepLabCutModelZoo-SuperAnimal-TopViewMouse/resolve/")
        for r in _FakeHub.requests
    ), _FakeHub.requests
    meta = load_snapshot(path, build_network("hrnet_w32", 27))
    assert meta == {"source": "fake hub"}


def _hub_child(tmp_path, port: int | None, cache, code: str) -> list[str]:
    """Run ``code`` in a fresh Python against the fake hub on ``port`` (None: offline) with the
    Hugging Face cache ``cache``; its printed lines."""
    env = dict(
        os.environ,
        HF_HUB_CACHE=str(cache),
        HF_HUB_OFFLINE="0" if port else "1",
        HF_HUB_DISABLE_TELEMETRY="1",
        NO_PROXY="127.0.0.1",
        no_proxy="127.0.0.1",
    )
    if port:
        env["HF_ENDPOINT"] = f"http://127.0.0.1:{port}"
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip().splitlines()


def test_a_new_network_starts_from_imagenet_weights_when_the_hub_has_them(tmp_path):
    """As DeepLabCut does, a network trained from scratch starts from its backbone's ImageNet
    weights (timm's, from the hub or its cache); offline it starts from random weights at
    once, and the round's report says which."""
    import timm
    from safetensors.torch import save_file

    torch.manual_seed(7)  # stands in for ImageNet's weights: timm's own layout, other values
    served = timm.create_model("resnet18").state_dict()
    blob = tmp_path / "model.safetensors"
    save_file(served, blob)
    _FakeHub.payload, _FakeHub.filename, _FakeHub.requests = blob.read_bytes(), blob.name, []
    code = (
        "from napari_superanimal.model.imagenet import new_network\n"
        "net, init = new_network('light_resnet18', 3)\n"
        "print(init)\n"
        "print(float(net.backbone.model.conv1.weight.double().sum()))\n"
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FakeHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        init, total = _hub_child(tmp_path, server.server_port, tmp_path / "hub", code)
    finally:
        server.shutdown()
        _FakeHub.filename = ENTRY.weights.filename
    assert init == "ImageNet weights (timm/resnet18.a1_in1k)"
    assert float(total) == pytest.approx(float(served["conv1.weight"].double().sum()))
    assert any(r.startswith("GET /timm/resnet18.a1_in1k/resolve/") for r in _FakeHub.requests)
    # offline: from the cache it filled, else random weights, without waiting for the hub
    assert _hub_child(tmp_path, None, tmp_path / "hub", code)[0] == init
    init, total = _hub_child(tmp_path, None, tmp_path / "empty", code)
    assert init.startswith("random weights (offline") and float(total) != pytest.approx(
        float(served["conv1.weight"].double().sum())
    )
