"""unitrace: serial-number management and unit-level traceability (一物一码)."""

__version__ = "0.1.0"
