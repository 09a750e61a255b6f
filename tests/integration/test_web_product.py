"""The web view's 製品 page, 「4号随契の確認」, the evidence sheet (HTML and
XLSX) and 履歴, over real daemons of a two-member alliance (docs/WEB.md).

Companies are fictional; every 法人番号 has a valid check digit (body
9999…, see tests/data/gen_fixtures.py); municipality codes are real.
"""
import html
import io
import re
import urllib.error
import urllib.parse
import urllib.request
import zipfile

from harness import digests_equal, wait_until

CORP_1 = "5999900000111"   # 株式会社さくら防災ラボ
CORP_2 = "1999900000222"   # another company


def corp_ok(num):
    body = num[1:]
    total = sum(int(ch) * (1 if i % 2 == 0 else 2) for i, ch in enumerate(reversed(body)))
    return int(num[0]) == 9 - total % 9


assert corp_ok(CORP_1) and corp_ok(CORP_2)


def cert(node, key, *extra, **kw):
    fields = {"事業者名": "株式会社さくら防災ラボ", "法人番号": CORP_1, "製品・サービス名": "避難誘導サイネージ",
              "分野": "防災", "認定日": "2026-04-01", "有効期限": "2027-03-31"}
    fields.update(kw)
    args = [f"{k}={v}" for k, v in fields.items() if v is not None] + list(extra)
    node.ctl("certification", "add", key, *args)


def get(node, path, **params):
    """(status, content type, body bytes) of a GET to the node's web view."""
    url = node.web_url + path + ("?" + urllib.parse.urlencode(params) if params else "")
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def page(node, path, want=200, **params):
    status, ctype, body = get(node, path, **params)
    text = body.decode("utf-8")
    assert status == want, (status, path, params, text[-2000:])
    assert ctype.startswith("text/html"), ctype
    return text


def element(text, tag, ident):
    """The inner HTML of the first <tag id="ident">…</tag> (not nested)."""
    m = re.search(rf'<{tag} id="{ident}"[^>]*>(.*?)</{tag}>', text, re.S)
    assert m, f"no {tag}#{ident}"
    return m.group(1)


def rows(table):
    return re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>", 1)[1], re.S)


def cls(text, name):
    """The inner HTML of every <p class="name">…</p>."""
    return re.findall(rf'<p class="{name}">(.*?)</p>', text, re.S)


def row_of(table, key):
    """The row whose 認定番号 (second cell) is key."""
    for r in rows(table):
        tds = re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)
        if len(tds) > 1 and plain(tds[1]) == key:
            return r
    raise AssertionError(f"no row for {key}: {table}")


def plain(fragment):
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def hrefs(fragment, klass):
    return [html.unescape(h) for h in re.findall(rf'<a class="{klass}" href="([^"]+)"', fragment)]


def qs(href):
    return {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(href).query).items()}


def show(node, key, kind="certification"):
    return node.ctl_json(kind, "show", key)[0]


def alliance(env):
    """A certifies the product; B certifies it too, derived from A's, and
    adopts it; both nodes hold everything."""
    a = env.found()
    b = env.join(a)
    cert(a, "文京-2026-001", "公表資料=https://example.jp/bunkyo/nintei.pdf", "問合せ先=産業振興課")
    wait_until(lambda: digests_equal([a, b]), 15, what="A's certification reaches B")
    b.ctl("certification", "add", "千代田-2026-1", f"依拠した認定={a.code}/文京-2026-001", "認定日=2026-05-01",
          "有効期限=2027-03-31", "問合せ先=商工観光課 03-0000-0101")
    b.ctl("adoption", "add", "R8-001", f"認定={b.code}/千代田-2026-1", "年度=2026", "原課=防災課",
          "契約方法=4号随契", "金額=1200000", "段階=本格導入", "KPI=避難時間 20%短縮\n案内の問合せ 半減",
          "成果=訓練で効果を確認", "課題=夜間の視認性", "評価=4", "問合せ先=防災課 03-0000-0202")
    wait_until(lambda: digests_equal([a, b]), 15, what="B's records reach A")
    return a, b


def test_product_page_shows_every_certification_both_ways_and_the_adoptions(env):
    a, b = alliance(env)
    a_id, b_id = a.member_id(), b.member_id()
    # asked for by B's certification, on A's node: the same product
    text = page(a, "/product", c=b_id, k="千代田-2026-1")
    assert "<h1>避難誘導サイネージ</h1>" in text and "株式会社さくら防災ラボ" in text and CORP_1 in text, text
    certs = element(text, "table", "certifications")
    rs = rows(certs)
    assert len(rs) == 2, certs
    row_a, row_b = row_of(certs, "文京-2026-001"), row_of(certs, "千代田-2026-1")
    assert plain(row_a).startswith(f"{a.code} {a.muni}") and plain(row_b).startswith(f"{b.code} {b.muni}")
    # B's row links to the certification it derives from: A's, named by name and 認定番号
    (href,) = hrefs(row_b, "derived-from")
    assert qs(href) == {"c": a_id, "k": "文京-2026-001"}, href
    assert f"{a.code} {a.muni} 文京-2026-001" in plain(row_b), row_b
    # …and A's row the other way
    (href,) = hrefs(row_a, "derived-by")
    assert qs(href) == {"c": b_id, "k": "千代田-2026-1"}, href
    assert not hrefs(row_a, "derived-from") and not hrefs(row_b, "derived-by")
    # period in 和暦 with the ISO date in the tooltip, the status badge, 制度, 根拠法令
    assert '<time datetime="2026-04-01" title="2026-04-01">令和8年4月1日</time>' in row_a, row_a
    assert 'class="status st-active">認定中<' in row_a
    assert "トライアル発注認定" in row_a and "地方自治法施行令第167条の2第1項第4号" in row_a
    assert '<a href="https://example.jp/bunkyo/nintei.pdf" rel="noopener noreferrer">公表資料</a>' in row_a
    (h,) = hrefs(row_b, "history")
    assert qs(h) == {"kind": "certification", "c": b_id, "k": "千代田-2026-1"}, h
    # B's adoption, on A's node, with its fields
    ad = element(text, "table", "adoptions")
    (row,) = rows(ad)
    t = plain(row)
    for want in (f"{b.code} {b.muni}", "令和8年度", "防災課", "4号随契", "本格導入", "訓練で効果を確認",
                 "夜間の視認性", "4 / 5", "防災課 03-0000-0202"):
        assert want in t, (want, t)
    assert '<td class="num">¥1,200,000</td>' in row, row
    assert '<td class="pre">避難時間 20%短縮\n案内の問合せ 半減</td>' in row, row
    (h,) = hrefs(row, "history")
    assert qs(h) == {"kind": "adoption", "c": b_id, "k": "R8-001"}, h
    # the check's form and the evidence links
    form = element(text, "form", "check")
    assert 'name="on"' in form and f'value="{b_id}"' in form and 'action="/product"' in text
    ev = re.search(r'<a id="evidence-html" href="([^"]+)"', text).group(1)
    assert urllib.parse.urlsplit(html.unescape(ev)).path == "/evidence"
    assert qs(html.unescape(ev))["k"] == "千代田-2026-1"
    ev = re.search(r'<a id="evidence-xlsx" href="([^"]+)"', text).group(1)
    assert urllib.parse.urlsplit(html.unescape(ev)).path == "/evidence.xlsx"


def test_check_in_force_lapsed_revoked_and_none_of_our_own(env):
    a, b = alliance(env)
    a_id, b_id = a.member_id(), b.member_id()
    # in force on B's node: both facts hold, no warning
    text = page(b, "/product", c=a_id, k="文京-2026-001", on="令和8年6月1日")
    res = element(text, "section", "check-result")
    ok = [plain(p) for p in cls(res, "okbox")]
    assert len(ok) == 2 and not cls(res, "warn"), res
    assert "令和8年6月1日に効力のある" in ok[0] and "文京-2026-001" in ok[0] and "千代田-2026-1" in ok[0], ok
    assert f"当団体（{b.code} {b.muni}）の認定がこの日に効力を有します" in ok[1] and "千代田-2026-1" in ok[1], ok
    assert 'value="2026-06-01"' in element(text, "form", "check")
    # after both lapsed: warnings, no fact holds
    text = page(b, "/product", c=a_id, k="文京-2026-001", on="2027-06-01")
    res = element(text, "section", "check-result")
    warns = [plain(p) for p in cls(res, "warn")]
    assert not cls(res, "okbox"), res
    assert any("効力のある、この製品の認定はありません" in w for w in warns), warns
    lapsed = [w for w in warns if "期間満了" in w]
    assert len(lapsed) == 2 and any("文京-2026-001" in w and "令和9年3月31日" in w for w in lapsed), warns
    # before B's own 認定日: A's in force, B's not yet
    text = page(b, "/product", c=b_id, k="千代田-2026-1", on="2026-04-15")
    res = element(text, "section", "check-result")
    assert len(cls(res, "okbox")) == 1
    warns = [plain(p) for p in cls(res, "warn")]
    assert any("千代田-2026-1" in w and "より前" in w for w in warns), warns
    # on A's node, a product only B certified: none of A's own
    b.ctl("certification", "add", "千代田-2026-2", "事業者名=合同会社みどり計測", f"法人番号={CORP_2}",
          "製品・サービス名=水位センサー", "分野=防災", "認定日=2026-04-01", "有効期限=2028-03-31")
    wait_until(lambda: digests_equal([a, b]), 15, what="B's second certification reaches A")
    text = page(a, "/product", c=b_id, k="千代田-2026-2", on="2026-06-01")
    res = element(text, "section", "check-result")
    assert len(cls(res, "okbox")) == 1, res
    warns = [plain(p) for p in cls(res, "warn")]
    assert any(f"当団体（{a.code} {a.muni}）の認定がありません" in w and "4号随契" in w for w in warns), warns
    # …while on B's node the same product is fine
    res = element(page(b, "/product", c=b_id, k="千代田-2026-2", on="2026-06-01"), "section", "check-result")
    assert len(cls(res, "okbox")) == 2 and not cls(res, "warn"), res
    # revoked: 取消 from its date, with the reason
    a.ctl("certification", "revoke", "文京-2026-001", "--reason", "虚偽の申請が判明", "--date", "2026-07-01")
    wait_until(lambda: digests_equal([a, b]), 15, what="the revocation reaches B")
    text = page(b, "/product", c=b_id, k="千代田-2026-1", on="2026-08-01")
    res = element(text, "section", "check-result")
    warns = [plain(p) for p in cls(res, "warn")]
    rev = [w for w in warns if "取消" in w]
    assert len(rev) == 1 and "文京-2026-001" in rev[0] and "虚偽の申請が判明" in rev[0] and \
        "令和8年7月1日" in rev[0], warns
    # B's own still stands: both facts hold
    assert len(cls(res, "okbox")) == 2, res
    # the badge on A's row says 取消 (today is after the revocation's date)
    row_a = row_of(element(text, "table", "certifications"), "文京-2026-001")
    assert 'class="status st-revoked">取消<' in row_a, row_a
    # the day before the revocation: in force
    res = element(page(b, "/product", c=b_id, k="千代田-2026-1", on="2026-06-30"), "section", "check-result")
    assert not cls(res, "warn"), res


def test_evidence_html_and_xlsx_hold_the_record_hashes(env):
    a, b = alliance(env)
    a_id, b_id = a.member_id(), b.member_id()
    ha, hb = show(a, "文京-2026-001"), show(b, "千代田-2026-1")
    assert re.fullmatch(r"[0-9a-f]{64}", ha["hash"]), ha
    text = page(b, "/evidence", c=a_id, k="文京-2026-001", on="2026-06-01")
    assert "4号随契 確認書（認定カタログ記録）" in text
    assert ha["hash"] in text and hb["hash"] in text, text
    assert "ファーストカスタマー・アライアンス（試験）" in text and f"{b.code} {b.muni}" in text
    assert f"seq: {hb['seq']}" in text
    res = element(text, "section", "check-result")
    assert len(cls(res, "okbox")) == 2 and not cls(res, "warn"), res
    adoption = show(b, "R8-001", "adoption")
    assert adoption["hash"] in text and "防災課" in text
    # the same facts, as cells
    status, ctype, body = get(b, "/evidence.xlsx", c=a_id, k="文京-2026-001", on="2027-06-01")
    assert status == 200 and ctype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", \
        (status, ctype, body[:3000].decode("utf-8", "replace"))
    z = zipfile.ZipFile(io.BytesIO(body))
    strings = [html.unescape(re.sub(r"<[^>]+>", "", s))
               for s in re.findall(r"<si>(.*?)</si>", z.read("xl/sharedStrings.xml").decode(), re.S)]

    def cells(name):
        xml = z.read(name).decode()
        out = []
        for attrs, inner in re.findall(r"<c ([^>]*)>(.*?)</c>", xml, re.S):
            v = re.search(r"<v>(.*?)</v>", inner)
            if v:
                out.append(strings[int(v.group(1))] if 't="s"' in attrs else v.group(1))
        return out

    sheets = sorted(n for n in z.namelist() if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n))
    assert len(sheets) == 3, z.namelist()
    summary, certs, adoptions = (cells(s) for s in sheets)
    assert "4号随契 確認書（認定カタログ記録）" in summary and any("期間満了" in c for c in summary), summary
    assert "警告" in summary and not any(c == "確認" for c in summary), summary
    assert ha["hash"] in certs and hb["hash"] in certs and "文京-2026-001" in certs and "千代田-2026-1" in certs
    assert "期間満了" in certs, certs
    assert adoption["hash"] in adoptions and "1200000" in adoptions, adoptions
    # a download, named in Japanese (RFC 6266), of today by default
    url = b.web_url + "/evidence.xlsx?" + urllib.parse.urlencode({"c": a_id, "k": "文京-2026-001"})
    with urllib.request.urlopen(url, timeout=10) as r:
        cd = r.headers["Content-Disposition"]
        assert r.status == 200 and zipfile.is_zipfile(io.BytesIO(r.read()))
    assert cd.startswith('attachment; filename="evidence-') and "filename*=UTF-8''" in cd, cd
    assert "文京-2026-001" in urllib.parse.unquote(cd.split("filename*=UTF-8''")[1]), cd


def test_history_numbers_versions_and_shows_what_changed(env):
    a, b = alliance(env)
    b_id = b.member_id()
    b.ctl("certification", "update", "千代田-2026-1", "問合せ先=商工観光課 03-0000-0999")
    b.ctl("certification", "suspend", "千代田-2026-1", "--reason", "調査中", "--date", "2026-09-01")
    text = page(b, "/history", kind="certification", c=b_id, k="千代田-2026-1")
    versions = re.findall(r'<section class="version">(.*?)</section>', text, re.S)
    assert len(versions) == 3, text
    assert "第1版" in versions[0] and "第2版" in versions[1] and "第3版" in versions[2]
    # the first shows every field; the second what changed, old → new
    assert "依拠した認定" in versions[0] and f"{a.code} {a.muni} 文京-2026-001" in plain(versions[0])
    ch = re.search(r'<table class="changes">(.*?)</table>', versions[1], re.S).group(1)
    (row,) = rows(ch)
    assert "<th>問合せ先</th>" in row and "商工観光課 03-0000-0101" in row and "商工観光課 03-0000-0999" in row
    assert row.index("0101") < row.index("0999"), row
    # the third records the suspension with its date and reason
    assert "停止" in versions[2] and "調査中" in versions[2] and "令和8年9月1日" in versions[2], versions[2]
    ch = plain(re.search(r'<table class="changes">(.*?)</table>', versions[2], re.S).group(1))
    assert "状態" in ch and "認定中" in ch and "停止" in ch, ch
    # a withdrawal with its reason, on the other node too
    b.ctl("adoption", "withdraw", "R8-001", "--reason", "重複して登録した")
    wait_until(lambda: digests_equal([a, b]), 15, what="the withdrawal reaches A")
    text = page(a, "/history", kind="adoption", c=b_id, k="R8-001")
    versions = re.findall(r'<section class="version">(.*?)</section>', text, re.S)
    assert len(versions) == 2 and "取り下げ" in versions[1] and "重複して登録した" in versions[1], text
    # …and gone from the product page
    assert "R8-001" not in page(a, "/product", c=b_id, k="千代田-2026-1")


def test_unknown_404_malformed_400_and_escaping(env):
    a = env.found()
    a_id = a.member_id()
    # 公表資料 must be http(s): javascript: is refused at the door…
    rc, _, err = a.run("certification", "add", "文京-X", "事業者名=株式会社さくら防災ラボ", "製品・サービス名=表示板",
                       "分野=防災", "認定日=2026-04-01", "有効期限=2027-03-31", "公表資料=javascript:alert(1)",
                       check=False)
    assert rc != 0 and "http" in err, err
    # …and one the schema takes but is no fit target for an href is shown as text
    cert(a, "文京-2026-777", "公表資料=https://example.jp/a\"onmouseover=\"alert(1)",
         **{"事業者名": "株式会社<script>alert(1)</script>テスト", "法人番号": CORP_2, "製品・サービス名": "<b>表示板</b>"})
    text = page(a, "/product", c=a_id, k="文京-2026-777")
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text, text
    assert "<b>表示板</b>" not in text and "&lt;b&gt;表示板&lt;/b&gt;" in text
    row = rows(element(text, "table", "certifications"))[0]
    assert "onmouseover" in row and 'href="https://example.jp/a' not in row, row
    assert "&quot;onmouseover=&quot;" in row, row
    # the same on the evidence sheet and the history
    for path in ("/evidence", "/history"):
        extra = {"kind": "certification"} if path == "/history" else {}
        t = page(a, path, c=a_id, k="文京-2026-777", **extra)
        assert "<script>" not in t and "&lt;script&gt;" in t, (path, t)
    # the key as people type it (full width) finds the record
    assert "&lt;b&gt;" in page(a, "/product", c=a_id, k="文京－２０２６－７７７")
    # unknown: 404 in Japanese
    for path, extra in (("/product", {}), ("/evidence", {}), ("/evidence.xlsx", {}),
                        ("/history", {"kind": "certification"})):
        t = page(a, path, want=404, c=a_id, k="文京-2026-404", **extra)
        assert "このノードにありません" in t and "文京-2026-404" in t, (path, t)
    # malformed: 400
    for params in ({"c": "not-an-id", "k": "文京-2026-777"}, {"c": a_id}, {"c": a_id, "k": "a/b"},
                   {"c": a_id, "k": "文京-2026-777", "on": "2026-13-45"}):
        t = page(a, "/product", want=400, **params)
        assert 'class="error"' in t, (params, t)
    t = page(a, "/history", want=400, kind="member", c=a_id, k="x")
    assert "certification か adoption" in t


def test_product_of_many_certifications_stays_quick(env):
    """A product with NODE_WEB_PRODUCT_RECORDS_MAX certifications (a member
    may sign that many of one product): the page's 依拠した認定 columns
    compare every pair of certifications, and must not parse each
    reference once per pair (that took seconds on the event loop)."""
    import csv
    import os
    a = env.found()
    path = os.path.join(env.tmp, "many.csv")
    n = 2000
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["認定番号", "事業者名", "法人番号", "製品・サービス名", "分野", "認定日", "有効期限"])
        for i in range(n):
            w.writerow([f"多数-{i:04d}", "株式会社さくら防災ラボ", CORP_1, "避難誘導サイネージ", "防災",
                        "2026-04-01", "2027-03-31"])
    assert a.ctl_json("import", path)["created"] == n
    a.ctl("certification", "add", "多数-派生", f"依拠した認定={a.code}/多数-1999", "事業者名=株式会社さくら防災ラボ",
          f"法人番号={CORP_1}", "製品・サービス名=避難誘導サイネージ", "分野=防災", "認定日=2026-05-01",
          "有効期限=2027-03-31")
    url = a.web_url + "/product?" + urllib.parse.urlencode({"c": a.member_id(), "k": "多数-0000"})
    with urllib.request.urlopen(url, timeout=60) as r:
        text = r.read().decode("utf-8")
        timing = r.headers.get("Server-Timing", "")
    table = element(text, "table", "certifications")
    assert len(rows(table)) == n, len(rows(table))   # the limit: n + 1 records, one left out
    assert "ほかに 1 件の記録があります" in text
    ms = float(re.search(r"dur=([0-9.]+)", timing).group(1))
    assert ms < 1000, timing
    # the search page shows NODE_WEB_SEARCH_ROWS (50) of them and says how many more
    with urllib.request.urlopen(a.web_url + "/?q=" + urllib.parse.quote("避難誘導サイネージ"), timeout=60) as r:
        text = r.read().decode("utf-8")
    section = text[text.index('<section class="product">'):]
    section = section[:section.index("</section>")]
    certs = section[section.index('<table class="certs">'):]
    certs = certs[:certs.index("</table>")]
    assert certs.count("<tr>") == 1 + 50, certs.count("<tr>")
    assert f"ほかに {n + 1 - 50} 件の認定があります" in section, section[-300:]
