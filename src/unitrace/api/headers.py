"""Security headers on every answer: pages, API, static files, problems and the scan fast path.

A pure ASGI wrapper around `send` rather than a middleware added to the app: `UnitraceApp`
answers scans ahead of the middleware stack (and stops doing so when middleware is added), so
the headers are put on in `UnitraceApp.__call__`, where both branches pass.

The policy allows scripts, styles, images, fonts and connections from this server only. Pages
keep no inline script or event handler (their data comes in `<script type="application/json">`
blocks, which are not run); `style-src-attr 'unsafe-inline'` lets charts and the pages' few
`style="…"` attributes (bar widths, indentation) work, while `<style>` elements stay refused.
`'wasm-unsafe-eval'` lets the camera's barcode reader (`web/static/zxing-reader.js`) compile
its WebAssembly, served from here; string evaluation (`eval`, `new Function`) stays refused.
"""

from __future__ import annotations

from starlette.types import Message, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "style-src 'self'",
        "style-src-attr 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    )
)
HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)
# Only over https: a browser ignores it over http, and a server reached over http has no
# certificate to hold the browser to.
HSTS = (b"strict-transport-security", b"max-age=31536000")
_NAMES = frozenset(name for name, _value in (*HEADERS, HSTS))


def with_security_headers(scope: Scope, send: Send) -> Send:
    """`send`, adding the security headers to the start of an HTTP answer (a header the answer
    sets itself is kept)."""
    if scope["type"] != "http":
        return send

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            # the scheme when the answer starts: a trusted proxy's X-Forwarded-Proto has been
            # believed by then (`api.limits`)
            added = (*HEADERS, HSTS) if scope.get("scheme") == "https" else HEADERS
            headers = list(message.get("headers", ()))
            present = {name.lower() for name, _value in headers if name.lower() in _NAMES}
            headers.extend(header for header in added if header[0] not in present)
            message = {**message, "headers": headers}
        await send(message)

    return send_with_headers
