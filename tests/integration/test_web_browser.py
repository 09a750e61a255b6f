"""The web view in a real headless Chromium (docs/WEB.md is the contract:
addresses, ids and classes).

Each test starts a real two-member alliance (文京区 founds it, 千代田区 joins;
real daemons, real TLS between them), writes fictional certifications and an
adoption with catalogctl, waits until both nodes hold the same catalog, and
then has tests/browser/runner.js drive Chromium through one scenario
(tests/browser/README.md).  The runner is started once per module and keeps
one browser for every test (a launch costs about two seconds); each scenario
gets a fresh browser context.

Node, the runner's packages (tests/browser/node_modules, `npm ci`) and
Chromium are required: when any is missing the tests FAIL, saying how to get
them (`make check` installs them).

Companies are fictional; 法人番号 bodies start with 9999 and carry valid check
digits (tests/data/gen_fixtures.py); municipality codes are real.
"""
import atexit
import importlib.util
import json
import os
import re
import select
import shutil
import struct
import subprocess
import time
import urllib.parse
import xml.etree.ElementTree as ET
import zipfile

from harness import SLOW, digests_equal, wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BROWSER_DIR = os.path.join(ROOT, "tests", "browser")
RUNNER = os.path.join(BROWSER_DIR, "runner.js")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

_spec = importlib.util.spec_from_file_location("gen_fixtures", os.path.join(ROOT, "tests", "data", "gen_fixtures.py"))
fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixtures)

CORP_SIGN = fixtures.corp_number("999900007001")    # 株式会社ひかり避難テック
CORP_EDU = fixtures.corp_number("999900007002")     # 株式会社まなびノート
CORP_RIVER = fixtures.corp_number("999900007003")   # 株式会社みなと水位センサー
CORP_XSS = fixtures.corp_number("999900007004")     # the company whose name is markup
assert all(fixtures.corp_valid(c) for c in (CORP_SIGN, CORP_EDU, CORP_RIVER, CORP_XSS))

PRODUCT = "多言語避難誘導サイネージ"
XSS_COMPANY = "<script>window.__pwned=1</script>株式会社テスト"
XSS_PRODUCT = "<img src=x onerror=alert(document.domain)>見守りセンサー"

# a scenario's own budget; the runner's per-action timeouts are shorter
SCENARIO_TIMEOUT = 60.0


class Browser:
    """tests/browser/runner.js in --serve mode: one JSON request per line on
    its stdin, one JSON answer per line on its stdout."""

    def __init__(self):
        self.proc = None
        self.n = 0

    def start(self):
        node = shutil.which("node")
        if not node:
            raise AssertionError("node is not installed: `make check` (make deps) installs nodejs and npm")
        if not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")):
            raise AssertionError("tests/browser/node_modules is missing: run `make check`, or "
                                 "`cd tests/browser && npm ci --no-audit --no-fund`")
        if not os.access(CHROMIUM, os.X_OK):
            raise AssertionError(f"{CHROMIUM} is missing: `make check` (make deps) installs Debian's chromium")
        self.errpath = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"catalogd-browser-{os.getpid()}.log")
        self.err = open(self.errpath, "wb")
        self.proc = subprocess.Popen([node, RUNNER, "--serve"], cwd=ROOT, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.err,
                                     env=dict(os.environ, CHROMIUM=CHROMIUM))

    def stderr_tail(self, lines=30):
        try:
            with open(self.errpath, "rb") as f:
                return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-lines:])
        except (OSError, AttributeError):
            return ""

    def run(self, scenario, **args):
        """Runs one scenario; returns what it reports, raises with its message if it failed."""
        if self.proc is None or self.proc.poll() is not None:
            self.close()
            self.start()
        self.n += 1
        req = {"id": self.n, "scenario": scenario, "args": args}
        try:
            self.proc.stdin.write((json.dumps(req, ensure_ascii=False) + "\n").encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise AssertionError(f"the browser runner exited: {self.stderr_tail()}")
        deadline = time.time() + SCENARIO_TIMEOUT * SLOW
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.time()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                self.close()    # a hung browser is not reused by the next test
                raise AssertionError(f"browser scenario {scenario} timed out\n{self.stderr_tail()}")
            chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
            if not chunk:
                raise AssertionError(f"the browser runner exited during {scenario}:\n{self.stderr_tail()}")
            line += chunk
        rep = json.loads(line.decode())
        assert rep.get("id") == self.n, rep
        if not rep["ok"]:
            raise AssertionError(f"browser scenario {scenario}: {rep['error']}\n" + "\n".join(rep.get("log", [])))
        return rep["result"]

    def close(self):
        if self.proc is not None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        if getattr(self, "err", None):
            self.err.close()
            self.err = None


BROWSER = Browser()
atexit.register(BROWSER.close)


def teardown_module():
    """tests/run.py calls this after the module's last test."""
    BROWSER.close()


def ctl_ok(node, *args):
    rc, out, err = node.run(*args, check=False)
    assert rc == 0, (args, rc, err)
    return out


def cert(node, key, **kw):
    fields = {"事業者名": "株式会社ひかり避難テック", "法人番号": CORP_SIGN, "製品・サービス名": PRODUCT,
              "分野": "防災", "認定日": "2026-04-01", "有効期限": "2029-03-31"}
    fields.update(kw)
    return ctl_ok(node, "certification", "add", key, *[f"{k}={v}" for k, v in fields.items() if v is not None])


class Alliance:
    """文京区 (a) certifies; 千代田区 (b) certifies the same product relying on
    a's certification and adopts it.  Browsed on a's web view."""

    def __init__(self, env):
        a = self.a = env.found()
        b = self.b = env.join(a)
        self.a_label, self.b_label = f"{a.code} {a.muni}", f"{b.code} {b.muni}"
        self.a_id, self.b_id = a.member_id(), b.member_id()
        self.base = a.web_url
        self.key = "文京-2026-001"
        cert(a, self.key, 概要="避難所までの経路を多言語で表示する")
        cert(a, "文京-2026-002", 事業者名="株式会社まなびノート", 法人番号=CORP_EDU,
             **{"製品・サービス名": "学習記録ポートフォリオ", "分野": "教育"})
        self.lapsed_key = "文京-2024-003"
        cert(a, self.lapsed_key, 事業者名="株式会社みなと水位センサー", 法人番号=CORP_RIVER,
             認定日="2024-04-01", 有効期限="2025-03-31", **{"製品・サービス名": "河川水位センサー"})
        cert(a, "文京-2026-004", 事業者名=XSS_COMPANY, 法人番号=CORP_XSS,
             **{"製品・サービス名": XSS_PRODUCT, "分野": "子育て"})
        wait_until(lambda: digests_equal([a, b]), 15, what="a's certifications reach b")
        self.derived_key = "千代田-2026-001"
        ctl_ok(b, "certification", "add", self.derived_key, f"依拠した認定={a.code}/{self.key}",
               "認定日=2026-05-01", "有効期限=2028-03-31")
        ctl_ok(b, "adoption", "add", "R8-001", f"認定={a.code}/{self.key}", "年度=2026", "原課=危機管理課",
               "契約方法=4号随契")
        wait_until(lambda: digests_equal([a, b]), 15, what="b's records reach a")
        self.hash = a.ctl_json("certification", "show", self.key)[0]["hash"]

    def ref(self, key=None, member=None):
        return {"c": member or self.a_id, "k": key or self.key}

    def url(self, path, **params):
        return self.base + path + ("?" + urllib.parse.urlencode(params) if params else "")


def test_search_by_word_and_area(env):
    al = Alliance(env)
    r = BROWSER.run("search", base=al.base, word="サイネージ", area="防災", product=PRODUCT,
                    certifiers=[al.a_label, al.b_label], excluded="学習記録ポートフォリオ")
    assert r["word_url"]["q"] == ["サイネージ"], r
    assert r["area_url"]["area"] == ["防災"], r
    assert "件の製品" in r["count"], r


def test_product_derived_from_and_adoptions(env):
    al = Alliance(env)
    r = BROWSER.run("product", base=al.base, word="サイネージ", product=PRODUCT,
                    keys=[al.key, al.derived_key], derived_key=al.derived_key, source=al.ref(),
                    adopter=al.b_label, department="危機管理課")
    assert r["path"] == "/product", r


def test_check_lapsed_certification(env):
    al = Alliance(env)
    BROWSER.run("check", base=al.base, ref=al.ref(al.lapsed_key), key=al.lapsed_key,
                lapsed_on="2025-06-01", in_force_on="2024-10-01")


def xlsx_cells(path):
    """Every cell value of every sheet, read with the standard library only."""
    ns = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    z = zipfile.ZipFile(path)
    shared = []
    if "xl/sharedStrings.xml" in z.namelist():
        for si in ET.fromstring(z.read("xl/sharedStrings.xml")).iter(ns + "si"):
            shared.append("".join(t.text or "" for t in si.iter(ns + "t")))
    cells = []
    for name in z.namelist():
        if not re.fullmatch(r"xl/worksheets/sheet\d+\.xml", name):
            continue
        for c in ET.fromstring(z.read(name)).iter(ns + "c"):
            v = c.find(ns + "v")
            if c.get("t") == "s":
                cells.append(shared[int(v.text)])
            elif c.get("t") == "inlineStr":
                cells.append("".join(t.text or "" for t in c.iter(ns + "t")))
            elif v is not None:
                cells.append(v.text or "")
    return cells


def test_evidence_xlsx_download(env):
    al = Alliance(env)
    out = os.path.join(env.tmp, "evidence.xlsx")
    r = BROWSER.run("evidence", base=al.base, ref=al.ref(), key=al.key, hash=al.hash, out=out)
    assert r["filename"].endswith(".xlsx"), r
    cells = xlsx_cells(out)
    assert any(al.key in c for c in cells), (al.key, cells)
    assert any(al.hash in c for c in cells), (al.hash, cells)
    # the page said the same record: its hash was on the evidence page (the runner checked)
    assert r["hash_on_page"], r


def test_xss_company_name_is_text(env):
    al = Alliance(env)
    r = BROWSER.run("xss", base=al.base, word="見守りセンサー", company=XSS_COMPANY, product=XSS_PRODUCT)
    csp = r["csp"]
    assert "default-src 'none'" in csp and "script-src" in csp and "unsafe-inline" not in csp, csp
    # the escaping alone (CSP bypassed in a second context) kept the script from running
    assert r["bypassed_csp_checked"], r


def test_xss_product_page(env):
    al = Alliance(env)
    xss = al.a.ctl_json("certification", "show", "文京-2026-004")[0]
    BROWSER.run("xss", base=al.base, path="/product", params={"c": al.a_id, "k": xss["key"]},
                company=XSS_COMPANY, product=XSS_PRODUCT)


def test_long_words_wrap_on_screen_and_paper(env):
    """Another member's fields with no space to break at (as long as the
    schema allows) made every page wider than the window: columns, the
    history links and, on the printed evidence sheet, the product's name and
    the record's hash were cut off."""
    a = env.found()
    w = "A" * 150
    ctl_ok(a, "certification", "add", "長-001", f"事業者名=株式会社{w}", f"製品・サービス名=製品{w}", "分野=防災",
           "認定日=2026-04-01", "有効期限=2029-03-31", f"認定制度名=制度{w}", f"根拠法令=法令{w}",
           f"問合せ先={'x' * 150}@example.jp", "概要=" + "w" * 3000, "URL=https://example.jp/" + "p" * 1500,
           "公表資料=https://example.jp/" + "q" * 1500)
    ctl_ok(a, "adoption", "add", "R8-長", f"認定={a.code}/長-001", "年度=2026", f"原課=課{w}", "契約方法=4号随契",
           "KPI=" + "k" * 3000)
    ref = urllib.parse.urlencode({"c": a.member_id(), "k": "長-001"})
    pages = [("search", a.web_url + "/?q=" + urllib.parse.quote("製品")), ("product", a.web_url + "/product?" + ref),
             ("evidence", a.web_url + "/evidence?" + ref), ("new", a.web_url + "/new"),
             ("history", a.web_url + "/history?kind=certification&" + ref)]
    r = BROWSER.run("fits", pages=[{"name": n, "url": u, "print": n == "evidence"} for n, u in pages])
    assert len(r["widths"]) == len(pages) + 1 and "print evidence" in r["widths"], r


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", (path, head)
    return struct.unpack(">II", head[16:24])


def test_screenshots_of_every_page(env):
    # without a Japanese font every screenshot shows boxes for the text
    fonts = subprocess.run(["fc-list", ":lang=ja", "family"], stdout=subprocess.PIPE, text=True).stdout
    assert fonts.strip(), "no Japanese font: `make check` (make deps) installs fonts-ipafont-gothic"
    al = Alliance(env)
    shots = os.path.join(env.build, "artefacts", "screenshots")
    os.makedirs(shots, exist_ok=True)
    ref = al.ref()
    pages = [
        ("search", al.url("/", q="サイネージ")),
        ("product", al.url("/product", **ref)),
        ("evidence", al.url("/evidence", **ref)),
        ("history", al.url("/history", kind="certification", **ref)),
        ("new", al.url("/new")),
        ("members", al.url("/members")),
    ]
    for name, _ in pages:
        if os.path.exists(os.path.join(shots, name + ".png")):
            os.unlink(os.path.join(shots, name + ".png"))
    r = BROWSER.run("screenshots", pages=[{"name": n, "url": u} for n, u in pages], dir=shots,
                    expect={"search": PRODUCT, "product": al.key, "evidence": al.key, "history": al.key,
                            "new": PRODUCT, "members": al.b.muni})
    for name, _ in pages:
        assert png_size(os.path.join(shots, name + ".png")) == (1280, 800), name
    assert len(r["saved"]) == len(pages), r
