"""Opening images with an error that names the file."""
from __future__ import annotations

from safe_clip.errors import UserError


def read_image(path: str):
    """`PIL.Image.open(path).convert("RGB")` (Dassl's `read_image`), raising a one-line `UserError` naming the
    file when it is missing, truncated or not an image."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except FileNotFoundError:
        raise UserError(f"image {path} not found: the dataset copy is incomplete; re-extract it") from None
    except (OSError, ValueError, SyntaxError) as error:  # PIL.UnidentifiedImageError is an OSError
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise UserError(
            f"image {path} cannot be read ({reason}): replace the file with a valid image or re-extract the dataset"
        ) from None


def check_images(paths, limit: int | None = None) -> None:
    """Opens (decodes) each image, raising `UserError` for the first unreadable one; `limit` caps the count."""
    for index, path in enumerate(paths):
        if limit is not None and index >= limit:
            break
        read_image(path)
