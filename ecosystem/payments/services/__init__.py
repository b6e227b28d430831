"""Every money rule of the platform, one module per job (ecosystem.payments' services room).

- `ledger` – the double-entry credit ledger (accounts, transfers, grants, the credit a payment
  uses and gives back);
- `common` – payment states and their order, the packages' payment hooks, the Stripe client,
  receipt numbers, the names of the payment jobs;
- `vnpay` – VNPay's protocol: the signed payment URL, IPN checks, `querydr` and `refund`
  (no database);
- `budgets` – platform admins fund issuers' budgets;
- `billing` – who may bill an organisation, and the balances a person may spend;
- `statements` – payments and receipts as their readers may see them, payments settled at
  the lab, organisations' monthly statements;
- `checkout` – creating a payment, the online hold and where it is paid (the provider seam:
  a Stripe Checkout Session or a VNPay payment URL), releasing holds;
- `refunds` – a cancelled subject's payment voided or refunded, card refunds sent once
  (Stripe's Refund API or VNPay's `refund`);
- `webhooks` – Stripe's verified events and VNPay's IPNs, applied at most once; holds due
  are checked with VNPay's `querydr` before they are released.

A module imports only modules listed above it, so there is no circle among them; jobs are
started by name (`common.*_JOB`), as ecosystem.payments.jobs imports the services.
"""
