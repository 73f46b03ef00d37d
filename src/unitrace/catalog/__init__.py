"""Products, lots, parties and locations."""
