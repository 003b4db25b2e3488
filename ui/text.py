"""Text from data, made safe where Streamlit reads markdown or plotly reads HTML.

Event names, names, properties and source names are typed by anyone who holds a public write key
or an upload; Streamlit reads markdown in st.markdown/st.write/st.caption, alerts, titles,
widget labels and help, expander and tab labels, radio options and metric labels, so
`![x](http://host/beacon)` would load an image in the viewer's browser. Wrap every such string
in md() (or plain() for plotly text) before it joins a message.
"""
from __future__ import annotations

import re

# Everything markdown (CommonMark + GFM + Streamlit's :emoji:/:color[...]/$math$) gives meaning to.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=&\"'])")


def md(text) -> str:
    """Data text shown literally inside markdown: no formatting, link, image, HTML or new block."""
    if text is None:
        return ""
    return _MD_SPECIAL.sub(r"\\\1", re.sub(r"\s+", " ", str(text)))


def plain(text) -> str:
    """Chart labels from data: plotly reads a few HTML tags in text, so neutralise them."""
    return str(text).replace("<", "‹").replace(">", "›")
