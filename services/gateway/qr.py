"""QR codes as inline SVG (segno), for printed token slips."""

from __future__ import annotations

import segno


def qr_svg(text: str) -> str:
    """An SVG element (no XML declaration) that scales to its box."""
    svg: str = segno.make(text, error="m").svg_inline(scale=4, border=2, omitsize=True)
    return svg
