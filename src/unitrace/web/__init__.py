"""Web pages: Jinja2 + htmx, in Simplified Chinese and English."""
