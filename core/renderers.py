"""DRF's browsable API under the portal's Content-Security-Policy."""

from __future__ import annotations

from csp.constants import UNSAFE_INLINE
from rest_framework import renderers


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """The browsable API styles its pages inline (Pygments' code style, a few style="" attributes in
    DRF's templates): its HTML responses, and only they, allow inline styles. Scripts stay 'self'."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is not None:
            response._csp_update = {"style-src": [UNSAFE_INLINE]}
        return super().render(data, accepted_media_type, renderer_context)
