"""PNG text chunks: where character cards live inside their portrait image."""

from __future__ import annotations

import io

from PIL import Image, UnidentifiedImageError
from PIL.PngImagePlugin import PngInfo

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class PngCardError(ValueError):
    pass


def is_png(data: bytes) -> bool:
    return data.startswith(PNG_MAGIC)


def read_text_chunks(data: bytes) -> dict[str, str]:
    """All tEXt/zTXt/iTXt entries of a PNG, including those after the image data."""
    if not is_png(data):
        raise PngCardError("The file is not a PNG image.")
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.format != "PNG":
                raise PngCardError("The file is not a PNG image.")
            # .text loads the whole image so chunks written after IDAT are seen too
            return dict(im.text)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        if isinstance(exc, PngCardError):
            raise
        raise PngCardError(f"The PNG image is corrupt ({exc}).") from None


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
