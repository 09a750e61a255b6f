"""The catalog as evidence (issue 10): computed status everywhere, filters
that are read whole or refused, names instead of ids, JSON for scripts,
search quality (kana, 問合せ先, a stable order, the product view), expiring
certifications and adoption list filters."""
import csv
import datetime
import importlib.util
import io
import json
import os
import re
import subprocess
import xml.etree.ElementTree as ET
import zipfile

from harness import digests_equal, wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_spec = importlib.util.spec_from_file_location("gen_fixtures", os.path.join(ROOT, "tests", "data", "gen_fixtures.py"))
fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixtures)

# fictional companies; 法人番号 bodies start with 9999 as in gen_fixtures.py
CORP_A = fixtures.corp_number("999900001001")
CORP_B = fixtures.corp_number("999900001002")
CORP_C = fixtures.corp_number("999900001003")
ID_RE = re.compile(r"[A-Z2-7]{4}(-[A-Z2-7]{4}){12}")     # a printed member id


def cert(node, key, **kw):
    fields = {"事業者名": "株式会社テスト防災", "製品・サービス名": "避難所混雑表示", "分野": "防災",
              "認定日": "2026-04-01", "有効期限": "2029-03-31"}
    fields.update({("製品・サービス名" if k == "product" else k): v for k, v in kw.items()})
    rc, out, err = node.run("certification", "add", key, *[f"{k}={v}" for k, v in fields.items() if v is not None],
                            check=False)
    assert rc == 0, (key, err)


def adopt(node, key, ref, **kw):
    fields = {"認定": ref, "年度": "2026", "原課": "総務課", "契約方法": "4号随契"}
    fields.update(kw)
    rc, out, err = node.run("adoption", "add", key, *[f"{k}={v}" for k, v in fields.items()], check=False)
    assert rc == 0, (key, err)


def keys(res):
    return sorted(c["key"] for p in res for c in p["certifications"])


def rows_of(path):
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


def xlsx_rows(path, sheet):
    """Cell values of one sheet, read back with the standard library only."""
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    z = zipfile.ZipFile(path)
    shared = []
    if "xl/sharedStrings.xml" in z.namelist():
        for si in ET.fromstring(z.read("xl/sharedStrings.xml")).findall("m:si", ns):
            shared.append("".join(t.text or "" for t in si.iter("{%s}t" % ns["m"])))
    rows = []
    for row in ET.fromstring(z.read(f"xl/worksheets/{sheet}.xml")).iter("{%s}row" % ns["m"]):
        cells = {}
        for c in row.findall("m:c", ns):
            col = re.match(r"[A-Z]+", c.get("r")).group(0)
            idx = 0
            for ch in col:
                idx = idx * 26 + ord(ch) - 64
            v = c.find("m:v", ns)
            if c.get("t") == "s":
                val = shared[int(v.text)]
            elif c.get("t") == "inlineStr":
                val = "".join(t.text or "" for t in c.iter("{%s}t" % ns["m"]))
            else:
                val = v.text if v is not None else ""
            cells[idx - 1] = val
        rows.append([cells.get(i, "") for i in range(max(cells) + 1)] if cells else [])
    return rows


def test_filter_values_read_whole_or_refused(env):
    a = env.found()
    cert(a, "文京-2024-001", product="防災アプリ甲", 法人番号=CORP_A, 認定日="2024-04-01", 有効期限="2027-03-31")
    cert(a, "文京-2026-002", product="防災アプリ乙", 法人番号=CORP_B)
    everything = keys(a.ctl_json("search"))
    assert everything == ["文京-2024-001", "文京-2026-002"], everything

    # 和暦 is longer than any old buffer: honoured (in force on 2025-04-01) or refused, never "everything"
    rc, out, err = a.run("search", "--valid-on", "令和7年4月1日", "--json", check=False)
    assert (rc == 3 and "日付" in err) or (rc == 0 and keys(json.loads(out)) == ["文京-2024-001"]), (rc, out, err)
    assert keys(a.ctl_json("search", "--valid-on", "2025年4月1日")) == ["文京-2024-001"]
    assert keys(a.ctl_json("search", "--valid-on", "２０２５－０４－０１")) == ["文京-2024-001"]
    rc, out, err = a.run("search", "--valid-on", "2026-04-01" + " " * 10 + "x" * 30, check=False)
    assert rc == 3 and "日付" in err and out == "", (rc, out, err)

    # 法人番号: full-width digits and hyphens (NFKC) honoured; anything but 13 valid digits refused
    fw = CORP_A.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert keys(a.ctl_json("search", "--corporate-number", fw)) == ["文京-2024-001"]
    hy = fw[0] + "－" + fw[1:5] + "－" + fw[5:9] + "－" + fw[9:]
    assert keys(a.ctl_json("search", "--corporate-number", hy)) == ["文京-2024-001"]
    assert keys(a.ctl_json("search", "--corporate-number", CORP_B[0] + "-" + CORP_B[1:])) == ["文京-2026-002"]
    wrong = str(int(CORP_A[0]) % 9 + 1) + CORP_A[1:]
    for bad, why in ((CORP_A[:12], "13桁"), (CORP_A + "0", "13桁"), (CORP_A * 3, "13桁"),
                     (wrong, "チェックデジット"), ("法人番号" * 10, "13桁")):
        rc, out, err = a.run("search", "--corporate-number", bad, check=False)
        assert rc == 3 and why in err and out == "", (bad, rc, out, err)

    # every other filter: too long is refused, not dropped
    for opt, val in (("--area", "防災" * 100), ("--member", "1" * 300), ("--status", "認定中" * 40),
                     ("--adopted-by", "X" * 200), ("--expiring-within", "6" * 40 + "m")):
        rc, out, err = a.run("search", opt, val, check=False)
        assert rc == 3 and out == "", (opt, rc, out, err)
    rc, out, err = a.run("search", "防災" * 400, check=False)
    assert rc == 3 and "長すぎ" in err, (rc, err)
    assert keys(a.ctl_json("search", "防災アプリ甲" + " 防災" * 50)) == ["文京-2024-001"]   # many words are fine
    rc, out, err = a.run("search", "--limit", "ten", check=False)
    assert rc == 2 and "--limit" in err, (rc, err)
    # export shares the filters: no full export from a refused one
    path = os.path.join(env.tmp, "x.csv")
    rc, out, err = a.run("export", "--format", "csv", "--output", path, "--corporate-number", CORP_A[:12],
                         check=False)
    assert rc == 3 and not os.path.exists(path), (rc, err)


def test_lapsed_shown_lapsed_in_every_form(env):
    a = env.found()
    cert(a, "文京-2020-001", product="旧式防災無線", 認定日="2020-04-01", 有効期限="2022-03-31")
    cert(a, "文京-2026-001", product="避難所混雑表示")
    cert(a, "文京-2026-002", product="停止中の製品", 有効期限="2029-03-31")
    cert(a, "文京-2026-003", product="取消された製品")
    a.ctl("certification", "suspend", "文京-2026-002")
    a.ctl("certification", "revoke", "文京-2026-003")
    want = {"文京-2020-001": "期間満了", "文京-2026-001": "認定中", "文京-2026-002": "停止", "文京-2026-003": "取消"}

    # search --status 期間満了 --json: the stored status and the computed one
    res = a.ctl_json("search", "--status", "期間満了")
    assert keys(res) == ["文京-2020-001"], res
    c = res[0]["certifications"][0]
    assert c["body"]["status"] == "認定中" and c["effective_status"] == "期間満了", c
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", c["effective_status_on"]), c
    for p in a.ctl_json("search"):
        for c in p["certifications"]:
            assert c["effective_status"] == want[c["key"]], c

    # CSV
    path = os.path.join(env.tmp, "certs.csv")
    a.ctl("export", "--format", "csv", "--output", path)
    rows = rows_of(path)
    st, k = rows[0].index("状態"), rows[0].index("認定番号")
    assert {r[k]: r[st] for r in rows[1:]} == want, rows
    # and it reads back unchanged (期間満了 is taken as the 認定中 it was stored as)
    before = a.status()["digest"]
    res = a.ctl_json("import", path)
    assert res["unchanged"] == 4 and res["created"] == 0 and res["updated"] == 0, res
    assert a.status()["digest"] == before

    # XLSX, read back from the sheet's XML
    x = os.path.join(env.tmp, "certs.xlsx")
    a.ctl("export", "--format", "xlsx", "--output", x)
    sheet = xlsx_rows(x, "sheet1")
    st, k = sheet[0].index("状態"), sheet[0].index("認定番号")
    assert {r[k]: r[st] for r in sheet[1:]} == want, sheet

    # JSON export
    j = json.loads(a.ctl("export", "--format", "json"))
    assert {c["key"]: c["effective_status"] for c in j["certifications"]} == want, j
    assert {c["key"]: c["body"]["status"] for c in j["certifications"]} == \
        {"文京-2020-001": "認定中", "文京-2026-001": "認定中", "文京-2026-002": "停止", "文京-2026-003": "取消"}

    # tables: list and show
    lines = a.ctl("certification", "list").splitlines()
    assert any("文京-2020-001" in l and "期間満了" in l for l in lines), lines
    assert "現在の状態:       期間満了" in a.ctl("certification", "show", "文京-2020-001")
    assert any("旧式防災無線" in l for l in a.ctl("search", "旧式").splitlines())
    assert "期間満了" in a.ctl("search", "旧式")

    # --valid-on: in force on that day — suspended and revoked ones are not
    assert keys(a.ctl_json("search", "--valid-on", "2027-01-01")) == ["文京-2026-001"]
    assert keys(a.ctl_json("search", "--valid-on", "2021-01-01")) == ["文京-2020-001"]
    assert keys(a.ctl_json("search", "--valid-on", "2026-03-31")) == []


def test_names_not_ids_in_exports_and_show(env):
    a = env.found()
    b = env.join(a)
    cert(a, "文京-2026-201", product="ＡＩ議事録作成", 分野="行政DX", 法人番号=CORP_C)
    wait_until(lambda: digests_equal([a, b]), 15, what="certification reaches b")
    cert(b, "千代田-2026-1", product="AI議事録作成", 分野="防災", 法人番号=CORP_C,
         依拠した認定=f"{a.code}/文京-2026-201")
    adopt(b, "R8-001", f"{a.code}/文京-2026-201", 金額="1,200,000円")
    wait_until(lambda: digests_equal([a, b]), 15, what="b's records reach a")
    ids = {a.member_id(), b.member_id()}

    certs = os.path.join(env.tmp, "c.csv")
    adopts = os.path.join(env.tmp, "a.csv")
    x = os.path.join(env.tmp, "all.xlsx")
    b.ctl("export", "--format", "csv", "--output", certs)
    b.ctl("export", "--format", "csv", "--kind", "adoption", "--output", adopts)
    b.ctl("export", "--format", "xlsx", "--output", x)
    for path in (certs, adopts):
        with open(path, encoding="utf-8-sig") as f:
            text = f.read()
        assert not ID_RE.search(text), (path, text)
    rows = rows_of(certs)
    h = rows[0]
    by_key = {r[h.index("認定番号")]: r for r in rows[1:]}
    assert by_key["文京-2026-201"][h.index("認定団体")] == f"{a.code} {a.muni}"
    assert by_key["千代田-2026-1"][h.index("認定団体")] == f"{b.code} {b.muni}"
    assert by_key["千代田-2026-1"][h.index("依拠した認定")] == f"{a.code}/文京-2026-201"
    rows = rows_of(adopts)
    h = rows[0]
    assert rows[1][h.index("導入団体")] == f"{b.code} {b.muni}", rows
    assert rows[1][h.index("認定")] == f"{a.code}/文京-2026-201", rows
    for sheet in ("sheet1", "sheet2"):
        for r in xlsx_rows(x, sheet):
            assert not any(ID_RE.search(c) for c in r), (sheet, r)
    assert [f"{b.code} {b.muni}", f"{a.code}/文京-2026-201"] == \
        [xlsx_rows(x, "sheet2")[1][i] for i in (xlsx_rows(x, "sheet2")[0].index("導入団体"),
                                                xlsx_rows(x, "sheet2")[0].index("認定"))]
    # b's export of its own derived certification reads back unchanged
    before = b.status()["digest"]
    res = b.ctl_json("import", certs)
    assert res["unchanged"] == 1 and res["skipped_other_members"] == 1, res
    assert b.status()["digest"] == before

    # show and list: names; ids only in --json, next to code and name
    for text in (a.ctl("adoption", "show", "R8-001"), a.ctl("certification", "show", "千代田-2026-1"),
                 a.ctl("adoption", "list"), a.ctl("search", "議事録")):
        assert not ID_RE.search(text) and not any(i in text for i in ids), text
    assert f"{a.code} {a.muni} 文京-2026-201" in a.ctl("adoption", "show", "R8-001")
    assert f"{a.code} {a.muni} 文京-2026-201" in a.ctl("certification", "show", "千代田-2026-1")
    assert f"{a.code} {a.muni} 文京-2026-201" in a.ctl("adoption", "list")
    ad = a.ctl_json("adoption", "show", "R8-001")[0]
    assert ad["author"] == b.member_id() and ad["author_code"] == b.code and ad["author_name"] == b.muni, ad
    assert ad["body"]["certification"] == {"member_id": a.member_id(), "code": a.code, "name": a.muni, "status": "member",
                                           "key": "文京-2026-201"}, ad


def test_json_types_for_scripts(env):
    a = env.found()
    cert(a, "文京-2026-301", product="見守りセンサー", 分野="医療・福祉、防災", タグ="IoT、見守り",
         法人番号=CORP_A)
    adopt(a, "R8-301", f"{a.code}/文京-2026-301", 金額="¥350,000", 評価="5", 年度="令和8年度", KPI="通報件数")
    c = a.ctl_json("certification", "show", "文京-2026-301")[0]
    assert c["body"]["areas"] == ["医療・福祉", "防災"] and c["body"]["tags"] == ["IoT", "見守り"], c
    assert c["author_code"] == a.code and c["author_name"] == a.muni and c["author"] == a.member_id(), c
    assert c["effective_status"] == "認定中" and c["body"]["status"] == "認定中", c
    assert isinstance(c["seq"], int) and c["tombstone"] is False
    ad = a.ctl_json("adoption", "show", "R8-301")[0]["body"]
    assert ad["amount"] == 350000 and ad["rating"] == 5 and ad["fiscal_year"] == 2026, ad
    assert ad["certification"]["code"] == a.code and ad["certification"]["key"] == "文京-2026-301", ad
    assert ad["kpis"] == "通報件数"
    assert "effective_status" not in a.ctl_json("adoption", "show", "R8-301")[0]
    p = a.ctl_json("search", "見守り")[0]
    assert p["areas"] == ["医療・福祉", "防災"] and p["corporate_number"] == CORP_A, p
    assert p["adoptions"][0]["body"]["amount"] == 350000
    j = json.loads(a.ctl("export", "--format", "json"))
    assert j["certifications"][0]["body"]["areas"] == ["医療・福祉", "防災"]
    assert j["adoptions"][0]["body"]["rating"] == 5
    lst = a.ctl_json("certification", "list")
    assert lst[0]["body"]["tags"] == ["IoT", "見守り"] and lst[0]["effective_status"] == "認定中", lst
    assert a.ctl_json("adoption", "list")[0]["body"]["fiscal_year"] == 2026

    # a missing record: exit 1 in both forms, a Japanese message, nothing on stdout
    for args in (("certification", "show", "MISSING"), ("certification", "show", "MISSING", "--json"),
                 ("--json", "certification", "show", "MISSING"), ("adoption", "show", "NONE", "--json"),
                 ("adoption", "show", "NONE")):
        rc, out, err = a.run(*args, check=False)
        assert rc == 1 and out == "" and "見つかりません" in err, (args, rc, out, err)


def test_kana_folding_and_contact_searched(env):
    a = env.found()
    b = env.join(a)
    cert(a, "文京-2026-401", product="ギジロク名人", 事業者名="株式会社ことだま", 問合せ先="情報政策課 03-0000-0042")
    cert(a, "文京-2026-402", product="みまもりカメラ", 事業者名="合同会社あおぞら")
    wait_until(lambda: digests_equal([a, b]), 15, what="replication")
    for node in (a, b):
        assert keys(node.ctl_json("search", "ぎじろく")) == ["文京-2026-401"]
        assert keys(node.ctl_json("search", "ｷﾞｼﾞﾛｸ")) == ["文京-2026-401"]
        assert keys(node.ctl_json("search", "ミマモリ")) == ["文京-2026-402"]
        assert keys(node.ctl_json("search", "アオゾラ みまもり")) == ["文京-2026-402"]
        assert keys(node.ctl_json("search", "コトダマ")) == ["文京-2026-401"]
        # 問合せ先
        assert keys(node.ctl_json("search", "03-0000-0042")) == ["文京-2026-401"]
        assert keys(node.ctl_json("search", "情報政策課")) == ["文京-2026-401"]


def test_stable_order_union_of_areas_and_derived_marks(env):
    a = env.found()
    b = env.join(a)
    # written in an order unlike the catalog's, half on each node
    names = ["わくわく給食", "ドローン点検", "ＡＩ議事録", "あんしん見守り", "ごみ収集最適化", "避難所マップ"]
    for i, n in enumerate(names):
        node = a if i % 2 else b
        cert(node, f"K-{i}-{node.code}", product=n, 事業者名=f"株式会社テスト{i}",
             認定日=f"2026-0{4 + i % 3}-01")
    wait_until(lambda: digests_equal([a, b]), 15, what="replication")
    # the same product certified on both nodes: a's with 行政DX, b's derived with 防災
    cert(a, "文京-2026-501", product="共通製品", 法人番号=CORP_B, 分野="行政DX", 認定日="2026-05-01")
    wait_until(lambda: digests_equal([a, b]), 15, what="replication")
    cert(b, "千代田-2026-501", product="共通製品", 法人番号=CORP_B, 分野="防災", 認定日="2026-04-01",
         依拠した認定=f"{a.code}/文京-2026-501")
    wait_until(lambda: digests_equal([a, b]), 15, what="replication")

    def view(node):
        return [(p["product"], [c["key"] for c in p["certifications"]]) for p in node.ctl_json("search")]
    va, vb = view(a), view(b)
    assert va == vb, (va, vb)
    assert va == view(a), "same node, same order"
    # by normalised product name (byte order of catalog_norm: ai < katakana/hiragana folded < kanji)
    norm = {"ＡＩ議事録": "ai議事録", "あんしん見守り": "アンシン見守り", "わくわく給食": "ワクワク給食",
            "ごみ収集最適化": "ゴミ収集最適化", "ドローン点検": "ドローン点検", "避難所マップ": "避難所マップ",
            "共通製品": "共通製品", "AI議事録": "ai議事録"}
    got = [norm[p] for p, _ in va]
    assert got == sorted(got, key=lambda s: s.encode()), got
    # within the product: by 認定日 (b's 04-01 before a's 05-01)
    shared = [ks for p, ks in va if p == "共通製品"]
    assert shared == [["千代田-2026-501", "文京-2026-501"]], va
    p = [p for p in a.ctl_json("search", "共通製品")][0]
    assert p["areas"] == ["防災", "行政DX"], p
    d = [c for c in p["certifications"] if c["key"] == "千代田-2026-501"][0]
    assert d["body"]["derived_from"]["code"] == a.code and d["body"]["derived_from"]["key"] == "文京-2026-501", d
    text = a.ctl("search", "共通製品")
    assert "分野: 防災、行政DX" in text, text
    line = [l for l in text.splitlines() if "千代田-2026-501" in l][0]
    assert f"依拠: {a.code} {a.muni} 文京-2026-501" in line, text
    # certification list follows the same order
    lst = [c["key"] for c in a.ctl_json("certification", "list")]
    assert lst == [k for _, ks in va for k in ks], (lst, va)


def test_expiring_within(env):
    a = env.found()
    today = datetime.date.today()

    def iso(days):
        return (today + datetime.timedelta(days=days)).isoformat()
    cert(a, "E-30", product="期限間近一", 認定日="2020-04-01", 有効期限=iso(30))
    cert(a, "E-200", product="期限間近二", 認定日="2020-04-01", 有効期限=iso(200))
    cert(a, "E-400", product="まだ先", 認定日="2020-04-01", 有効期限=iso(400))
    cert(a, "E-susp", product="停止中", 認定日="2020-04-01", 有効期限=iso(30))
    cert(a, "E-gone", product="満了済み", 認定日="2020-04-01", 有効期限=iso(-1))
    a.ctl("certification", "suspend", "E-susp")
    assert keys(a.ctl_json("search", "--expiring-within", "90d")) == ["E-30"]
    assert keys(a.ctl_json("search", "--expiring-within", "6m")) == ["E-30"]
    assert keys(a.ctl_json("search", "--expiring-within", "1y")) == ["E-200", "E-30"]
    assert keys(a.ctl_json("search", "--expiring-within", "２年")) == ["E-200", "E-30", "E-400"]
    assert keys(a.ctl_json("search", "期限間近", "--expiring-within=1y")) == ["E-200", "E-30"]
    text = a.ctl("search", "--expiring-within", "1y")
    assert "期限間近一" in text and "まだ先" not in text, text
    for bad in ("6", "m", "6x", "0d", "99y"):
        rc, out, err = a.run("search", "--expiring-within", bad, check=False)
        assert rc == 3 and "期間" in err and out == "", (bad, rc, err)
    rc, _, err = a.run("search", "--expiring-within", check=False)
    assert rc == 2, err


def test_adoption_list_filters(env):
    a = env.found()
    b = env.join(a)
    c = env.join(a)
    cert(a, "文京-2026-601", product="ごみ収集最適化")
    wait_until(lambda: digests_equal([a, b, c]), 15, what="certification everywhere")
    ref = f"{a.code}/文京-2026-601"
    adopt(b, "B-1", ref, 年度="令和8年度", 原課="総務部総務課", 契約方法="4号随契")
    adopt(b, "B-2", ref, 年度="2025", 原課="清掃事務所", 契約方法="トライアル発注")
    adopt(c, "C-1", ref, 年度="R8", 原課="環境政策課", 契約方法="トライアル発注")
    wait_until(lambda: digests_equal([a, b, c]), 15, what="adoptions everywhere")

    def ks(*args):
        return sorted(x["key"] for x in a.ctl_json("adoption", "list", *args))
    assert ks() == ["B-1", "B-2", "C-1"]
    assert ks("--fy", "令和8年度") == ["B-1", "C-1"]
    assert ks("--fy", "2025") == ["B-2"]
    assert ks("--department", "総務") == ["B-1"]
    assert ks("--department", "ｿｳﾑ") == []
    assert ks("--route", "トライアル発注") == ["B-2", "C-1"]
    assert ks("--route", "ﾄﾗｲｱﾙ発注", "--fy", "2026") == ["C-1"]
    assert ks("--member", b.code) == ["B-1", "B-2"]
    assert ks("--member", c.code, "--fy=R8") == ["C-1"]
    assert sorted(x["key"] for x in b.ctl_json("adoption", "list", "--mine", "--fy", "2026")) == ["B-1"]
    rc, _, err = a.run("adoption", "list", "--fy", "来年度", check=False)
    assert rc == 3 and "年度" in err, err
    rc, _, err = a.run("adoption", "list", "--route", "随意契約", check=False)
    assert rc == 3 and "契約方法" in err, err
    rc, _, err = a.run("adoption", "list", "--member", "999999", check=False)
    assert rc == 3 and "団体" in err, err
    rc, _, err = a.run("adoption", "list", "--fy", check=False)
    assert rc == 2, err
    text = a.ctl("adoption", "list", "--fy", "2025")
    assert "B-2" in text and "B-1" not in text and f"{b.code} {b.muni}" in text, text
    assert f"{a.code} {a.muni} 文京-2026-601" in text, text


def test_filtered_export_holds_only_matching_certifications(env):
    """Search shows a product with all its certifications; an export filtered
    by --valid-on, --status or --member writes only the ones that match."""
    a = env.found()
    b = env.join(a)
    # one product, certified by both members; a's certification is revoked
    cert(a, "文京-2026-050", product="議事録作成支援", 法人番号=CORP_A)
    cert(b, "千代田-2026-050", product="議事録作成支援", 法人番号=CORP_A)
    a.ctl("certification", "revoke", "文京-2026-050")
    wait_until(lambda: digests_equal([a, b]), 15, what="convergence")
    today = datetime.date.today().isoformat()
    # search keeps the product view: both certifications of the product
    assert keys(b.ctl_json("search", "--valid-on", today)) == ["千代田-2026-050", "文京-2026-050"]
    for args, want in ((("--valid-on", today), ["千代田-2026-050"]),
                       (("--status", "取消"), ["文京-2026-050"]),
                       (("--member", "131059"), ["文京-2026-050"])):
        path = os.path.join(env.tmp, "x.csv")
        b.ctl("export", "--format", "csv", "--output", path, *args)
        rows = rows_of(path)
        k = rows[0].index("認定番号")
        assert sorted(r[k] for r in rows[1:]) == want, (args, rows)
        out = json.loads(b.run("export", "--format", "json", *args)[1])
        assert sorted(c["key"] for c in out["certifications"]) == want, (args, out)


def test_overlong_keys_are_answered_in_japanese(env):
    a = env.found()
    long_key = "文京-" + "1" * 300
    for verb in ("show", "history"):
        rc, out, err = a.run("certification", verb, long_key, check=False)
        assert rc == 1 and "見つかりません" in err and "needs" not in err, (verb, rc, err)
        rc, out, err = a.run("--json", "certification", verb, long_key, check=False)
        assert rc == 1 and "needs" not in err, (verb, rc, err)
    rc, out, err = a.run("certification", "add", long_key, "事業者名=株式会社テスト防災", "製品・サービス名=避難所混雑表示",
                         "分野=防災", "認定日=2026-04-01", "有効期限=2029-03-31", check=False)
    assert rc == 3 and "バイトあります" in err and "malformed" not in err, (rc, err)


def test_status_applies_from_its_date(env):
    """A suspension dated in the future is not yet in effect; a revocation
    recorded late still leaves the certification in force before its date."""
    a = env.found()
    cert(a, "文京-2026-060", product="遠隔見守り")
    cert(a, "文京-2026-061", product="道路点検支援")
    future = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()
    a.ctl("certification", "suspend", "文京-2026-060", "--reason", "調査のため", "--date", future)
    a.ctl("certification", "revoke", "文京-2026-061", "--reason", "虚偽申請", "--date", "2026-05-01")
    st = {c["key"]: c["effective_status"] for p in a.ctl_json("search") for c in p["certifications"]}
    assert st == {"文京-2026-060": "認定中", "文京-2026-061": "取消"}, st
    assert keys(a.ctl_json("search", "--valid-on", "2026-04-30")) == ["文京-2026-060", "文京-2026-061"]
    assert keys(a.ctl_json("search", "--valid-on", "2026-05-01")) == ["文京-2026-060"]
    assert keys(a.ctl_json("search", "--valid-on", future)) == []
    assert keys(a.ctl_json("search", "--status", "停止")) == []
