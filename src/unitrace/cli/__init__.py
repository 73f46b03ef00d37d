"""The `unitrace` command (Typer + Rich)."""
