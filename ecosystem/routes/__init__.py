"""The kernel's HTML pages, one module per area."""
