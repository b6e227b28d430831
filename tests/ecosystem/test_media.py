"""Image uploads (avatars, logos): checks, cleaning, variants and serving, at the HTTP level."""

from __future__ import annotations

import io
import struct
import uuid
import zlib

import pytest
from PIL import ExifTags, Image, ImageCms

from ecosystem import jobs
from ecosystem.media import make_variants
from ecosystem.models import MediaFile, Organisation, User
from tests.conftest import add_member, make_organisation, make_user

IMMUTABLE = "public, max-age=31536000, immutable"


# --- images built in memory ------------------------------------------------------------------


def image_bytes(fmt: str, size=(120, 80), mode="RGB", colour=(200, 30, 40), **save) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, colour).save(buffer, fmt, **save)
    return buffer.getvalue()


def two_colour_jpeg(exif: Image.Exif | None = None, icc: bytes | None = None) -> bytes:
    """60×30: the left half red, the right half blue."""
    image = Image.new("RGB", (60, 30), (255, 0, 0))
    image.paste((0, 0, 255), (30, 0, 60, 30))
    buffer = io.BytesIO()
    options = {"quality": 95}
    if exif is not None:
        options["exif"] = exif
    if icc is not None:
        options["icc_profile"] = icc
    image.save(buffer, "JPEG", **options)
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of one colour: tiny on the wire, huge once decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" * (1 + (width + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def files_in(settings) -> list:
    root = settings.media_dir
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def signed_in(browser, email="lan@example.vn"):
    user = await make_user(email, locale="en")  # the messages below are asserted in English
    await browser.login(email)
    await browser.get("/account")
    return user


async def post_avatar(browser, data: bytes, filename="photo.jpg", content_type="image/jpeg"):
    return await browser.post("/account/avatar", files={"image": (filename, data, content_type)})


async def assert_nothing_written(settings, user=None):
    assert await MediaFile.all().count() == 0
    assert files_in(settings) == []
    if user is not None:
        assert (await User.get(id=user.id)).avatar_id is None


# --- valid uploads ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "filename", "content_type"),
    [
        ("JPEG", "photo.jpg", "image/jpeg"),
        ("PNG", "photo.png", "image/png"),
        ("WEBP", "photo.webp", "image/webp"),
    ],
)
async def test_avatar_upload_is_stored_served_and_gets_variants(
    browser, settings, fmt, filename, content_type
):
    user = await signed_in(browser)
    response = await post_avatar(browser, image_bytes(fmt, (600, 400)), filename, content_type)
    assert response.status_code == 303
    assert response.headers["location"] == "/account"

    media = await MediaFile.get()
    assert (await User.get(id=user.id)).avatar_id == media.id
    assert (media.purpose, media.content_type, media.width, media.height) == (
        "avatar",
        "image/webp",
        600,
        400,
    )
    original = settings.media_dir / str(media.id) / "original.webp"
    assert original.is_file() and original.stat().st_size == media.size_bytes

    page = await browser.get("/account")
    assert "Your profile picture has been updated." in page.text
    assert f'src="/media/{media.id}/thumb.webp"' in page.text

    served = await browser.get(f"/media/{media.id}/original.webp")
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/webp"
    assert served.headers["cache-control"] == IMMUTABLE
    with Image.open(io.BytesIO(served.content)) as image:
        assert (image.format, image.size) == ("WEBP", (600, 400))

    await jobs.drain()
    await media.refresh_from_db()
    assert sorted(media.variants) == ["small", "thumb"]
    for variant, box in (("thumb", 256), ("small", 64)):
        served = await browser.get(f"/media/{media.id}/{variant}.webp")
        assert served.status_code == 200
        assert served.headers["cache-control"] == IMMUTABLE
        with Image.open(io.BytesIO(served.content)) as image:
            assert image.format == "WEBP"
            assert max(image.size) == box and image.size[0] > image.size[1]


async def test_png_transparency_is_kept(browser, settings):
    await signed_in(browser)
    data = image_bytes("PNG", (50, 50), mode="RGBA", colour=(10, 200, 10, 0))
    assert (await post_avatar(browser, data, "t.png", "image/png")).status_code == 303
    media = await MediaFile.get()
    with Image.open(settings.media_dir / str(media.id) / "original.webp") as image:
        assert image.mode == "RGBA"
        assert image.getpixel((25, 25))[3] == 0


async def test_exif_orientation_applied_and_metadata_stripped(browser, settings):
    await signed_in(browser)
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # "rotate 90° clockwise to display"
    exif[ExifTags.Base.Make] = "SecretCam"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (10.0, 58.0, 12.0)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = two_colour_jpeg(exif, icc)
    with Image.open(io.BytesIO(data)) as check:  # the upload really carries the metadata
        assert check.getexif().get_ifd(ExifTags.IFD.GPSInfo) and "icc_profile" in check.info

    assert (await post_avatar(browser, data)).status_code == 303
    media = await MediaFile.get()
    assert (media.width, media.height) == (30, 60)  # swapped: turned upright
    stored = settings.media_dir / str(media.id) / "original.webp"
    raw = stored.read_bytes()
    assert b"SecretCam" not in raw and b"Exif" not in raw and b"ICCP" not in raw
    with Image.open(stored) as image:
        assert image.size == (30, 60)
        assert "exif" not in image.info and "icc_profile" not in image.info
        assert "xmp" not in image.info
        assert len(image.getexif()) == 0
        image = image.convert("RGB")
        top, bottom = image.getpixel((15, 5)), image.getpixel((15, 55))
    assert top[0] > 200 and top[2] < 60  # the left (red) half is now on top
    assert bottom[2] > 200 and bottom[0] < 60

    await jobs.drain()
    with Image.open(settings.media_dir / str(media.id) / "thumb.webp") as thumb:
        assert len(thumb.getexif()) == 0 and thumb.size == (30, 60)


async def test_a_large_photo_is_bounded(browser, settings):
    await signed_in(browser)
    assert (await post_avatar(browser, image_bytes("JPEG", (4000, 1000)))).status_code == 303
    media = await MediaFile.get()
    assert (media.width, media.height) == (2048, 512)


async def test_a_jpeg_may_have_more_pixels_than_a_png(browser, settings):
    # libjpeg decodes it at a reduced scale; a PNG this size is refused (see below).
    await signed_in(browser)
    photo = image_bytes("JPEG", (5000, 4000))  # 20 MP
    assert (await post_avatar(browser, photo)).status_code == 303
    media = await MediaFile.get()
    assert (media.width, media.height) == (2048, 1638)


# --- refused uploads: a 4xx with the message next to the field, nothing written ---------------


async def test_upload_past_the_byte_cap_is_413_and_writes_nothing(browser, settings):
    user = await signed_in(browser)
    data = image_bytes("PNG", (10, 10)) + b"\0" * settings.max_upload_bytes  # just past the cap
    response = await post_avatar(browser, data, "big.png", "image/png")
    assert response.status_code == 413
    assert "too large: images may be at most 5 MB" in response.text
    assert 'id="e-avatar"' in response.text  # next to the upload field, on the account page
    await assert_nothing_written(settings, user)


async def test_body_far_past_the_cap_is_refused_before_parsing(browser, settings):
    user = await signed_in(browser)
    data = b"\xff" * (settings.max_upload_bytes + 1024 * 1024)
    response = await post_avatar(browser, data, "huge.jpg")
    assert response.status_code == 413
    await assert_nothing_written(settings, user)


@pytest.mark.parametrize(
    ("data", "filename", "content_type", "message"),
    [
        (b"just some text, not an image\n" * 20, "notes.png", "image/png", "not a JPEG, PNG"),
        (image_bytes("GIF", mode="P", colour=1), "anim.gif", "image/gif", "not a JPEG, PNG"),
        (image_bytes("BMP"), "old.bmp", "image/bmp", "not a JPEG, PNG"),
        (image_bytes("TIFF"), "scan.png", "image/png", "not a JPEG, PNG"),
        (png_claiming(12000, 12000), "bomb.png", "image/png", "too many pixels"),
        (png_claiming(8000, 6000), "48mp.png", "image/png", "too many pixels"),
        (
            png_claiming(6300, 6300),
            "40mp.png",
            "image/png",
            "a PNG or WebP image may have at most 16 megapixels",
        ),
        (
            image_bytes("JPEG", (800, 800), colour=(1, 2, 3))[:400],
            "cut.jpg",
            "image/jpeg",
            "could not be read",
        ),
    ],
    ids=[
        "text",
        "gif",
        "bmp",
        "tiff-renamed",
        "bomb-144mp",
        "bomb-48mp",
        "png-40mp",
        "truncated-jpeg",
    ],
)
async def test_bad_images_are_422_with_the_reason(
    browser, settings, data, filename, content_type, message
):
    user = await signed_in(browser)
    response = await post_avatar(browser, data, filename, content_type)
    assert response.status_code == 422
    assert message in response.text
    assert 'aria-invalid="true" aria-describedby="e-avatar"' in response.text
    await assert_nothing_written(settings, user)


async def test_no_file_chosen_is_422(browser, settings):
    user = await signed_in(browser)
    response = await post_avatar(browser, b"", "", "application/octet-stream")
    assert response.status_code == 422
    assert "Choose an image file to upload." in response.text
    response = await browser.post("/account/avatar", {"image": "not a file"})
    assert response.status_code == 422
    await assert_nothing_written(settings, user)


async def test_anonymous_upload_goes_to_sign_in(browser, settings):
    response = await post_avatar(browser, image_bytes("JPEG"))
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")
    await assert_nothing_written(settings)


async def test_upload_without_csrf_token_is_refused(client, settings):
    await make_user("lan@example.vn")
    files = {"image": ("a.jpg", image_bytes("JPEG"), "image/jpeg")}
    response = await client.post("/account/avatar", files=files)
    assert response.status_code == 403
    await assert_nothing_written(settings)


# --- organisation logos -----------------------------------------------------------------------


async def test_organisation_admin_uploads_a_logo(browser, settings):
    owner = await signed_in(browser, "owner@eiu.edu.vn")
    organisation = await make_organisation(owner)
    response = await browser.post(
        f"/organisations/{organisation.slug}/logo",
        files={"image": ("logo.png", image_bytes("PNG", (300, 300)), "image/png")},
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/organisations/{organisation.slug}"
    media = await MediaFile.get()
    assert media.purpose == "logo"
    assert (await Organisation.get(id=organisation.id)).logo_id == media.id
    page = await browser.get(f"/organisations/{organisation.slug}")
    assert f'src="/media/{media.id}/thumb.webp"' in page.text
    assert "The logo has been updated." in page.text


async def test_bad_logo_is_shown_next_to_the_field(browser, settings):
    owner = await signed_in(browser, "owner@eiu.edu.vn")
    organisation = await make_organisation(owner)
    response = await browser.post(
        f"/organisations/{organisation.slug}/logo",
        files={"image": ("logo.png", b"<svg></svg>", "image/png")},
    )
    assert response.status_code == 422
    assert 'id="e-logo"' in response.text and "not a JPEG, PNG or WebP image" in response.text
    assert organisation.name in response.text
    assert (await Organisation.get(id=organisation.id)).logo_id is None
    await assert_nothing_written(settings)


async def test_member_who_is_not_admin_cannot_upload_a_logo(browser, settings):
    owner = await make_user("owner@eiu.edu.vn")
    organisation = await make_organisation(owner)
    member = await signed_in(browser, "student@eiu.edu.vn")
    await add_member(member, organisation, "member")
    response = await browser.post(
        f"/organisations/{organisation.slug}/logo",
        files={"image": ("logo.png", image_bytes("PNG"), "image/png")},
    )
    assert response.status_code == 403
    assert (await Organisation.get(id=organisation.id)).logo_id is None
    await assert_nothing_written(settings)


async def test_anonymous_logo_upload_goes_to_sign_in(browser, settings):
    owner = await make_user("owner@eiu.edu.vn")
    organisation = await make_organisation(owner)
    response = await browser.post(
        f"/organisations/{organisation.slug}/logo",
        files={"image": ("logo.png", image_bytes("PNG"), "image/png")},
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")
    await assert_nothing_written(settings)


# --- serving ----------------------------------------------------------------------------------


async def test_a_variant_not_made_yet_falls_back_to_the_original(browser, settings):
    await signed_in(browser)
    assert (await post_avatar(browser, image_bytes("JPEG", (500, 500)))).status_code == 303
    await jobs.drain()
    media = await MediaFile.get()
    folder = settings.media_dir / str(media.id)
    (folder / "thumb.webp").unlink()

    served = await browser.get(f"/media/{media.id}/thumb.webp")
    assert served.status_code == 200
    assert served.headers["cache-control"] == "public, max-age=60"
    assert served.content == (folder / "original.webp").read_bytes()

    # The job is idempotent: it makes only what is missing and keeps the rest.
    small_before = (folder / "small.webp").stat().st_mtime_ns
    assert sorted(await make_variants({}, str(media.id))) == ["small", "thumb"]
    assert (folder / "small.webp").stat().st_mtime_ns == small_before
    served = await browser.get(f"/media/{media.id}/thumb.webp")
    assert served.headers["cache-control"] == IMMUTABLE
    with Image.open(io.BytesIO(served.content)) as image:
        assert image.size == (256, 256)


@pytest.mark.parametrize(
    "path",
    [
        f"/media/{uuid.UUID(int=0x35DDC997AF3745)}/original.webp",
        f"/media/{uuid.UUID(int=0x10D30BDA7131)}/thumb.webp",
        "/media/not-a-uuid/original.webp",
        "/media/..%2F..%2Fsecret_key/original.webp",
        "/media/%2E%2E/original.webp",
    ],
)
async def test_unknown_media_is_404(client, path):
    response = await client.get(path)
    assert response.status_code == 404


async def test_unknown_variant_or_non_canonical_id_is_404(browser, settings):
    await signed_in(browser)
    assert (await post_avatar(browser, image_bytes("JPEG"))).status_code == 303
    media = await MediaFile.get()
    assert (await browser.get(f"/media/{media.id}/original.webp")).status_code == 200
    assert (await browser.get(f"/media/{media.id}/huge.webp")).status_code == 404
    assert (await browser.get(f"/media/{media.id}/original.png")).status_code == 404
    assert (await browser.get(f"/media/{str(media.id).upper()}/original.webp")).status_code == 404
    assert (await browser.get(f"/media/{media.id.hex}/original.webp")).status_code == 404
