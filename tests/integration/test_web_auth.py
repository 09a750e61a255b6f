"""The web view beyond loopback (daemon/web_auth.c): a non-loopback
web_listen is refused without access control; with a users file and the
administrator's certificate it serves HTTPS only and signs users in with
HTTP Basic (crypt(3) hashes written by `catalogctl web-user`), failed
sign-ins are limited per address; behind a trusted reverse proxy only the
proxy is served and its X-Remote-User names the user."""
import base64
import http.client
import os
import ssl
import subprocess
import time
import urllib.error
import urllib.request

from harness import SLOW, wait_until

PASSWORD = "kensaku-Pass-2026"


def make_cert(env, kind="ec"):
    """A self-signed certificate for 127.0.0.1 and localhost (RSA or ECDSA)."""
    cert, key = os.path.join(env.tmp, f"web-{kind}.crt"), os.path.join(env.tmp, f"web-{kind}.key")
    new = ["-newkey", "rsa:2048"] if kind == "rsa" else ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    subprocess.run(["openssl", "req", "-x509", *new, "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    ctx = ssl.create_default_context(cafile=cert)
    return cert, key, ctx


def add_user(node, name, password, *extra):
    """catalogctl web-user add with the password on stdin (not a terminal)."""
    p = subprocess.run([node.env.ctl, "--data", node.dir, "web-user", "add", name, *extra],
                       input=(password + "\n").encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    assert p.returncode == 0, p.stderr.decode()
    return p.stdout.decode()


def settle():
    """Past the daemon's look at the users file (NODE_WEB_USERS_STAT_MS)."""
    time.sleep(1.2)


def fetch(url, ctx=None, user=None, password=None, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    if user is not None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        req.add_header("Authorization", "Basic " + token)
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def fetch_from(source, port, ctx, user, password):
    """A request from another loopback address (127.0.0.2): another client."""
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10, source_address=(source, 0))
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    c.request("GET", "/", headers={"Authorization": "Basic " + token})
    r = c.getresponse()
    out = r.status, r.read().decode()
    c.close()
    return out


def start_tls(env, n, *extra):
    cert, key, ctx = make_cert(env)
    users = os.path.join(n.dir, "web-users")
    n.start("--web-listen", f"0.0.0.0:{n.web_port}", "--web-users-file", users,
            "--web-tls-cert", cert, "--web-tls-key", key, *extra)
    return f"https://127.0.0.1:{n.web_port}/", ctx


def refused_start(env, n, *args):
    p = subprocess.run([env.daemon, "--data", n.dir, *[str(a) for a in args]], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    assert p.returncode != 0, p.stderr
    return p.stderr.decode()


def test_non_loopback_refused_without_access_control(env):
    n = env.node()
    cert, key, _ = make_cert(env)
    err = refused_start(env, n, "--web-listen", f"0.0.0.0:{n.web_port}")
    assert "web_listen 0.0.0.0:" in err and "is not a loopback address" in err, err
    assert "web_users_file" in err and "web_trusted_proxy" in err and "Web view" in err, err
    # HTTPS alone is not access control
    err = refused_start(env, n, "--web-listen", f"0.0.0.0:{n.web_port}", "--web-tls-cert", cert,
                        "--web-tls-key", key)
    assert "is not a loopback address" in err, err
    # passwords never over plain HTTP, not even on loopback
    add_user(n, "tanaka", PASSWORD)
    users = os.path.join(n.dir, "web-users")
    err = refused_start(env, n, "--web-listen", f"0.0.0.0:{n.web_port}", "--web-users-file", users)
    assert "web_users_file needs web_tls_cert and web_tls_key" in err, err
    err = refused_start(env, n, "--web-users-file", users)
    assert "web_users_file needs web_tls_cert and web_tls_key" in err, err
    err = refused_start(env, n, "--web-listen", f"0.0.0.0:{n.web_port}", "--web-users-file", users,
                        "--web-tls-cert", cert)
    assert "web_tls_cert and web_tls_key go together" in err, err
    err = refused_start(env, n, "--web-users-file", users, "--web-tls-cert", cert, "--web-tls-key", key,
                        "--web-trusted-proxy", "127.0.0.1")
    assert "set one" in err, err
    # a key that is not the certificate's, a users file that is not one
    _, other_key, _ = make_cert(env, "rsa")
    err = refused_start(env, n, "--web-users-file", users, "--web-tls-cert", cert, "--web-tls-key", other_key)
    assert "web_tls_key" in err, err
    with open(os.path.join(env.tmp, "bad-users"), "w") as f:
        f.write("# staff\ntanaka:not-a-hash\n")
    err = refused_start(env, n, "--web-users-file", os.path.join(env.tmp, "bad-users"), "--web-tls-cert", cert,
                        "--web-tls-key", key)
    assert "bad-users:2:" in err and "not a password hash" in err, err
    # relative paths are refused by the settings table
    err = refused_start(env, n, "--web-users-file", "web-users")
    assert "not an absolute path" in err, err
    assert not n.answers()


def test_basic_sign_in_over_https(env):
    n = env.node()
    out = add_user(n, "tanaka", PASSWORD)
    assert "tanaka" in out and "web-users" in out, out
    with open(os.path.join(n.dir, "web-users")) as f:
        line = f.read()
    assert line.startswith("tanaka:$y$") and PASSWORD not in line, line
    assert oct(os.stat(os.path.join(n.dir, "web-users")).st_mode & 0o777) == "0o640"
    url, ctx = start_tls(env, n)

    status, headers, body = fetch(url, ctx)
    assert status == 401, (status, body)
    auth = headers.get("WWW-Authenticate", "")
    assert auth.startswith('Basic realm="') and 'charset="UTF-8"' in auth, auth
    assert "サインインが必要です" in body and 'class="search"' not in body, body
    assert headers.get("Cache-Control") == "no-store" and "default-src 'none'" in headers.get(
        "Content-Security-Policy", "")

    status, _, body = fetch(url, ctx, "tanaka", "wrong-password-1")
    assert status == 401 and "サインインが必要です" in body, status
    wait_until(lambda: 'sign-in failed for user "tanaka" from 127.0.0.1' in n.logtext(),
               what="the failed sign-in to be logged")
    assert "wrong-password-1" not in n.logtext()
    status, _, body = fetch(url, ctx, "nobody", PASSWORD)   # unknown user: the same answer
    assert status == 401, status

    status, headers, body = fetch(url, ctx, "tanaka", PASSWORD)
    assert status == 200, (status, body)
    assert '<form class="search"' in body and f"{n.code} {n.muni}" in body, body
    assert '<span class="user">tanaka</span>' in body, body
    # the browser's next requests (the cache: no hash computed again)
    for _ in range(5):
        assert fetch(url, ctx, "tanaka", PASSWORD)[0] == 200
    assert fetch(url + "static/style.css", ctx, "tanaka", PASSWORD)[0] == 200
    # the log names the user, never the password
    assert PASSWORD not in n.logtext()

    # plain HTTP to the HTTPS listener gets no page
    try:
        r = fetch(f"http://127.0.0.1:{n.web_port}/")
        assert False, f"plain HTTP answered {r[0]}"
    except (urllib.error.URLError, http.client.HTTPException, ConnectionError, OSError):
        pass
    assert fetch(url, ctx, "tanaka", PASSWORD)[0] == 200   # still serving

    # users added and removed while it runs apply without a restart (the
    # next request after the file changed reads it again)
    add_user(n, "佐藤花子", "hanako-Pass-2026")
    settle()
    status, _, body = fetch(url, ctx, "佐藤花子", "hanako-Pass-2026")
    assert status == 200 and '<span class="user">佐藤花子</span>' in body, status
    assert "read again: 2 user(s)" in n.logtext()
    listed = n.ctl("web-user", "list")
    assert "tanaka" in listed and "佐藤花子" in listed and "yescrypt" in listed, listed
    assert [u["name"] for u in n.ctl_json("web-user", "list")] == ["tanaka", "佐藤花子"]
    n.ctl("web-user", "remove", "tanaka")
    settle()
    # although its credentials were remembered (the cache is forgotten)
    assert fetch(url, ctx, "tanaka", PASSWORD)[0] == 401
    assert "tanaka" not in n.ctl("web-user", "list")
    # a changed password: the old one no longer works
    add_user(n, "佐藤花子", "hanako-New-2027")
    settle()
    assert fetch(url, ctx, "佐藤花子", "hanako-New-2027")[0] == 200
    assert fetch(url, ctx, "佐藤花子", "hanako-Pass-2026")[0] == 401
    # a file spoiled by hand is refused, and the users read before stay
    with open(os.path.join(n.dir, "web-users"), "a") as f:
        f.write("broken line\n")
    settle()
    assert fetch(url, ctx, "佐藤花子", "hanako-New-2027")[0] == 200
    assert "web-users:2: expected name:hash" in n.logtext() and "keeping the 1 user(s) read before" in n.logtext()
    assert n.stop() == 0


def test_failed_sign_ins_limited_per_address(env):
    n = env.node()
    add_user(n, "suzuki", PASSWORD)
    add_user(n, "takahashi", "takahashi-Pass-2026")
    url, ctx = start_tls(env, n)
    for i in range(5):
        status, _, _ = fetch(url, ctx, "suzuki", f"guess-{i}-abcdef")
        assert status == 401, (i, status)
    status, headers, body = fetch(url, ctx, "suzuki", "guess-5-abcdef")
    assert status == 429, status
    assert "しばらくお待ちください" in body, body
    assert 0 < int(headers.get("Retry-After")) <= 60, headers.get("Retry-After")
    # the right password too, for the rest of the window (no hash computed)
    assert fetch(url, ctx, "suzuki", PASSWORD)[0] == 429
    assert fetch(url, ctx, "takahashi", "takahashi-Pass-2026")[0] == 429
    # another address is not held up
    status, body = fetch_from("127.0.0.2", n.web_port, ctx, "suzuki", PASSWORD)
    assert status == 200 and '<span class="user">suzuki</span>' in body, status
    # credentials that verified within NODE_WEB_AUTH_CACHE_MS are not held
    # up either (a browser signed in behind the same NAT keeps working);
    # a guess still is
    assert fetch(url, ctx, "suzuki", PASSWORD)[0] == 200
    assert fetch(url, ctx, "suzuki", "guess-6-abcdef")[0] == 429
    log = n.logtext()
    assert log.count('sign-in failed for user "suzuki" from 127.0.0.1') == 5, log
    assert "refused for the rest of the window" in log, log
    wait_until(lambda: "sign-in from 127.0.0.1 refused (429)" in n.logtext(), what="the 429 to be logged")
    # the refusals' own log lines are limited: many more 429s, one line
    for _ in range(10):
        assert fetch(url, ctx, "suzuki", "guess-x-abcdef")[0] == 429
    time.sleep(0.2)
    assert n.logtext().count("sign-in from 127.0.0.1 refused (429)") == 1
    assert not any(f"guess-{i}" in n.logtext() for i in range(7))
    assert "takahashi-Pass" not in n.logtext() and PASSWORD not in n.logtext()
    if os.environ.get("CATALOGD_SLOW"):
        # the window (NODE_WEB_AUTH_FAIL_WINDOW_MS, 60 s) passes: served again
        start = time.time()
        wait_until(lambda: fetch(url, ctx, "takahashi", "takahashi-Pass-2026")[0] == 200, timeout=25,
                   interval=1, what="the window to pass")
        assert time.time() - start > 50
    assert n.stop() == 0   # a clean stop (and, under ASan, nothing leaked)


def test_trusted_proxy(env):
    n = env.node()
    listen = f"0.0.0.0:{n.web_port}"
    url = f"http://127.0.0.1:{n.web_port}/"
    n.start("--web-listen", listen, "--web-trusted-proxy", "127.0.0.1")
    status, _, body = fetch(url, headers={"X-Remote-User": "kato.ichiro"})
    assert status == 200 and '<form class="search"' in body, (status, body)
    assert '<span class="user">kato.ichiro</span>' in body, body
    # the proxy must name the user
    status, _, body = fetch(url)
    assert status == 403 and "利用者名が届いていません" in body, (status, body)
    wait_until(lambda: "without a valid X-Remote-User" in n.logtext(), what="the missing user to be logged")
    # two of them (a proxy that appends its own to the browser's): neither names the user
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", n.web_port, timeout=10)
    c.putrequest("GET", "/")
    c.putheader("X-Remote-User", "spoofed.by.browser")
    c.putheader("X-Remote-User", "kato.ichiro")
    c.endheaders()
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    assert r.status == 403 and "利用者名が届いていません" in body and "spoofed" not in body, (r.status, body)
    # every browser comes through the proxy: it is not held to one address's
    # share of the connections (NODE_WEB_CONN_PER_ADDR, 64)
    import socket
    socks = [socket.create_connection(("127.0.0.1", n.web_port)) for _ in range(80)]
    last = socks[-1]
    last.settimeout(10)
    last.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Remote-User: kato.ichiro\r\n\r\n")
    assert last.recv(100).startswith(b"HTTP/1.1 "), "the 80th connection from the proxy was not served"
    for so in socks:
        so.close()
    assert n.stop() == 0

    # another address as the proxy: this client is not it
    n.start("--web-listen", listen, "--web-trusted-proxy", "192.0.2.10")
    status, _, body = fetch(url, headers={"X-Remote-User": "kato.ichiro"})
    assert status == 403 and "このアドレスからは利用できません" in body and 'class="search"' not in body, status
    wait_until(lambda: "refused 127.0.0.1 (403): only the trusted proxy 192.0.2.10 is served" in n.logtext(),
               what="the refusal to be logged")
    for _ in range(5):
        assert fetch(url)[0] == 403
    time.sleep(0.2)
    assert n.logtext().count("refused 127.0.0.1 (403)") == 1   # once a minute per address
    assert n.stop() == 0


def test_https_on_loopback_and_plain_loopback_open(env):
    n = env.node()
    cert, key, ctx = make_cert(env, "rsa")
    n.start("--web-tls-cert", cert, "--web-tls-key", key)
    status, _, body = fetch(f"https://127.0.0.1:{n.web_port}/", ctx)
    assert status == 200 and '<form class="search"' in body and 'class="user"' not in body, status
    assert f"web view https://{n.web_addr}/" in n.logtext()
    assert n.stop() == 0
    n.start()
    status, _, body = fetch(n.web_url + "/")
    assert status == 200 and '<form class="search"' in body, status
    assert n.stop() == 0


def test_an_ipv6_proxy_exempts_no_ipv4_client(env):
    """Review: with web_trusted_proxy = ::1 on a dual-stack listener, an IPv4
    client (not the proxy) must still be held to NODE_WEB_CONN_PER_ADDR (64)."""
    import socket
    n = env.node()
    n.start("--web-listen", f"[::]:{n.web_port}", "--web-trusted-proxy", "::1")
    socks = [socket.create_connection(("127.0.0.1", n.web_port)) for _ in range(80)]
    last = socks[-1]
    last.settimeout(10)
    try:
        last.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        got = last.recv(100)
    except (ConnectionResetError, BrokenPipeError):
        got = b""
    for so in socks:
        so.close()
    assert n.stop() == 0
    assert got == b"", f"the 80th IPv4 connection (not the proxy) was served: {got!r}"


def served_cert(port, linger=0.0):
    """The certificate the listener presents now, PEM (no verification:
    the test compares it with the files); the connection closes after the
    handshake (and linger seconds), with no request."""
    import socket
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            if linger:
                time.sleep(linger)
            return ssl.DER_cert_to_PEM_cert(s.getpeercert(binary_form=True))


def test_handshake_only_connections_are_not_kept(env):
    """A client that completes the TLS 1.3 handshake and closes without a
    request (a certificate monitor, a scanner) leaves nothing open: with
    session tickets libh2o 2.2 kept every such connection for ever (the
    ticket OpenSSL writes during the first read was never flushed), so 256
    of them would have filled the web view's slots."""
    n = env.node()
    cert, key, ctx = make_cert(env, "ec")
    n.start("--web-tls-cert", cert, "--web-tls-key", key)
    fds = lambda: len(os.listdir(f"/proc/{n.proc.pid}/fd"))
    before = fds()
    for _ in range(30):
        served_cert(n.web_port, linger=0.02)
    wait_until(lambda: fds() <= before, 10, what="the connections to close")
    status, _, body = fetch(f"https://127.0.0.1:{n.web_port}/", ctx)
    assert status == 200 and '<form class="search"' in body, status
    t0 = time.time()
    assert n.stop() == 0
    assert time.time() - t0 < 1.4 * SLOW and "still open at exit" not in n.logtext(), n.logtext()[-600:]


def pem_of(path):
    with open(path) as f:
        text = f.read()
    return ssl.DER_cert_to_PEM_cert(ssl.PEM_cert_to_DER_cert(text))


def test_renewed_certificate_read_again_on_sighup(env):
    """A renewed certificate put at the same paths is served after SIGHUP
    (systemctl reload) without a restart; a connection open before keeps
    working; a key that does not match the certificate is refused with a
    log line and the running certificate stays."""
    import shutil
    import signal
    n = env.node()
    cert, key, ctx = make_cert(env, "ec")
    live_cert, live_key = os.path.join(env.tmp, "live.crt"), os.path.join(env.tmp, "live.key")
    shutil.copy(cert, live_cert)
    shutil.copy(key, live_key)
    n.start("--web-tls-cert", live_cert, "--web-tls-key", live_key)
    port = n.web_port
    assert served_cert(port) == pem_of(cert)
    assert "web view certificate /CN=localhost, serial " in n.logtext(), n.logtext()

    # a keep-alive connection opened with the first certificate
    kept = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
    kept.request("GET", "/healthz")
    r = kept.getresponse()
    assert r.status == 200, r.status
    r.read()

    cert2, key2, ctx2 = make_cert(env, "rsa")
    shutil.copy(cert2, live_cert)
    shutil.copy(key2, live_key)
    n.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "reload: web view certificate" in n.logtext(), 10, what="the reload to be logged")
    assert served_cert(port) == pem_of(cert2)
    status, _, body = fetch(f"https://127.0.0.1:{port}/", ctx2)
    assert status == 200 and '<form class="search"' in body, status
    kept.request("GET", "/healthz")
    r = kept.getresponse()
    assert r.status == 200, r.status
    r.read()
    kept.close()

    # a certificate whose key does not match: refused, the running one stays
    shutil.copy(cert, live_cert)          # the first certificate, with the second key
    n.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "was not read again" in n.logtext(), 10, what="the refusal to be logged")
    assert "web_tls_key does not match web_tls_cert" in n.logtext(), n.logtext()
    assert served_cert(port) == pem_of(cert2)
    assert n.stop() == 0
