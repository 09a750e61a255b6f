"""Terminal and log injection, CSV injection (issue 15 items 9 and 10)."""
import csv
import json
import os
import socket
import ssl
import subprocess

from harness import wait_until

ESC_NAME = "\x1b[2J\x1b]8;;http://evil.example/\x1b\\文京区\x1b]8;;\x1b\\"
# the same for openssl -subj, which takes / and \ as its own
CN_NAME = "\x1b[2J\x1b]8;;https:evil.example\x07文京区\x1b]8;;\x07"


def test_init_name_with_esc_refused(env):
    n = env.node(init=False)
    rc, out, err = n.run("init", "--code", n.code, "--name", ESC_NAME, check=False)
    assert rc != 0, out
    assert "control character U+001B" in err, err
    assert "\x1b" not in err and "\\u001b" in err, err   # the message quotes it escaped
    assert not os.path.exists(os.path.join(n.dir, "node.crt"))


def hostile_cert(env, cn, code="131016"):
    """A certificate made outside catalogctl (which refuses such a name)."""
    key, crt = os.path.join(env.tmp, "hostile.key"), os.path.join(env.tmp, "hostile.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ed25519", "-nodes", "-keyout", key, "-out", crt,
                    "-days", "30", "-utf8", "-subj", f"/serialNumber={code}/CN={cn}"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return key, crt


def test_member_add_with_esc_refused(env):
    a = env.found()
    _, crt = hostile_cert(env, CN_NAME)
    rc, out, err = a.run("member", "add", crt, "--address", "127.0.0.1:1", check=False)
    assert rc != 0, out
    assert "U+001B" in err and "\x1b" not in err, err
    rc, out, err = a.run("member", "list", check=False)
    assert "\x1b" not in out and "evil" not in out, out


def test_non_member_cn_logged_escaped(env):
    a = env.found()
    key, crt = hostile_cert(env, CN_NAME)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.load_cert_chain(crt, key)
    host, port = a.addr.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=5) as s:
            with ctx.wrap_socket(s) as t:
                t.recv(1)
    except (OSError, ssl.SSLError):
        pass
    wait_until(lambda: "unusable certificate" in a.logtext(), 10, what="the refusal logged")
    log = a.logtext()
    assert "\x1b" not in log, repr(log[-500:])
    line = [l for l in log.splitlines() if "unusable certificate" in l][0]
    assert "\\u001b[2J" in line and "文京区" in line, line


def cert_args(key, company):
    return ["certification", "add", key, f"事業者名={company}", "製品・サービス名=避難所混雑表示",
            "分野=防災", "認定日=2026-04-01", "有効期限=fy-end+2"]


def test_catalog_add_with_controls_refused(env):
    a = env.found()
    rc, out, err = a.run(*cert_args("文京-2026-901", "株式会社\x1b[2Jテスト"), check=False)
    assert rc != 0 and "制御文字（U+001B）" in err, err
    rc, out, err = a.run(*cert_args("文京-2026-\u009b2J", "株式会社テスト"), check=False)
    assert rc != 0 and "U+009B" in err, err
    rc, out, err = a.run(*cert_args("文京-2026-902", "株式会社\u202eトステ"), check=False)
    assert rc != 0 and "文字の向きを変える制御文字" in err, err


def test_csv_formula_neutralised_raw_and_round_trip(env):
    a = env.found()
    formula = '=HYPERLINK("http://evil.example/","詳細")'
    a.run(*cert_args("文京-2026-950", formula))
    a.run("certification", "update", "文京-2026-950", "問合せ先=+81-3-0000-0000")
    out = os.path.join(env.tmp, "safe.csv")
    a.run("export", "--format", "csv", "--output", out)
    with open(out, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    col = rows[0].index("事業者名")
    assert rows[1][col] == "'" + formula, rows[1]
    assert rows[1][rows[0].index("問合せ先")] == "'+81-3-0000-0000"
    raw = os.path.join(env.tmp, "raw.csv")
    a.run("export", "--format", "csv", "--raw", "--output", raw)
    with open(raw, encoding="utf-8-sig", newline="") as f:
        assert list(csv.reader(f))[1][col] == formula
    # re-importing the neutralised file changes nothing: the ' comes off
    res = a.ctl_json("import", out)
    assert res.get("unchanged", 0) >= 1 and not res.get("updated"), res
    show = a.ctl_json("certification", "show", "文京-2026-950")
    rec = show[0] if isinstance(show, list) else show
    assert rec["body"]["company"] == formula, rec["body"]
    # the full-width ＝ a Japanese IME types: Excel reads it as =
    wide = "＝HYPERLINK(\"http://evil.example/\",\"詳細\")"
    a.run(*cert_args("文京-2026-952", wide))
    a.run("export", "--format", "csv", "--output", out)
    with open(out, encoding="utf-8-sig", newline="") as f:
        rows = {r[0]: r for r in csv.reader(f)}
    assert rows["文京-2026-952"][col] == "'" + wide, rows["文京-2026-952"]
    res = a.ctl_json("import", out)
    assert not res.get("updated") and not res.get("added"), res
    show = a.ctl_json("certification", "show", "文京-2026-952")
    rec = show[0] if isinstance(show, list) else show
    assert rec["body"]["company"] == wide, rec["body"]
    # a value that itself starts with ' round-trips both ways: a neutralised
    # export with the default import, a --raw export with import --raw
    a.run(*cert_args("文京-2026-951", "'=株式会社アポストロフィ"))
    for flag in ([], ["--raw"]):
        path = os.path.join(env.tmp, f"apos{len(flag)}.csv")
        a.run("export", "--format", "csv", *flag, "--output", path)
        res = a.ctl_json("import", path, *flag)
        assert not res.get("updated") and not res.get("added"), (flag, res)
        show = a.ctl_json("certification", "show", "文京-2026-951")
        rec = show[0] if isinstance(show, list) else show
        assert rec["body"]["company"] == "'=株式会社アポストロフィ", (flag, rec["body"])


def test_xlsx_formula_text_is_a_string(env):
    import zipfile
    a = env.found()
    formula = '=HYPERLINK("http://evil.example/","詳細")'
    a.run(*cert_args("文京-2026-951", formula))
    out = os.path.join(env.tmp, "book.xlsx")
    a.run("export", "--format", "xlsx", "--output", out)
    with zipfile.ZipFile(out) as z:
        sheets = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
        strings = "".join(z.read(n).decode() for n in z.namelist() if n == "xl/sharedStrings.xml")
    assert sheets and not any("<f>" in s or "<f " in s for s in sheets)   # no formula cells
    assert "=HYPERLINK(" in strings + "".join(sheets)   # as text (quotes may be &quot; or raw)


def test_old_record_with_controls_shown_escaped(env):
    """A record an older node stored before the text rule is shown escaped."""
    a = env.found()
    a.run(*cert_args("文京-2026-903", "株式会社テスト"))
    a.stop()
    tool = os.path.join(env.tools, "oldrecord")
    hostile = r"株式会社\e[2J\e]8;;http://evil.example/\e\\テスト\e]8;;\e\\"
    # a certification's schema fields are held to the schema at every store
    # (catalog_record_validate), so such a 事業者名 is refused even here...
    p = subprocess.run([tool, "--data", a.dir, "--kind", "certification", "--key", "文京-2026-903",
                        "--set", "company=" + hostile], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.returncode == 1 and "not stored (5)" in p.stderr.decode(), p   # STORE_REJECT
    # ...but a field the schema does not know (a newer node's) is kept as sent
    subprocess.run([tool, "--data", a.dir, "--kind", "certification", "--key", "文京-2026-903",
                    "--set", "remark=" + hostile], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([tool, "--data", a.dir, "--kind", "note", "--key", "メモ",
                    "--set", r"title=\a\e]0;owned\a\x7f\xc2\x9b31m"], check=True, stdout=subprocess.DEVNULL)
    a.start()
    outs = [a.ctl("certification", "show", "文京-2026-903"),
            a.ctl("search", "テスト"),
            a.ctl("get", "certification", "文京-2026-903"),
            a.ctl("list", "note"),
            a.ctl("get", "note", "メモ"),
            a.run("get", "note", "メモ", "--json")[1]]
    for out in outs:
        assert not any(c in out for c in "\x1b\x07\x7f\x9b"), repr(out)
    assert "テスト" in outs[0] and "テスト" in outs[1], outs[:2]
    assert "\\u001b[2J" in outs[2], outs[2]
    assert "メモ" in outs[3], outs[3]
    assert "\\u0007" in outs[4] and "\\u009b" in outs[4] and "\\u007f" in outs[4], outs[4]
    # JSON keeps the value (a program reads it) but as escapes, never raw
    got = json.loads(outs[5])
    assert got[0]["body"]["title"] == "\x07\x1b]0;owned\x07\x7f\x9b31m", outs[5]
