"""Detection of prostitution ads and the luring of minors in public posts (issue 8)."""
