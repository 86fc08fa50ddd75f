"""A JPEG array-to-bytes codec for zarr v3, so a frame store can be lossy and small.

Video frames are stored one per chunk. Lossless compression of camera noise costs 100-400x the
size of an H.264 source; baseline JPEG at quality 90 keeps a store near 25x the source with a
PSNR around 50 dB against the decoded source, and decodes a 640x480 frame in ~1-2 ms with
libjpeg-turbo (numbers in docs/benchmarks.md). The codec is registered with zarr under the name
``napari_superanimal.jpeg`` (on import and through the ``zarr.codecs`` entry point), so any
process with this package installed can read a store with plain ``zarr.open``.

Example::

    import zarr
    from napari_superanimal.video.codecs import JpegCodec
    a = zarr.create_array({}, shape=(2, 48, 64, 3), chunks=(1, 48, 64, 3), dtype="uint8",
                          serializer=JpegCodec(quality=90), compressors=None)
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import imagecodecs
import numpy as np
from zarr.abc.codec import ArrayBytesCodec
from zarr.core.array_spec import ArraySpec
from zarr.core.buffer import Buffer, NDBuffer
from zarr.core.common import JSON, parse_named_configuration
from zarr.registry import register_codec

CODEC_NAME = "napari_superanimal.jpeg"
_SUBSAMPLING = {"444": (1, 1), "420": (2, 2)}


@dataclass(frozen=True)
class JpegCodec(ArrayBytesCodec):
    """Encode each chunk of shape ``(1, H, W, C)`` (C = 1 or 3, uint8) as one baseline JPEG.

    ``subsampling`` is ``"420"`` (chroma at half resolution, right for yuv420p sources, whose
    chroma is already subsampled) or ``"444"``; it is ignored for one-channel frames.
    """

    is_fixed_size = False
    quality: int = 90
    subsampling: str = "420"

    def __post_init__(self) -> None:
        if not 1 <= int(self.quality) <= 100:
            raise ValueError(f"JPEG quality must be 1..100, got {self.quality}")
        if self.subsampling not in _SUBSAMPLING:
            raise ValueError(f"JPEG subsampling must be one of {sorted(_SUBSAMPLING)}")

    @classmethod
    def from_dict(cls, data: dict[str, JSON]) -> JpegCodec:
        _, config = parse_named_configuration(data, CODEC_NAME, require_configuration=False)
        config = config or {}
        return cls(
            quality=int(config.get("quality", 90)),
            subsampling=str(config.get("subsampling", "420")),
        )

    def to_dict(self) -> dict[str, JSON]:
        return {
            "name": CODEC_NAME,
            "configuration": {"quality": self.quality, "subsampling": self.subsampling},
        }

    def validate(self, *, shape, dtype, chunk_grid) -> None:  # noqa: D102 - zarr hook
        if dtype.to_native_dtype() != np.uint8:
            raise ValueError(f"{CODEC_NAME} stores uint8 frames only, not {dtype}")
        if len(shape) not in (3, 4) or (len(shape) == 4 and shape[-1] not in (1, 3)):
            raise ValueError(f"{CODEC_NAME} needs (T, H, W) or (T, H, W, 1|3) arrays, got {shape}")

    def _decode_sync(self, chunk_bytes: Buffer, chunk_spec: ArraySpec) -> NDBuffer:
        image = imagecodecs.jpeg8_decode(chunk_bytes.as_numpy_array())
        image = image.reshape(chunk_spec.shape)
        return chunk_spec.prototype.nd_buffer.from_numpy_array(image)

    async def _decode_single(self, chunk_bytes: Buffer, chunk_spec: ArraySpec) -> NDBuffer:
        return self._decode_sync(chunk_bytes, chunk_spec)

    def encode_image(self, image: np.ndarray) -> bytes:
        """One ``(H, W, C)`` uint8 frame as the JPEG bytes this codec stores."""
        image = np.ascontiguousarray(image)
        if image.shape[-1] == 1:
            return imagecodecs.jpeg8_encode(image[..., 0], level=self.quality)
        return imagecodecs.jpeg8_encode(
            image, level=self.quality, subsampling=_SUBSAMPLING[self.subsampling]
        )

    def roundtrip(self, image: np.ndarray) -> np.ndarray:
        """``(H, W, C)`` as a store with this codec gives it back: the same pixels, bit for bit."""
        return imagecodecs.jpeg8_decode(self.encode_image(image)).reshape(image.shape)

    def _encode_sync(self, chunk_array: NDBuffer, chunk_spec: ArraySpec) -> Buffer | None:
        height, width = chunk_spec.shape[1], chunk_spec.shape[2]
        channels = chunk_spec.shape[3] if len(chunk_spec.shape) == 4 else 1
        image = chunk_array.as_numpy_array().reshape(height, width, channels)
        return chunk_spec.prototype.buffer.from_bytes(self.encode_image(image))

    async def _encode_single(self, chunk_array: NDBuffer, chunk_spec: ArraySpec) -> Buffer | None:
        # zarr encodes the chunks of a shard concurrently; in threads, and with imagecodecs
        # releasing the GIL, that puts JPEG encoding on every core while a shard is written.
        return await asyncio.to_thread(self._encode_sync, chunk_array, chunk_spec)

    def compute_encoded_size(self, input_byte_length: int, _chunk_spec: ArraySpec) -> int:
        raise NotImplementedError("JPEG output size is not known in advance")


register_codec(CODEC_NAME, JpegCodec)
