"""The two lifecycles: enqueue (dedup + push) and execute (claim, run, record)."""
