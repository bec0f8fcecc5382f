"""PNG text chunks: where character cards live inside their portrait image."""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError
from PIL.PngImagePlugin import PngInfo

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class PngCardError(ValueError):
    pass


def is_png(data: bytes) -> bool:
    return data.startswith(PNG_MAGIC)


def read_text_chunks(data: bytes, *, max_pixels: int | None = None) -> dict[str, str]:
    """All tEXt/zTXt/iTXt entries of a PNG, including those after the image data.

    ``max_pixels``: refuse larger images from their header, before anything is decoded (a
    657 KB PNG of 13000x13000 pixels decodes to ~650 MB).
    """
    if not is_png(data):
        raise PngCardError("The file is not a PNG image.")
    try:
        with warnings.catch_warnings():  # a "decompression bomb" header is refused below, not warned about
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
        with im:
            if im.format != "PNG":
                raise PngCardError("The file is not a PNG image.")
            width, height = im.size
            if max_pixels is not None and width * height > max_pixels:
                raise PngCardError(
                    f"The image is {width}x{height} pixels; cards are limited to {max_pixels / 1e6:.1f} megapixels."
                )
            # .text loads the whole image so chunks written after IDAT are seen too
            return dict(im.text)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        if isinstance(exc, PngCardError):
            raise
        raise PngCardError(f"The PNG image is corrupt ({exc}).") from None


def portrait_png(image_bytes: bytes, *, max_side: int) -> bytes:
    """The image as a plain PNG at most ``max_side`` pixels on its longer side, with no text chunks.

    A card's PNG carries the whole card (hidden prompts included) in its text chunks; the portrait
    that is served to every viewer must not.
    """
    try:
        with Image.open(io.BytesIO(image_bytes)) as im:
            im.load()
            if im.mode not in ("RGB", "RGBA", "L", "LA"):
                im = im.convert("RGBA" if "A" in im.getbands() or "transparency" in im.info else "RGB")
            im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
            out = io.BytesIO()
            im.save(out, format="PNG", optimize=True)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise PngCardError(f"The portrait could not be read as an image ({exc}).") from None
    return out.getvalue()


def write_png(image_bytes: bytes, text: dict[str, str]) -> bytes:
    """Re-encode an image as PNG carrying the given tEXt chunks (and no stale ones)."""
    try:
        with Image.open(io.BytesIO(image_bytes)) as im:
            im.load()
            if im.mode not in ("RGB", "RGBA", "L", "LA", "P"):
                im = im.convert("RGBA" if "A" in im.getbands() else "RGB")
            info = PngInfo()
            for key, value in text.items():
                info.add_text(key, value)  # plain tEXt: base64 text is ASCII
            out = io.BytesIO()
            im.save(out, format="PNG", pnginfo=info)
    except (UnidentifiedImageError, OSError) as exc:
        raise PngCardError(f"The portrait could not be read as an image ({exc}).") from None
    return out.getvalue()
