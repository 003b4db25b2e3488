"""Privacy: consent ledger, data subject requests (access, erasure), suppression, retention."""
