#!/usr/bin/env python3
"""A user's browser at Switchboard's own authorization server: open an
authorization URL, sign in on the login form, answer the consent page, and
follow the redirect back to the client (whose callback server receives the
code). Standard library only: it posts the forms as a browser would.

    python oauth_browser.py AUTHORIZE_URL USER PASSWORD [allow|deny]

As a module: `sign_in(url, user, password, allow=True)` returns the URL
the browser was sent back to (the redirect URI with `code`, `state` and
`iss`, or `error`).
"""

import html
import re
import sys
import urllib.error
import urllib.parse
import urllib.request


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _fetch(url, form=None):
    """(status, headers, body) of a GET, or of a POST of `form`."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    req = urllib.request.Request(url, data=data)
    if data is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with _OPENER.open(req, timeout=30) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def _form(page, base):
    """The action URL and the hidden `txn` of the page's form."""
    action = re.search(r'<form method="post" action="([^"]+)"', page)
    txn = re.search(r'name="txn" value="([^"]+)"', page)
    if not action or not txn:
        raise RuntimeError(f"no sign-in form on the page: {page[:300]}")
    return urllib.parse.urljoin(base, html.unescape(action.group(1))), html.unescape(txn.group(1))


def sign_in(url, user, password, allow=True):
    status, headers, page = _fetch(url)
    if status in (302, 303):
        return headers["Location"]
    if status != 200:
        raise RuntimeError(f"authorize answered {status}: {page[:300]}")
    action, txn = _form(page, url)
    status, _, page = _fetch(action, {"txn": txn, "username": user, "password": password})
    if status != 200:
        raise RuntimeError(f"sign-in answered {status}: {page[:300]}")
    action, txn = _form(page, url)
    decision = "allow" if allow else "deny"
    status, headers, page = _fetch(action, {"txn": txn, "decision": decision})
    if status != 303:
        raise RuntimeError(f"consent answered {status}: {page[:300]}")
    return headers["Location"]


def deliver(redirect):
    """Follow the redirect to the client's callback, as the browser does."""
    with urllib.request.urlopen(redirect, timeout=30) as r:
        r.read()


if __name__ == "__main__":
    to = sign_in(sys.argv[1], sys.argv[2], sys.argv[3], (sys.argv[4:] or ["allow"])[0] == "allow")
    print(to)
    if to.startswith("http://127.0.0.1") or to.startswith("http://localhost"):
        deliver(to)
