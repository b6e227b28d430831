"""Receipts (PDF) and monthly statements (CSV/.xlsx and PDF), in the reader's language."""

from __future__ import annotations

from ecosystem import pdf
from ecosystem.i18n import _, format_dt, format_money
from ecosystem.payments.models import Payment
from ecosystem.payments.services.statements import Statement, billed_due
from ecosystem.tabular import Table


def receipt_title(payment: Payment) -> str:
    return _("Receipt %(number)s", number=receipt_code(payment))


def receipt_code(payment: Payment) -> str:
    """`<issuer>-<number>`, e.g. LAB3-000042: sequential per issuer."""
    issuer = payment.issuer_key.split(":")[-1]
    return f"LAB{issuer}-{payment.receipt_number or 0:06d}"


def _issuer_lines(issuer: dict[str, str]) -> list[str]:
    lines = [issuer.get("name", "")]
    if issuer.get("host"):
        lines.append(_("Hosted by %(host)s", host=issuer["host"]))
    for key in ("address", "email", "phone"):
        if issuer.get(key):
            lines.append(issuer[key])
    return [line for line in lines if line]


def receipt_pdf(payment: Payment, payer_name: str, method_label: str) -> bytes:
    document = pdf.new_document(receipt_title(payment))
    document.set_font(pdf.FAMILY, "B", 16)
    document.cell(0, 10, receipt_title(payment), new_x="LMARGIN", new_y="NEXT")
    document.set_font(pdf.FAMILY, size=11)
    for line in _issuer_lines(payment.issuer):
        document.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    document.ln(4)
    rows = [
        (_("Paid on"), format_dt(payment.paid_at, "medium")),
        (_("Paid by"), payer_name),
        (_("For"), payment.description),
        (_("Amount"), format_money(payment.amount, payment.currency)),
    ]
    if payment.credit_amount:
        rows.append((_("From credit"), format_money(payment.credit_amount, payment.currency)))
    rows.append((_("Method"), method_label))
    if payment.refunded_amount:
        rows.append((_("Refunded"), format_money(payment.refunded_amount, payment.currency)))
    for label, value in rows:
        document.set_font(pdf.FAMILY, "B", 11)
        document.cell(45, 7, label)
        document.set_font(pdf.FAMILY, size=11)
        document.multi_cell(0, 7, value, new_x="LMARGIN", new_y="NEXT")
    return pdf.render(document)


def statement_table(found: Statement) -> Table:
    """The statement as a table (CSV/.xlsx): one row per payment, then the total."""
    rows: list[list] = [
        [
            payment.id,
            payment.created_at.date(),
            payment.description,
            payment.user.full_name,
            payment.amount - payment.credit_amount,
            billed_due(payment),
            payment.currency,
        ]
        for payment in found.payments
    ]
    rows.append([None, None, "total", None, None, found.total, "VND"])
    return Table(
        columns=["payment_id", "date", "description", "member", "amount", "due", "currency"],
        rows=rows,
        sheet=f"statement {found.period}",
    )


def statement_title(found: Statement) -> str:
    return _(
        "Statement %(period)s: %(organisation)s",
        period=found.period,
        organisation=found.organisation.name,
    )


def statement_pdf(found: Statement) -> bytes:
    document = pdf.new_document(statement_title(found))
    document.set_font(pdf.FAMILY, "B", 14)
    document.multi_cell(0, 8, statement_title(found), new_x="LMARGIN", new_y="NEXT")
    document.set_font(pdf.FAMILY, size=10)
    for line in _issuer_lines(found.issuer):
        document.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    document.ln(3)
    for payment in found.payments:
        document.multi_cell(
            0,
            6,
            f"{payment.created_at.date().isoformat()}  {payment.description}  "
            f"({payment.user.full_name})  {format_money(billed_due(payment), payment.currency)}",
            new_x="LMARGIN",
            new_y="NEXT",
        )
    document.ln(2)
    document.set_font(pdf.FAMILY, "B", 11)
    document.cell(0, 8, _("Total: %(total)s", total=format_money(found.total, "VND")))
    return pdf.render(document)
