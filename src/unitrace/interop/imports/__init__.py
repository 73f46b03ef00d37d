"""Imports of spreadsheets (CSV, .xlsx): master data, units and events, checked row by row
(dry run), written through the one write pipeline (`engine`), run as jobs (`service`)."""
