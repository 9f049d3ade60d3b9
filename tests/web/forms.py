"""What a browser would post from a page's form: its named fields and their values, read from
the HTML with the standard library's parser."""

from html.parser import HTMLParser


class _Fields(HTMLParser):
    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.values: dict[str, str] = {}
        self.select: str | None = None
        self.first_option: str | None = None
        self.chosen = False
        self.option: dict[str, str | None] | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form":
            self.inside = found.get("id") == self.form_id
        if not self.inside:
            return
        name = found.get("name")
        if tag == "input" and name and found.get("type") not in ("submit", "button", "search"):
            if found.get("type") != "checkbox" or "checked" in found:
                self.values[name] = found.get("value") or ""
        elif tag == "select" and name:
            self.select, self.first_option, self.chosen = name, None, False
        elif tag == "option" and self.select:
            value = found.get("value") or ""
            if self.first_option is None:
                self.first_option = value
            if "selected" in found:
                self.values[self.select], self.chosen = value, True
        elif tag == "textarea" and name:
            self.textarea = name
            self.values[name] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select" and self.select:
            if not self.chosen and self.first_option is not None:
                self.values[self.select] = self.first_option
            self.select = None
        elif tag == "textarea":
            self.textarea = None

    def handle_data(self, data: str) -> None:
        if self.textarea:
            self.values[self.textarea] += data


def form_fields(html: str, form_id: str) -> dict[str, str]:
    """The named fields of the form `form_id` as the browser would send them (submit buttons
    and search boxes left out)."""
    parser = _Fields(form_id)
    parser.feed(html)
    return parser.values
