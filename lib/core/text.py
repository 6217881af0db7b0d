"""Text from users and targets, made safe to place in Markdown (st.markdown, st.error, captions, ...).

Streamlit renders those as GitHub-flavoured Markdown with its own extras (`:red[...]`, `:material/...:`,
`$...$`): a target URL carrying `![x](http://attacker/beacon.png)` would make every viewer's browser fetch the
attacker's image. CommonMark lets any ASCII punctuation be backslash-escaped, so escaping all of it leaves
exactly the original characters on screen and no syntax at all (links, images, autolinks, directives, maths).
"""

from __future__ import annotations

import string

_ESCAPES = str.maketrans({c: "\\" + c for c in string.punctuation})


def md_escape(value: object) -> str:
    """`value` as Markdown that shows its characters literally; control characters other than newline dropped."""
    text = "".join(c for c in str(value) if c == "\n" or c.isprintable())
    return text.translate(_ESCAPES)


CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # OWASP CSV injection: what a spreadsheet may evaluate


def csv_cell(value: object) -> object:
    """A text cell that a spreadsheet shows as text: one that starts like a formula gets a leading `'`
    (OWASP's advice); other values unchanged (the CSV writer quotes separators and quotes)."""
    if isinstance(value, str) and value.startswith(CSV_FORMULA_STARTS):
        return "'" + value
    return value
