"""SMTP settings read safely: the password never in a message or a repr."""
import pytest

from bridge.mail import MailError, Mailer
from tests.loopback import free_port


def test_the_url_s_parts_and_defaults():
    plain = Mailer.from_url("smtp://mail.example", "bridge@x.example")
    assert (plain.host, plain.port, plain.tls, plain.user) == ("mail.example", 25, False, None)
    secure = Mailer.from_url("smtps://me%40x.example:p%2Fss@mail.example", "b@x.example")
    assert (secure.port, secure.tls, secure.user, secure.password) == (465, True,
                                                                        "me@x.example", "p/ss")
    assert "p/ss" not in repr(secure)


def test_a_server_that_does_not_answer_is_a_mail_error_without_the_password():
    mailer = Mailer.from_url(f"smtp://user:hunter2@127.0.0.1:{free_port()}", "b@x.example")
    with pytest.raises(MailError) as refused:
        mailer.send("owner@x.example", "subject", "body")
    assert "hunter2" not in str(refused.value)
