"""Email to a site's owner, over SMTP (`BRIDGE_SMTP_URL`): the one place that sends mail.

`smtp://user:password@host:587` (STARTTLS when the server offers it), `smtps://...:465` (TLS
from the start), or `smtp://host:25` without a login. The password never appears in a message
or a log line.
"""
from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

TIMEOUT_SECONDS = 10


class MailError(Exception):
    """The message was not accepted: try again later."""


@dataclass(frozen=True)
class Mailer:
    host: str
    port: int
    sender: str
    tls: bool = False                         # smtps: TLS from the first byte
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_url(cls, url: str, sender: str) -> "Mailer":
        """Raises ValueError naming what is wrong (never quoting the URL: it holds a password)."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("not smtp://host[:port] or smtps://host[:port]")
        try:
            port = parts.port or (465 if parts.scheme == "smtps" else 25)
        except ValueError:
            raise ValueError("the port is not a number") from None
        return cls(parts.hostname, port, sender, parts.scheme == "smtps",
                   unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password else None)

    def send(self, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, to, subject
        message.set_content(body)
        try:
            if self.tls:
                client = smtplib.SMTP_SSL(self.host, self.port, timeout=TIMEOUT_SECONDS,
                                          context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=TIMEOUT_SECONDS)
            with client:
                client.ehlo()
                if not self.tls and client.has_extn("starttls"):
                    client.starttls(context=ssl.create_default_context())
                    client.ehlo()
                if self.user:
                    client.login(self.user, self.password or "")
                client.send_message(message)
        except (OSError, smtplib.SMTPException) as error:
            raise MailError(f"{self.host}:{self.port} did not take the message: "
                            f"{type(error).__name__}") from None
