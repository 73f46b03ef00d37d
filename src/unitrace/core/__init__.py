"""Pure rules: serial templates, check digits, lifecycle, typed errors. Standard library only."""
