"""The lab network's HTML pages, one module per area."""
