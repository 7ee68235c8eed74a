#!/usr/bin/env python3
"""A user's browser at Switchboard's own authorization server: open an
authorization URL, sign in, answer the consent page, and follow the
redirect back to the client (whose callback server receives the code).
Standard library only: it follows redirects, keeps cookies and posts the
forms as a browser would.

Where the user signs in depends on the server:
  - the local user list (`[[oauth.users]]`): /oauth/authorize shows
    Switchboard's login form (hidden `txn`, username, password);
  - an identity provider (`[oauth.oidc]`): /oauth/authorize answers 303 to
    the provider's authorization endpoint (another origin); the browser
    follows it, fills in the provider's login form (its username and
    password fields, whatever hidden fields it has), follows the
    provider's redirect to Switchboard's /oauth/callback, which shows the
    consent page.
Either way the consent page (hidden `txn`, a `decision` button) is
answered `allow` or `deny`, and Switchboard's 303 to the client's
redirect URI is where the journey ends.

    python oauth_browser.py AUTHORIZE_URL USER PASSWORD [allow|deny]

prints the URL the browser was sent back to (and follows it when it is on
a loopback host); with OAUTH_BROWSER_TRACE=1 also each URL visited on the
way, as "visited URL" lines on stderr.

As a module: `sign_in(url, user, password, allow=True)` returns the URL
the browser was sent back to (the redirect URI with `code`, `state` and
`iss`, or `error`); `sign_in_trace(...)` also returns the URLs visited.
"""

import html
import http.cookiejar
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

MAX_STEPS = 20


class PageError(RuntimeError):
    """The browser stopped on a page it cannot go on from (an error page)."""

    def __init__(self, url, status, page):
        super().__init__(f"{url} answered {status}: {page[:300]}")
        self.url, self.status, self.page = url, status, page

    def text(self):
        """The page's paragraphs, as the user reads them."""
        return " ".join(html.unescape(p) for p in re.findall(r"<p>([^<]*)</p>", self.page))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class Browser:
    """One browser profile: its own cookie jar, no automatic redirects."""

    def __init__(self):
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            _NoRedirect, urllib.request.HTTPCookieProcessor(self.cookies))

    def fetch(self, url, form=None):
        """(status, headers, body) of a GET, or of a POST of `form`."""
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        req = urllib.request.Request(url, data=data)
        if data is not None:
            req.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with self.opener.open(req, timeout=30) as r:
                return r.status, r.headers, r.read().decode(errors="replace")
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode(errors="replace")


def _attrs(tag):
    return {k.lower(): html.unescape(v) for k, v in re.findall(r'([\w-]+)\s*=\s*"([^"]*)"', tag)}


def parse_form(page, base):
    """The first form of a page: (action URL, method, its inputs and
    buttons as (name, type, value) triples)."""
    m = re.search(r"<form\b([^>]*)>(.*?)</form>", page, re.S | re.I)
    if not m:
        return None
    attrs = _attrs(m.group(1))
    action = urllib.parse.urljoin(base, attrs.get("action") or base)
    fields = []
    for tag in re.findall(r"<(?:input|button)\b[^>]*>", m.group(2), re.I):
        a = _attrs(tag)
        if "name" in a:
            kind = a.get("type", "submit" if tag.lower().startswith("<button") else "text").lower()
            fields.append((a["name"], kind, a.get("value", "")))
    return action, attrs.get("method", "get").lower(), fields


def _origin(url):
    p = urllib.parse.urlsplit(url)
    return f"{p.scheme}://{p.netloc}"


def sign_in_trace(url, user, password, allow=True, browser=None):
    """Sign in and consent from authorization URL `url`. Returns (the URL
    the browser was sent back to the client at, the URLs visited)."""
    browser = browser or Browser()
    switchboard = _origin(url)
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    redirect_uri = q.get("redirect_uri")
    visited = [url]
    signed_in = False
    status, headers, page = browser.fetch(url)
    at = url
    for _ in range(MAX_STEPS):
        if status in (301, 302, 303, 307, 308):
            to = urllib.parse.urljoin(at, headers["Location"])
            back = redirect_uri and to.startswith(redirect_uri)
            if not back and redirect_uri is None and _origin(to) != switchboard:
                # No redirect_uri to compare with: a client callback carries
                # the response's code or error; the IdP hop does not.
                params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(to).query))
                back = "code" in params or "error" in params
            if back:
                return to, visited
            visited.append(to)
            at = to
            status, headers, page = browser.fetch(to)
            continue
        if status != 200:
            raise PageError(at, status, page)
        form = parse_form(page, at)
        if form is None:
            raise RuntimeError(f"no form on the page at {at}: {page[:300]}")
        action, method, fields = form
        names = {name: kind for name, kind, _ in fields}
        data = {name: value for name, kind, value in fields if kind == "hidden"}
        if any(kind == "password" for kind in names.values()):
            if signed_in:
                raise RuntimeError(f"sign-in refused at {at}: {page[:300]}")
            user_field = next((n for n, k in names.items() if k in ("text", "email") and n != "txn"), "username")
            pass_field = next(n for n, k in names.items() if k == "password")
            data[user_field] = user
            data[pass_field] = password
            signed_in = True
        elif "decision" in names:
            data["decision"] = "allow" if allow else "deny"
        else:
            raise RuntimeError(f"a form at {at} that is neither a sign-in nor a consent: {page[:300]}")
        visited.append(action)
        at = action
        if method == "post":
            status, headers, page = browser.fetch(action, data)
        else:
            sep = "&" if "?" in action else "?"
            status, headers, page = browser.fetch(action + sep + urllib.parse.urlencode(data))
        if "decision" in data and status not in (301, 302, 303, 307, 308):
            raise RuntimeError(f"consent answered {status}: {page[:300]}")
    raise RuntimeError(f"no way back to the client after {MAX_STEPS} steps: {visited}")


def sign_in(url, user, password, allow=True):
    """Sign in and consent; the URL the browser was sent back to."""
    return sign_in_trace(url, user, password, allow)[0]


def deliver(redirect):
    """Follow the redirect to the client's callback, as the browser does."""
    with urllib.request.urlopen(redirect, timeout=30) as r:
        r.read()


if __name__ == "__main__":
    to, visited = sign_in_trace(sys.argv[1], sys.argv[2], sys.argv[3], (sys.argv[4:] or ["allow"])[0] == "allow")
    if os.environ.get("OAUTH_BROWSER_TRACE"):
        for url in visited:
            print(f"visited {url}", file=sys.stderr)
    print(to)
    if to.startswith("http://127.0.0.1") or to.startswith("http://localhost"):
        deliver(to)
