"""An email's HTML, shown in the dashboard: the sender's content, served from a URL of its
own with a policy that runs no script and loads nothing from elsewhere, and framed by a page
in an iframe sandboxed without scripts, so it can neither script the dashboard nor call out
(nor count an open) while being read."""

from fastapi.responses import HTMLResponse

from contactflow.web.pages import PAGE_HEADERS, PAGE_POLICY

# A page that frames an email's HTML, served by this site.
FRAMING_PAGE_POLICY = f"{PAGE_POLICY}; frame-src 'self'"
# The HTML of an email: its own styles and inline images, nothing that runs or calls out.
BODY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "style-src 'unsafe-inline'",
        "img-src data:",
        "font-src data:",
        "form-action 'none'",
        "base-uri 'none'",
        "frame-ancestors 'self'",
        "sandbox",
    ]
)


def framed_html(html: str) -> HTMLResponse:
    """An email's HTML as its iframe loads it."""
    headers = {
        **PAGE_HEADERS,
        "Content-Security-Policy": BODY_POLICY,
        "X-Frame-Options": "SAMEORIGIN",
    }
    return HTMLResponse(html, headers=headers)
