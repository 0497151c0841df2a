"""Log lines are logfmt, one per event, and input from outside can neither break nor forge one."""
import logging

import pytest

from bridge import logs


@pytest.mark.parametrize("value, written", [
    ("plain", "plain"),
    ("two words", '"two words"'),
    ('a "quote" and a \\', '"a \\"quote\\" and a \\\\"'),
    ("line\r\nevent=forged", '"line\\r\\nevent=forged"'),
    ("nul\x00bell\x07del\x7f", '"nul\\x00bell\\x07del\\x7f"'),
    ("next\x85line\u2028sep", '"next\\x85line\\u2028sep"'),
    ("", '""'),
])
def test_values_are_quoted_and_control_characters_escaped(value, written):
    assert logs.fields("seen", value=value) == f"event=seen value={written}"


def test_a_crafted_path_cannot_break_or_forge_a_log_line(client, caplog):
    with caplog.at_level(logging.INFO):
        answer = client.post("/pos/x%0d%0aevent=order_sent%00/events", data=b"{}")
    assert answer.status_code == 404 and answer.get_json()["error"]["code"] == "no_such_client"
    (line,) = [r.getMessage() for r in caplog.records if "callback_refused" in r.getMessage()]
    assert not any(ord(c) < 0x20 for c in line)
    assert 'pos="x\\r\\nevent=order_sent\\x00"' in line
