"""Units, events, the single write path, the projection and its replay check."""
