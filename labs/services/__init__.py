"""Business rules of the lab network: every function takes an explicit actor."""
