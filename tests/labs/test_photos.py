"""Photos of a lab and its machines: the lab's staff upload them through the media pipeline
(re-encoded, variants by a job), everyone sees them on the lab's and the machine's pages, and
nobody else may add or remove one."""

from __future__ import annotations

import io

from PIL import Image

from ecosystem import jobs
from ecosystem.models import MediaFile
from labs.models import LabStaff, Photo
from tests.conftest import add_member, person
from tests.labs.conftest import make_equipment, make_host, make_lab


def png(size=(900, 600), colour=(20, 120, 90)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


async def staffed_lab():
    host = await make_host()
    lab = await make_lab(host, is_published=True)
    printer = await make_equipment(lab, "Prusa MK4")
    staff = await person("staff@becamex.com.vn")
    await LabStaff.create(lab=lab, user=staff)
    return host, lab, printer, staff


async def upload(browser, lab, data: bytes, **fields):
    return await browser.post(
        f"/labs/{lab.slug}/photos", fields, files={"photo": ("lab.png", data, "image/png")}
    )


async def test_staff_add_photos_that_everyone_sees_then_remove_one(new_browser, settings):
    _host, lab, printer, staff = await staffed_lab()
    browser = new_browser(lang="en")
    await browser.login(staff.email)
    assert (await browser.get(f"/labs/{lab.slug}/photos")).status_code == 200
    added = await upload(browser, lab, png(), caption="The  workshop")
    assert added.status_code == 303, added.text[:500]
    machine = await upload(browser, lab, png((400, 800)), equipment_id=str(printer.id))
    assert machine.status_code == 303
    await jobs.drain()  # the variants

    photos = await Photo.all().order_by("id")
    assert [(p.equipment_id, p.caption) for p in photos] == [
        (None, "The workshop"),
        (printer.id, ""),
    ]
    lab_media = await MediaFile.get(id=photos[0].media_id)
    assert (lab_media.purpose, lab_media.content_type) == ("labs_photo", "image/webp")
    assert sorted(lab_media.variants) == ["small", "thumb"]

    anonymous = new_browser(lang="en")
    lab_page = await anonymous.get(f"/labs/{lab.slug}")
    assert f"/media/{photos[0].media_id}/thumb.webp" in lab_page.text
    machine_page = await anonymous.get(f"/equipment/{printer.id}")
    assert f"/media/{photos[1].media_id}/thumb.webp" in machine_page.text
    assert f"/media/{photos[0].media_id}/" not in machine_page.text  # the lab's own, not here
    thumb = await anonymous.get(f"/media/{photos[1].media_id}/thumb.webp")
    assert thumb.status_code == 200
    with Image.open(io.BytesIO(thumb.content)) as image:
        assert image.format == "WEBP" and max(image.size) == 256

    removed = await browser.post(f"/labs/{lab.slug}/photos/{photos[0].id}/remove")
    assert removed.status_code == 303
    assert not await Photo.exists(id=photos[0].id)
    assert not await MediaFile.exists(id=photos[0].media_id)
    assert not (settings.media_dir / str(photos[0].media_id)).exists()
    assert (await anonymous.get(f"/media/{photos[0].media_id}/thumb.webp")).status_code == 404


async def test_what_is_not_a_photo_is_refused_and_nothing_is_stored(new_browser):
    _host, lab, printer, staff = await staffed_lab()
    browser = new_browser(lang="en")
    await browser.login(staff.email)
    refused = await upload(browser, lab, b"%PDF-1.4 not an image", caption="kept")
    assert refused.status_code == 422
    assert 'role="alert"' in refused.text and 'value="kept"' in refused.text
    other = await make_equipment(await make_lab(await make_host("Other"), "Other Lab"), "Laser")
    wrong = await upload(browser, lab, png(), equipment_id=str(other.id))
    assert wrong.status_code == 404
    nonsense = await upload(browser, lab, png(), equipment_id="x")
    assert nonsense.status_code == 404
    assert not await Photo.exists() and not await MediaFile.exists()


async def test_only_the_labs_verified_staff_add_or_remove_photos(new_browser):
    host, lab, printer, staff = await staffed_lab()
    photo_browser = new_browser(lang="en")
    await photo_browser.login(staff.email)
    await upload(photo_browser, lab, png())
    photo = await Photo.get()
    other_lab = await make_lab(await make_host("Other"), "Other Lab")
    other_staff = await person("other@lab.vn")
    await LabStaff.create(lab=other_lab, user=other_staff)
    member = await person("member@becamex.com.vn")
    await add_member(member, host)
    unverified = await person("unverified@becamex.com.vn", verified=False)
    await LabStaff.create(lab=lab, user=unverified)
    stranger = await person("stranger@example.org")
    for who in (other_staff, member, unverified, stranger):
        browser = new_browser(lang="en")
        await browser.login(who.email)
        assert (await browser.get(f"/labs/{lab.slug}/photos")).status_code == 403, who.email
        assert (await upload(browser, lab, png())).status_code == 403, who.email
        removed = await browser.post(f"/labs/{lab.slug}/photos/{photo.id}/remove")
        assert removed.status_code == 403, who.email
    anonymous = await new_browser(lang="en").get(f"/labs/{lab.slug}/photos")
    assert anonymous.status_code in (302, 303, 401)
    assert await Photo.filter(lab_id=lab.id).count() == 1
