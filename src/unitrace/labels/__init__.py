"""Labels: templates (what a label shows, where), rendering to PDF, ZPL, PNG and SVG."""
