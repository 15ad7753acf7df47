"""Data selection after dedup: quality scores, semantic dedup, budgets (the `mixlab curate` stage "select")."""
