"""Make a Folium page self-contained: inline the JavaScript and CSS it loads from CDNs.

``map.html`` must open with no internet access but the tiles (the plan contract): officials often
work on intranets where public CDNs are blocked, and a map whose Leaflet does not load is a blank
page. The files inlined are vendored in ``gridplan/_vendor`` (licences in ``LICENSES.md`` there).
"""

from __future__ import annotations

import logging
import re
from functools import cache
from importlib import resources

__all__ = ["external_assets", "inline_assets"]

logger = logging.getLogger(__name__)

#: File name at the end of a CDN URL -> vendored file.
_VENDORED: dict[str, str] = {
    "leaflet.js": "leaflet.js",
    "leaflet.css": "leaflet.css",
    "leaflet-search.min.js": "leaflet-search.min.js",
    "leaflet-search.min.css": "leaflet-search.min.css",
    "Control.FullScreen.min.js": "Control.FullScreen.js",
    "Control.FullScreen.js": "Control.FullScreen.js",
    "Control.FullScreen.css": "Control.FullScreen.css",
}

_SCRIPT = re.compile(r'<script[^>]*\ssrc="(https?://[^"]+)"[^>]*>\s*</script>')
_LINK = re.compile(r'<link[^>]*\shref="(https?://[^"]+\.css)"[^>]*/?>')


@cache
def _vendored(name: str) -> str:
    return resources.files("gridplan._vendor").joinpath(name).read_text(encoding="utf-8")


def _name(url: str) -> str:
    return url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def inline_assets(html: str) -> str:
    """Replace every ``<script src>`` and stylesheet ``<link>`` to a vendored file by its content.

    Assets that are not vendored are left as links and logged, so a new plugin that needs the
    network is noticed rather than silently broken.
    """

    def script(m: re.Match[str]) -> str:
        name = _VENDORED.get(_name(m.group(1)))
        if name is None:
            logger.warning("map.html still loads %s from the network", m.group(1))
            return m.group(0)
        # "</script" inside the code would end the element early; split it harmlessly.
        code = _vendored(name).replace("</script", "<\\/script")
        return f"<script>/* {name} (inlined) */\n{code}\n</script>"

    def link(m: re.Match[str]) -> str:
        name = _VENDORED.get(_name(m.group(1)))
        if name is None:
            logger.warning("map.html still loads %s from the network", m.group(1))
            return m.group(0)
        return f"<style>/* {name} (inlined) */\n{_vendored(name)}\n</style>"

    return _LINK.sub(link, _SCRIPT.sub(script, html))


def external_assets(html: str) -> list[str]:
    """URLs of scripts and stylesheets a page still loads from the network."""
    return [m.group(1) for m in _SCRIPT.finditer(html)] + [m.group(1) for m in _LINK.finditer(html)]
