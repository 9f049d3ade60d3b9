"""What `contactflow demo` and `serve --demo` print: the dashboard's address, with the demo
admin's email and password to sign in there."""

import pytest

from contactflow.cli import _print_demo
from contactflow.demo import DemoAdmin, DemoData, DemoLocation


def test_the_demo_prints_where_to_sign_in_to_the_dashboard(
    capsys: pytest.CaptureFixture[str],
) -> None:
    admin = DemoAdmin(email="dana@example.com", password="Secret123456789a", company_id="c1")
    data = DemoData([DemoLocation("l1", "Austin", "cf_test_key")], "cmp", "wf", admin)
    _print_demo(data, "http://127.0.0.1:8000")
    lines = capsys.readouterr().out.splitlines()
    dashboard = next(line for line in lines if line.startswith("Dashboard"))
    assert dashboard.split() == [
        "Dashboard",
        "http://127.0.0.1:8000/app/login",
        "dana@example.com",
        "password",
        "Secret123456789a",
    ]
