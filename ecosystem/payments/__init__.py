"""Payments: Stripe Checkout, webhooks, holds, refunds, statements, receipts and the credit
ledger, as a room of the kernel with the same layout as a domain package.

- `models` – Payment, Refund, PaymentEvent, ReceiptCounter, BillingPermit, StatementMark and
  the ledger's CreditAccount, CreditTransfer, CreditEntry (tortoise app `ecosystem`, loaded
  with ecosystem.models; migrations in ecosystem/migrations);
- `services/` – every money rule, one module per job: checkout, webhooks, refunds,
  statements, billing, ledger, budgets, and common (see its package docstring);
- `routes` – the HTML pages (payment, receipt, statements, credits, billing permits, the
  admins' `/admin/budgets`) and the Stripe webhook;
- `api` – `GET /api/v1/credits`;
- `jobs` – holds released, Checkout Sessions expired, card refunds sent, and their cron;
- `documents` – receipts and statements as PDF and CSV/xlsx;
- `schemas` – the JSON shapes, shared with the packages' APIs (a booking's payment).

Tests: tests/payments/.
"""
