"""Text from data, made safe where Streamlit reads markdown or plotly reads HTML.

Event names, names, properties and source names are typed by anyone who holds a public write key
or an upload; Streamlit reads markdown in st.markdown/st.write/st.caption, alerts, titles,
widget labels and help, expander and tab labels, radio options and metric labels, so
`![x](http://host/beacon)` would load an image in the viewer's browser. Wrap every such string
in md() (or plain() for plotly text) before it joins a message.
"""
from __future__ import annotations

import re

# What markdown (CommonMark + GFM + Streamlit's :emoji:/:color[...]/$math$) reads anywhere in a
# line: emphasis, code, links and images, HTML and autolinks, tables, strikethrough, math, emoji,
# entities. Hyphens and full stops mean something only at the start of a line (lists), and a
# www. autolink is a link; those are handled apart, so ordinary text (read-only, 1.5) stays readable.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]#!|<>~$:&])")
_LIST_START = re.compile(r"^(\s*)([-+=]|\d+(?=[.)]))")


def _escape_list_start(m: re.Match) -> str:
    lead, mark = m.group(1), m.group(2)
    return lead + (mark + "\\" if mark[0].isdigit() else "\\" + mark)   # 1\. item, \- item


def md(text) -> str:
    """Data text shown literally inside markdown: no formatting, link, image, HTML or new block."""
    if text is None:
        return ""
    escaped = _MD_SPECIAL.sub(r"\\\1", re.sub(r"\s+", " ", str(text)))
    escaped = re.sub(r"(?i)\b(www)\.", r"\1\\.", escaped)
    return _LIST_START.sub(_escape_list_start, escaped)


def plain(text) -> str:
    """Chart labels from data: plotly reads a few HTML tags in text, so neutralise them."""
    return str(text).replace("<", "‹").replace(">", "›")
