"""Media: uploaded images, checked and re-encoded by Pillow, stored as WebP without metadata.

An upload is read in chunks up to `max_upload_bytes` (413 past it), opened with a format
allow-list (JPEG, PNG, WebP), refused above a pixel ceiling read from the header (decompression
bombs and CPU hogs: MAX_PIXELS for JPEG, which libjpeg decodes at a reduced scale, the lower
MAX_FULL_DECODE_PIXELS for PNG and WebP, decoded in full), verified, decoded, turned upright
from its EXIF orientation, converted to sRGB and re-encoded as `original.webp` with no EXIF,
ICC or XMP data. The `thumb` and `small` variants are made by
the `make_variants` job. File names are the server's own:
`settings.media_dir / <uuid> / <variant>.webp`, so no client-supplied name ever reaches the
file system. Decoding is CPU work: it runs in this module's own pool of two threads, never
on the event loop, and uploads beyond two wait in that pool's queue without holding any of the
threads other work needs (`asyncio.to_thread`'s default pool).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
import shutil
import tempfile
import threading
import uuid
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from ecosystem import jobs, offload
from ecosystem.db import atomic, on_commit
from ecosystem.errors import Invalid, TooLarge
from ecosystem.i18n import _
from ecosystem.models import MediaFile
from ecosystem.settings import get_settings

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP")
MAX_PIXELS = 40_000_000  # far below Pillow's default; bigger headers are refused unread
# PNG and WebP have no reduced decoding: every pixel is decoded (a 6,300 x 6,300 PNG took
# seconds of CPU and 160 MB each). 16 MP is a 4,000 x 4,000 logo or a screenshot of any screen.
MAX_FULL_DECODE_PIXELS = 16_000_000
ORIGINAL_MAX_SIDE = 2048  # the stored "original" is bounded (logos and avatars need no more)
VARIANT_SIDES = {"thumb": 256, "small": 64}  # bounding boxes, never enlarged
VARIANTS = ("original", *VARIANT_SIDES)
CONTENT_TYPE = "image/webp"
READ_CHUNK_BYTES = 64 * 1024
WEBP_OPTIONS: dict[str, Any] = {"quality": 85, "method": 4}

PURPOSE_AVATAR = "avatar"
PURPOSE_LOGO = "logo"

# At most this many images are decoded at once in a process (each may need ~70 MB); the
# others wait in the pool's queue. The decoding threads run at a lower CPU priority, so the
# event loop's thread is scheduled first when both want a core.
_decoders = ThreadPoolExecutor(
    max_workers=2, thread_name_prefix="media-decode", initializer=offload.lower_priority
)
# `warnings.catch_warnings` swaps process-wide state: one thread at a time changes it.
_warnings_lock = threading.Lock()
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


class _Rejected(Exception):
    """Raised inside the decoding thread; mapped to a translated `Invalid` by the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class EncodedImage:
    data: bytes
    width: int
    height: int


def _invalid(reason: str) -> Invalid:
    messages: dict[str, Callable[[], str]] = {
        "missing": lambda: _("Choose an image file to upload."),
        "format": lambda: _("This file is not a JPEG, PNG or WebP image."),
        "pixels": lambda: _(
            "This image has too many pixels (at most %(mp)d megapixels).",
            mp=MAX_PIXELS // 1_000_000,
        ),
        "pixels-lossless": lambda: _(
            "This image has too many pixels: a PNG or WebP image may have at most %(mp)d "
            "megapixels (a JPEG photo up to %(jpeg)d).",
            mp=MAX_FULL_DECODE_PIXELS // 1_000_000,
            jpeg=MAX_PIXELS // 1_000_000,
        ),
        "corrupt": lambda: _("This image could not be read. It may be damaged."),
    }
    message = messages[reason]()
    return Invalid(message, fields={"image": message})


def media_dir() -> Path:
    return get_settings().media_dir


def media_path(media_id: uuid.UUID | str, variant: str = "original") -> Path:
    """Where a variant lives. `media_id` must be a UUID (never a client-supplied path)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown media variant {variant!r}")
    return media_dir() / str(uuid.UUID(str(media_id))) / f"{variant}.webp"


def media_url(media_id: uuid.UUID | str, variant: str = "original") -> str:
    return f"/media/{media_id}/{variant}.webp"


# --- reading an upload ---------------------------------------------------------------------


async def read_upload(upload: object, limit: int | None = None) -> bytes:
    """The bytes of an uploaded file, read in chunks and stopped past the byte cap.

    `upload` is what the form gave for the field (a Starlette UploadFile, or a string or
    None when no file was sent). Raises TooLarge (413) past the cap, Invalid when empty.
    """
    limit = get_settings().max_upload_bytes if limit is None else limit
    read = getattr(upload, "read", None)
    if not callable(read) or isinstance(upload, str | bytes):
        raise _invalid("missing")
    chunks: list[bytes] = []
    total = 0
    while chunk := await read(READ_CHUNK_BYTES):
        total += len(chunk)
        if total > limit:
            message = _(
                "This file is too large: images may be at most %(mb)s MB.",
                mb=_megabytes(limit),
            )
            raise TooLarge(message, fields={"image": message})
        chunks.append(chunk)
    if not total:
        raise _invalid("missing")
    return b"".join(chunks)


def _megabytes(size: int) -> str:
    value = size / (1024 * 1024)
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


# --- decoding (runs in a thread) -------------------------------------------------------------


def _check_pixels(size: tuple[int, int], source_format: str | None) -> None:
    width, height = size
    if width < 1 or height < 1 or width * height > MAX_PIXELS:
        raise _Rejected("pixels")
    if source_format != "JPEG" and width * height > MAX_FULL_DECODE_PIXELS:
        raise _Rejected("pixels-lossless")


def _open(data: bytes) -> Image.Image:
    """Open (read the header only) with the format allow-list; refuse too many pixels.

    Pillow only warns between MAX_IMAGE_PIXELS and twice that: the warning is an error
    here, and MAX_PIXELS, far lower, is checked on the header's size.
    """
    with _warnings_lock, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image = Image.open(BytesIO(data), formats=list(ALLOWED_FORMATS))
    try:
        _check_pixels(image.size, image.format)  # from the header, before any pixel is decoded
    except _Rejected:
        image.close()
        raise
    return image


def _normalise_mode(image: Image.Image, source_format: str | None) -> Image.Image:
    """RGB, or RGBA when the image has transparency; sRGB when it carries an ICC profile."""
    keep_alpha = source_format != "JPEG" and image.has_transparency_data
    target = "RGBA" if keep_alpha else "RGB"
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):  # 16-bit PNG greys
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if image.mode not in ("RGB", "RGBA", "CMYK", "L") or (keep_alpha and image.mode != "RGBA"):
        image = image.convert(target)  # palettes, 1-bit, LA, transparency keys
    if icc := image.info.get("icc_profile"):
        try:
            source = ImageCms.ImageCmsProfile(BytesIO(icc))
            converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode=target)
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass  # a broken or mismatched profile: plain conversion below
    return image.convert(target) if image.mode != target else image


def _encode_webp(image: Image.Image, **options: Any) -> bytes:
    clean = image.copy()
    clean.info = {}  # never forward EXIF, ICC or XMP from the upload
    buffer = BytesIO()
    clean.save(buffer, "WEBP", **{**WEBP_OPTIONS, **options})
    return buffer.getvalue()


def _untrusted(step: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    """Any failure of `step` on untrusted bytes becomes a `_Rejected` with its reason."""

    @functools.wraps(step)
    def checked(data: bytes) -> Any:
        try:
            return step(data)
        except _Rejected:
            raise
        except UnidentifiedImageError as exc:
            raise _Rejected("format") from exc
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _Rejected("pixels") from exc
        except Exception as exc:  # untrusted bytes: any decoder failure is a bad upload
            raise _Rejected("corrupt") from exc

    return checked


@_untrusted
def _check(data: bytes) -> None:
    """The header and the file's structure (cheap: no pixel is decoded)."""
    with _open(data) as probe:
        probe.verify()


@_untrusted
def _decode(data: bytes) -> EncodedImage:
    with _open(data) as opened:
        if opened.format == "JPEG":  # let libjpeg scale down while decoding
            opened.draft(opened.mode, (ORIGINAL_MAX_SIDE, ORIGINAL_MAX_SIDE))
        opened.load()
        image = _normalise_mode(ImageOps.exif_transpose(opened), opened.format)
        image.thumbnail((ORIGINAL_MAX_SIDE, ORIGINAL_MAX_SIDE), Image.Resampling.LANCZOS)
        return EncodedImage(_encode_webp(image), image.width, image.height)


async def _in_decoder_pool(function: Callable[..., Any], *args: Any) -> Any:
    """`function(*args)` in the decoding pool (with this task's context), awaited."""
    call = functools.partial(contextvars.copy_context().run, function, *args)
    return await asyncio.get_running_loop().run_in_executor(_decoders, call)


async def decode_image(data: bytes) -> EncodedImage:
    """Check and re-encode image bytes off the event loop; Invalid (422) when refused."""
    try:
        # Refusals (format, pixel ceiling, broken structure) come at once, without waiting
        # for a decoder behind other uploads; only accepted images queue for one.
        await asyncio.to_thread(_check, data)
        return await _in_decoder_pool(_decode, data)
    except _Rejected as rejected:
        raise _invalid(rejected.reason) from None


# --- storing ------------------------------------------------------------------------------


def _write_atomically(path: Path, data: bytes) -> None:
    """Readers see either no file or the whole file (write, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


async def store_image(data: bytes, purpose: str) -> MediaFile:
    """Check, clean and store an uploaded image; its variants follow from a job.

    On any error nothing is left behind: no row, no file.
    """
    encoded = await decode_image(data)
    media_id = uuid.uuid4()
    folder = media_path(media_id).parent
    committed = False

    async def mark_committed() -> None:
        nonlocal committed
        committed = True

    try:
        async with atomic():
            await on_commit(mark_committed)  # first of the after-commit callbacks
            media = await MediaFile.create(
                id=media_id,
                purpose=purpose,
                content_type=CONTENT_TYPE,
                width=encoded.width,
                height=encoded.height,
                size_bytes=len(encoded.data),
                variants=[],
            )
            await asyncio.to_thread(_write_atomically, media_path(media_id), encoded.data)
            await jobs.enqueue(make_variants, str(media_id), job_id=f"media:{media_id}")
    except BaseException:
        if not committed:  # once the row is committed its file stays, whatever fails after
            await asyncio.to_thread(shutil.rmtree, folder, True)
        raise
    return media


async def upload_image(upload: object, purpose: str) -> MediaFile:
    """`read_upload` then `store_image` (for callers that hold the upload open)."""
    return await store_image(await read_upload(upload), purpose)


# --- the variants job ---------------------------------------------------------------------


def _make_variant_files(media_id: str) -> list[str]:
    """Make the missing variants from the stored original; the names that exist after."""
    original = media_path(media_id)
    made: list[str] = []
    missing = {n: s for n, s in VARIANT_SIDES.items() if not media_path(media_id, n).exists()}
    if missing:
        with Image.open(original, formats=["WEBP"]) as opened:
            opened.load()
            for name, side in missing.items():
                variant = opened.copy()
                variant.thumbnail((side, side), Image.Resampling.LANCZOS)
                _write_atomically(media_path(media_id, name), _encode_webp(variant, quality=80))
    for name in VARIANT_SIDES:
        if media_path(media_id, name).exists():
            made.append(name)
    return made


async def make_variants(ctx: dict[str, Any], media_id: str) -> list[str]:
    """Job: make the thumb and small WebP variants. Idempotent: existing files are kept."""
    media = await MediaFile.get_or_none(id=media_id)
    if media is None:
        return []  # the row is gone (or its transaction never committed): nothing to do
    made = await _in_decoder_pool(_make_variant_files, str(media.id))
    if sorted(made) != sorted(media.variants or []):
        media.variants = made
        await media.save(update_fields=["variants"])
    return made


# --- serving ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServedFile:
    path: Path
    stat: os.stat_result
    final: bool  # False when the original stands in for a variant not made yet


def _find(media_id: uuid.UUID, variant: str) -> ServedFile | None:
    for candidate in (variant, "original") if variant != "original" else ("original",):
        path = media_path(media_id, candidate)
        try:
            stat = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            continue
        return ServedFile(path, stat, final=candidate == variant)
    return None


async def find_file(media_id: str, variant: str) -> ServedFile | None:
    """The file to serve for `/media/<id>/<variant>.webp`, or None (unknown id or variant).

    A variant not made yet falls back to the original, so a page never shows a broken image.
    """
    if variant not in VARIANTS:
        return None
    try:
        parsed = uuid.UUID(media_id)
    except ValueError:
        return None
    if str(parsed) != media_id:  # one canonical URL per file
        return None
    return await asyncio.to_thread(_find, parsed, variant)
