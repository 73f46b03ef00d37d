"""Authenticity (issue 16): public verification codes, the public verification page, clone
detection, and registration and ownership by the buyer. See docs/verify.md."""
