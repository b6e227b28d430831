"""Certificates as PDF (fpdf2 + DejaVu, via ecosystem.pdf) with a verification code and a QR
code that opens the public verification page `/contests/certificates/{code}`."""

from __future__ import annotations

import qrcode

from ecosystem import pdf
from ecosystem.content import tr
from ecosystem.i18n import _, format_day
from ecosystem.labels import N_
from ecosystem.settings import get_settings
from hackathon.models import Certificate, CertificateKind

KIND_TITLES = {
    CertificateKind.PARTICIPANT: N_("Certificate of participation"),
    CertificateKind.JUDGE: N_("Certificate of appreciation for judging"),
    CertificateKind.WINNER: N_("Certificate of achievement"),
}


def verification_url(code: str) -> str:
    return f"{get_settings().base_url}/contests/certificates/{code}"


def render_pdf(certificate: Certificate) -> bytes:
    """An A4 landscape certificate in the current locale."""
    contest = certificate.contest
    document = pdf.new_document(_(KIND_TITLES[certificate.kind]), orientation="landscape")
    document.set_draw_color(20, 90, 140)
    document.set_line_width(1.2)
    document.rect(10, 10, 277, 190)
    document.set_y(30)
    document.set_font(pdf.FAMILY, "B", 26)
    document.cell(0, 14, _(KIND_TITLES[certificate.kind]), align="C", new_x="LMARGIN", new_y="NEXT")
    document.set_font(pdf.FAMILY, "", 14)
    document.ln(6)
    document.cell(0, 10, _("awarded to"), align="C", new_x="LMARGIN", new_y="NEXT")
    document.set_font(pdf.FAMILY, "B", 22)
    document.cell(0, 14, certificate.holder_name, align="C", new_x="LMARGIN", new_y="NEXT")
    document.set_font(pdf.FAMILY, "", 14)
    document.ln(4)
    document.multi_cell(0, 8, tr(contest, "title"), align="C", new_x="LMARGIN", new_y="NEXT")
    if certificate.detail:
        document.multi_cell(0, 8, certificate.detail, align="C", new_x="LMARGIN", new_y="NEXT")
    document.ln(4)
    document.set_font(pdf.FAMILY, "", 11)
    document.cell(
        0,
        8,
        _("Issued on %(day)s", day=format_day(certificate.issued_at, "long")),
        align="C",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    url = verification_url(certificate.code)
    image = qrcode.make(url, box_size=8, border=2).get_image()
    document.image(image, x=235, y=145, w=45, h=45)
    document.set_xy(20, 170)
    document.set_font(pdf.FAMILY, "", 10)
    document.cell(
        200,
        6,
        _("Verification code: %(code)s", code=certificate.code),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    document.set_x(20)
    document.cell(200, 6, url)
    return pdf.render(document)
