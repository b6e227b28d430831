"""Every money rule of the platform, one module per job (ecosystem.payments' services room).

- `common` – states and their order, the packages' payment hooks, the Stripe client, receipt
  numbers, the names of the payment jobs;
- `ledger` – the double-entry credit ledger (accounts, transfers, grants, credit a payment
  uses and gives back);
- `budgets` – platform admins fund issuers' budgets;
- `billing` – who may bill an organisation, and the balances a person may spend;
- `checkout` – creating a payment, the card hold and its Checkout Session, releasing holds;
- `refunds` – a cancelled subject's payment voided or refunded, card refunds sent once;
- `webhooks` – Stripe's verified events, applied at most once;
- `statements` – payments and receipts as their readers may see them, payments settled at
  the lab, organisations' monthly statements.

Imports run down this list's reverse order only (webhooks → refunds, checkout → billing,
ledger → common), never back.
"""
