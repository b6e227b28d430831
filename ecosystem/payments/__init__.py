"""Payment documents (receipts, statements). The rules are in ecosystem.services.payments."""
