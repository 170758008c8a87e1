"""Building blocks of a static HTML page that opens offline: images as base64 data URIs, no
script, no external resource; narrow screens get one column, scrolling tables, full-width images."""
from __future__ import annotations

import base64
import html
from pathlib import Path

STYLE = """
body { font-family: system-ui, sans-serif; margin: 0 auto; padding: 0.8rem; max-width: 62rem; line-height: 1.4;
       color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.25rem; border-bottom: 1px solid #ccc; margin-top: 2rem; }
h3 { font-size: 1.05rem; }
img { width: 100%; height: auto; display: block; border: 1px solid #ddd; }
figure { margin: 1rem 0; } figcaption { font-size: 0.85rem; color: #555; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
pre { background: #f6f6f6; padding: 0.5rem; overflow-x: auto; font-size: 0.8rem; }
.papers { background: #fff8e6; border-left: 4px solid #e0a800; padding: 0.2rem 0.8rem; }
.note { color: #555; font-size: 0.9rem; }
"""


def escape(text: object) -> str:
    return html.escape(str(text))


#: The media type of each picture format a page embeds (animations play as they are).
MEDIA_TYPES = {".png": "image/png", ".gif": "image/gif", ".webp": "image/webp"}


def data_uri(picture: Path) -> str:
    media = MEDIA_TYPES[Path(picture).suffix.lower()]
    return f"data:{media};base64," + base64.b64encode(Path(picture).read_bytes()).decode("ascii")


def figure(picture: Path, caption: str) -> str:
    return (f'<figure><img src="{data_uri(picture)}" alt="{escape(caption)}">'
            f"<figcaption>{escape(caption)}</figcaption></figure>")


def table(header: list[str], rows: list[list[object]], caption: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return f'<div class="scroll"><table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def details(summary: str, text: str) -> str:
    return f"<details><summary>{escape(summary)}</summary><pre>{escape(text)}</pre></details>"


def paragraph(text: str, css: str = "") -> str:
    return f'<p class="{css}">{escape(text)}</p>' if css else f"<p>{escape(text)}</p>"


def page(title: str, sections: list[str]) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n<body>\n<h1>{escape(title)}</h1>\n"
            + "\n".join(sections) + "\n</body></html>\n")
