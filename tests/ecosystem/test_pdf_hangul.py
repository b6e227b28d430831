"""PDFs with Korean text: Hangul is drawn with NanumGothic (a fallback of DejaVu Sans), so a
certificate or a receipt for a Korean name shows the name, not empty boxes."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from types import SimpleNamespace

import pypdf

from ecosystem import i18n, pdf
from ecosystem.payments.documents import receipt_pdf
from hackathon.models import CertificateKind
from hackathon.services.certificates import render_pdf


def fonts_and_text(document: bytes) -> tuple[set[str], str]:
    reader = pypdf.PdfReader(io.BytesIO(document))
    fonts: set[str] = set()
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            fonts.add(str(font.get_object()["/BaseFont"]).split("+")[-1])
    return fonts, "\n".join(page.extract_text() for page in reader.pages)


def test_a_korean_holders_certificate_shows_the_hangul_name():
    certificate = SimpleNamespace(
        kind=CertificateKind.JUDGE,
        holder_name="김민준",
        code="KR7Q2M9X",
        detail="스마트 시티 · 대전",
        issued_at=datetime(2027, 3, 20, 2, 0, tzinfo=UTC),
        contest=SimpleNamespace(title="Smart City Initiative Contest – 스마트 시티 공모전"),
    )
    with i18n.use_locale("vi", "Asia/Seoul"):
        document = render_pdf(certificate)  # type: ignore[arg-type]
    fonts, text = fonts_and_text(document)
    assert {"NanumGothicBold", "NanumGothic"} <= fonts
    assert "김민준" in text
    assert "스마트 시티 공모전" in text
    assert "20 tháng 3, 2027" in text  # Vietnamese next to it, with DejaVu


def test_a_receipt_for_a_korean_payer_shows_the_name():
    payment = SimpleNamespace(
        id=7,
        paid_at=datetime(2027, 3, 20, 2, 0, tzinfo=UTC),
        amount=150_000,
        currency="VND",
        credit_amount=0,
        refunded_amount=0,
        description="3D 프린터, FabLab EIU",
        issuer={"name": "FabLab EIU"},
        issuer_key="lab:3",
        receipt_number=42,
        created_at=datetime(2027, 3, 20, 2, 0, tzinfo=UTC),
    )
    with i18n.use_locale("en", "Asia/Seoul"):
        document = receipt_pdf(payment, "이서연", "Card")  # type: ignore[arg-type]
    fonts, text = fonts_and_text(document)
    assert "NanumGothic" in fonts
    assert "이서연" in text and "3D 프린터" in text
    assert "LAB3-000042" in text


def test_a_vietnamese_document_keeps_dejavu():
    document = pdf.new_document("Biên nhận")
    document.cell(text="Phòng thí nghiệm chế tạo")
    fonts, text = fonts_and_text(pdf.render(document))
    assert "DejaVuSansBook" in fonts
    assert "Phòng thí nghiệm chế tạo" in text
