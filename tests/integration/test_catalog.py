"""The certification catalog: records, search, CSV/XLSX (issue 4)."""
import csv
import io
import json
import os
import subprocess
import sys
import unicodedata
import zipfile

from harness import digests_equal, wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def fixtures(env):
    d = os.path.join(env.tmp, "fixtures")
    os.makedirs(d, exist_ok=True)
    subprocess.run([sys.executable, os.path.join(ROOT, "tests", "data", "gen_fixtures.py"), d], check=True)
    return d


def rows_of(path, enc="utf-8-sig"):
    with open(path, encoding=enc, newline="") as f:
        return list(csv.reader(f))


def cert(node, key, **kw):
    fields = {"事業者名": "株式会社テスト防災", "製品・サービス名": "避難所混雑表示", "分野": "防災",
              "認定日": "2026-04-01", "有効期限": "fy-end+2", "法人番号": "7000012050002"}
    fields.update(kw)
    return node.run("certification", "add", key, *[f"{k}={v}" for k, v in fields.items()], check=False)


def test_import_three_encodings_and_search_elsewhere(env):
    fx = fixtures(env)
    a = env.found()
    b = env.join(a)
    n_rows = len(rows_of(os.path.join(fx, "certs_utf8.csv"))) - 1
    out = a.ctl_json("import", os.path.join(fx, "certs_utf8.csv"))
    assert out["created"] == n_rows and out["encoding"] == "UTF-8", out
    before = a.status()
    for name, enc in (("certs_utf8_bom.csv", "UTF-8 (BOM)"), ("certs_cp932.csv", "CP932"),
                      ("certs_utf8.csv", "UTF-8")):
        out = a.ctl_json("import", os.path.join(fx, name))
        assert out["created"] == 0 and out["updated"] == 0 and out["unchanged"] == n_rows, (name, out)
        assert out["encoding"] == enc, out
    assert a.status()["digest"] == before["digest"]
    assert a.status()["records"] == before["records"]
    wait_until(lambda: digests_equal([a, b]), 15, what="catalog replicated")
    # search on the second node: NFKC makes ＡＩ match ai and ｶﾒﾗ match カメラ
    res = b.ctl_json("search", "ai")
    assert len(res) >= 1 and any("ＡＩ" in p["product"] or "AI" in p["product"] for p in res), res
    res2 = b.ctl_json("search", "ＡＩ")
    assert [p["product"] for p in res2] == [p["product"] for p in res]
    res = b.ctl_json("search", "カメラ")
    assert len(res) >= 1 and any("ｶﾒﾗ" in p["product"] for p in res), res
    # every certification carries its signer: a's member id
    assert all(c["author"] == a.member_id() for p in res for c in p["certifications"])
    # area filter against the fixture's own data
    rows = rows_of(os.path.join(fx, "certs_utf8.csv"))
    hdr = rows[0]
    bousai = {r[hdr.index("認定番号")] for r in rows[1:] if "防災" in r[hdr.index("分野")]}
    res = b.ctl_json("search", "--area", "防災")
    got = {c["key"] for p in res for c in p["certifications"]}
    assert got == bousai and got, (got, bousai)
    res = b.ctl_json("search", "--area", "防災", "--member", a.code)
    assert {c["key"] for p in res for c in p["certifications"]} == bousai
    assert b.ctl_json("search", "--member", b.code) == []
    rc, _, err = b.run("search", "--area", "宇宙", check=False)
    assert rc == 3 and "分野「宇宙」はありません" in err, err
    # 法人番号 search (with hyphens as people write it)
    cn = rows[1][hdr.index("法人番号")]
    hy = cn[0] + "-" + cn[1:5] + "-" + cn[5:9] + "-" + cn[9:]
    res = b.ctl_json("search", "--corporate-number", hy)
    assert {c["body"]["corporate_number"] for p in res for c in p["certifications"]} == {cn}


def test_bad_rows_refused_with_line_numbers(env):
    fx = fixtures(env)
    a = env.found()
    before = a.status()
    path = os.path.join(fx, "bad_rows.csv")
    rc, out, err = a.run("import", path, check=False)
    assert rc == 1 and "何も書き込んでいません" in err, (rc, err)
    lines = [l for l in err.splitlines() if l.startswith(path + ":")]
    assert len(lines) == 3, err
    assert any("法人番号" in l for l in lines) and any("有効期限" in l for l in lines) \
        and any("分野" in l for l in lines), err
    # the line numbers point at the bad rows of the file
    bad_lines = sorted(int(l.split(":")[1]) for l in lines)
    rows = rows_of(path, "utf-8")
    assert len(set(bad_lines)) == 3 and all(2 <= n <= len(rows) for n in bad_lines), bad_lines
    assert a.status()["digest"] == before["digest"]
    rc, out, err = a.run("import", path, "--dry-run", check=False)
    assert rc == 1 and a.status()["records"] == before["records"]
    out = a.ctl_json("import", path, "--skip-bad")
    assert out["created"] == 3 and out["bad"] == 3, out
    # a broken CSV (unterminated quote) is refused as a whole
    broken = os.path.join(env.tmp, "broken.csv")
    with open(broken, "w", encoding="utf-8") as f:
        f.write('認定番号,事業者名,製品・サービス名,分野,認定日,有効期限\r\nX-1,"株式会社壊れ,製品,防災,2026-04-01,2027-03-31\r\n')
    rc, _, err = a.run("import", broken, check=False)
    assert rc == 1 and "line" in err, err
    # unknown and missing columns
    hdrbad = os.path.join(env.tmp, "hdr.csv")
    with open(hdrbad, "w", encoding="utf-8") as f:
        f.write("認定番号,事業者名,好きな色\r\nX-2,株式会社色,青\r\n")
    rc, _, err = a.run("import", hdrbad, check=False)
    assert rc == 1 and "好きな色" in err and "製品・サービス名" in err, err


def test_certification_lifecycle_and_ownership(env):
    a = env.found()
    b = env.join(a)
    rc, out, err = cert(a, "文京-2026-101", certified_on="2026-05-10")
    assert rc == 0, err
    shown = a.ctl_json("certification", "show", "文京-2026-101")[0]["body"]
    assert shown["valid_until"] == "2029-03-31", shown          # fy-end+2 from 2026-05-10
    assert shown["legal_ground"] == "地方自治法施行令第167条の2第1項第4号"
    assert shown["status"] == "認定中"
    rc, _, err = cert(a, "文京-2026-101")
    assert rc == 3 and "既に登録されています" in err, err
    for bad, word in (({"法人番号": "7000012050003"}, "法人番号"), ({"有効期限": "2026-03-01"}, "有効期限"),
                      ({"分野": "宇宙"}, "分野"), ({"認定日": "2026-02-30"}, "認定日"),
                      ({"事業者名": "あ" * 300}, "事業者名"), ({"URL": "ftp://x"}, "URL")):
        rc, _, err = cert(a, "文京-2026-bad", **bad)
        assert rc == 3 and word in err, (bad, err)
    assert a.run("certification", "update", "文京-2026-101", "概要=避難所の混雑を地図に表示")[0] == 0
    a.ctl("certification", "suspend", "文京-2026-101")
    wait_until(lambda: b.run("certification", "show", "文京-2026-101", check=False)[0] == 0
               and b.ctl_json("certification", "show", "文京-2026-101")[0]["body"]["status"] == "停止",
               10, what="suspension replicated")
    # b may not change a's certification, and is told who owns it
    rc, _, err = b.run("certification", "update", "文京-2026-101", "概要=改ざん", check=False)
    assert rc == 3 and "の登録です" in err and a.code in err and a.muni in err, err
    rc, _, err = b.run("certification", "revoke", "文京-2026-101", check=False)
    assert rc == 3 and "の登録です" in err, err
    a.ctl("certification", "revoke", "文京-2026-101")
    hist = a.ctl_json("certification", "history", "文京-2026-101")
    assert [h["body"].get("status") for h in hist] == ["認定中", "認定中", "停止", "取消"], hist
    assert hist[1]["body"]["summary"] == "避難所の混雑を地図に表示"
    text = a.ctl("certification", "show", "文京-2026-101", "--era")
    assert "令和" in text and "取消" in text, text
    assert a.ctl_json("search", "--status", "取消")[0]["certifications"][0]["key"] == "文京-2026-101"
    assert a.ctl_json("search", "--status", "認定中") == []


def test_adoptions_and_search_filters(env):
    a = env.found()
    b = env.join(a)
    c = env.join(a)
    assert cert(a, "文京-2026-201", product="ＡＩ議事録作成", areas="行政DX")[0] == 0
    assert cert(a, "文京-2026-202", product="見守りセンサー", areas="医療・福祉",
                corporate_number="")[0] == 0
    # b certifies the same product independently (simplified certification citing a's)
    assert cert(b, "千代田-2026-1", product="AI議事録作成", areas="行政DX",
                derived_from=f"{a.code}/文京-2026-201")[0] == 0
    wait_until(lambda: digests_equal([a, b, c]), 15, what="certifications everywhere")
    rc, _, err = c.run("adoption", "add", "R8-001", f"認定={a.code}/文京-2026-201", "年度=令和8年度",
                       "原課=総務課", "契約方法=4号随契", "金額=1,200,000円", "評価=4", "段階=本格導入",
                       "成果=議事録作成時間を月40時間削減", check=False)
    assert rc == 0, err
    rc, _, err = c.run("adoption", "add", "R8-002", "認定=NOPE/x", "年度=2026", "原課=総務課",
                       "契約方法=4号随契", check=False)
    assert rc == 3 and "認定" in err, err
    wait_until(lambda: digests_equal([a, b, c]), 15, what="adoption everywhere")
    res = a.ctl_json("search", "議事録")
    assert len(res) == 1, res      # one product: ＡＩ議事録作成 == AI議事録作成, same 法人番号
    p = res[0]
    assert sorted(x["key"] for x in p["certifications"]) == ["千代田-2026-1", "文京-2026-201"]
    assert [x["key"] for x in p["adoptions"]] == ["R8-001"]
    ad = p["adoptions"][0]["body"]
    assert ad["amount"] == 1200000 and ad["fiscal_year"] == 2026 and ad["rating"] == 4, ad
    assert [r[0]["key"] for r in [x["certifications"] for x in a.ctl_json("search", "--adopted-by", c.code)]] \
        in (["千代田-2026-1"], ["文京-2026-201"])
    mine = c.ctl_json("search", "--not-adopted-by-me")
    assert {x["certifications"][0]["body"]["product"] for x in mine} == {"見守りセンサー"}, mine
    assert len(a.ctl_json("search", "--not-adopted-by-me")) == 2
    assert a.ctl_json("search", "--valid-on", "2026-03-31") == []
    assert len(a.ctl_json("search", "--valid-on", "2026-04-01")) == 2
    text = a.ctl("search", "議事録")
    assert "導入" in text and c.muni in text and "4号随契" in text, text
    lst = c.ctl_json("adoption", "list", "--mine")
    assert [x["key"] for x in lst] == ["R8-001"]


def _display_width(s):
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def test_tables_align_by_display_width(env):
    a = env.found()
    assert cert(a, "文京-2026-301", product="ＡＩ議事録作成サービス（全角）", company="株式会社ながいなまえのかいしゃ")[0] == 0
    assert cert(a, "B-2", product="short", company="ACME")[0] == 0
    env_cols = dict(os.environ, COLUMNS="200")
    p = subprocess.run([env.ctl, "--data", a.dir, "certification", "list"], stdout=subprocess.PIPE, env=env_cols)
    lines = p.stdout.decode().splitlines()
    assert len(lines) == 3, lines
    # the third column (事業者名) starts at the same display column on every line

    def col_starts(line):
        starts, w, prev_space = [], 0, 0
        for ch in line:
            if ch == " ":
                prev_space += 1
            else:
                if prev_space >= 2 or not starts:
                    starts.append(w)
                prev_space = 0
            w += _display_width(ch)
        return starts
    s = [col_starts(l) for l in lines]
    assert s[0][:3] == s[1][:3] == s[2][:3], (s, lines)
    # a narrow terminal truncates with an ellipsis instead of wrapping
    env_cols["COLUMNS"] = "60"
    p = subprocess.run([env.ctl, "--data", a.dir, "certification", "list"], stdout=subprocess.PIPE, env=env_cols)
    narrow = p.stdout.decode().splitlines()
    assert all(_display_width(l) <= 60 for l in narrow), narrow
    assert any("…" in l for l in narrow), narrow


def test_export_round_trip_csv_json_xlsx(env):
    fx = fixtures(env)
    a = env.found()
    b = env.join(a)
    a.ctl("import", os.path.join(fx, "certs_utf8.csv"))
    assert cert(b, "千代田-1", product="他団体の製品")[0] == 0
    wait_until(lambda: digests_equal([a, b]), 15, what="replication")
    out = os.path.join(env.tmp, "export.csv")
    a.ctl("export", "--format", "csv", "--output", out)
    with open(out, "rb") as f:
        assert f.read(3) == b"\xef\xbb\xbf"
    rows = rows_of(out)
    assert rows[0][0] == "認定番号" and "事業者名" in rows[0]
    n_import = len(rows_of(os.path.join(fx, "certs_utf8.csv"))) - 1
    assert len(rows) - 1 == n_import + 1, len(rows)
    before = a.status()["digest"]
    res = a.ctl_json("import", out)
    assert res["created"] == 0 and res["updated"] == 0 and res["unchanged"] == n_import, res
    assert res["skipped_other_members"] == 1, res
    assert a.status()["digest"] == before
    # --public-only keeps only 公開 rows
    pub = os.path.join(env.tmp, "public.csv")
    a.ctl("export", "--format", "csv", "--public-only", "--output", pub)
    prow = rows_of(pub)
    vis = prow[0].index("公開区分")
    assert len(prow) > 1 and all(r[vis] == "public" for r in prow[1:]), prow
    assert len(prow) < len(rows)
    j = json.loads(a.ctl("export", "--format", "json"))
    assert len(j["certifications"]) == n_import + 1 and j["adoptions"] == []
    x = os.path.join(env.tmp, "export.xlsx")
    a.ctl("export", "--format", "xlsx", "--output", x)
    z = zipfile.ZipFile(x)
    names = z.namelist()
    assert "xl/worksheets/sheet1.xml" in names and "xl/worksheets/sheet2.xml" in names, names
    wb = z.read("xl/workbook.xml").decode()
    assert "認定" in wb and "導入実績" in wb, wb
    strings = z.read("xl/sharedStrings.xml").decode()
    assert rows[1][1] in strings, rows[1][1]
    rc, _, err = a.run("export", "--format", "xlsx", check=False)
    assert rc == 2, err


def test_search_index_follows_changes_from_peers(env):
    """A node that has searched (its index is built) finds what a peer
    certifies, suspends or adopts afterwards; other kinds do not matter."""
    a = env.found()
    b = env.join(a)
    assert b.ctl_json("search", "給食") == []          # b's index is built, empty
    assert cert(a, "文京-2026-301", product="給食管理クラウド", areas="教育")[0] == 0
    wait_until(lambda: digests_equal([a, b]), 15, what="certification reaches b")
    res = b.ctl_json("search", "給食")
    assert [x["certifications"][0]["key"] for x in res] == ["文京-2026-301"], res
    b.ctl("put", "note", "unrelated", "v=1")            # not a catalog kind
    assert len(b.ctl_json("search", "給食")) == 1
    rc, _, err = a.run("certification", "suspend", "文京-2026-301", check=False)
    assert rc == 0, err
    wait_until(lambda: digests_equal([a, b]), 15, what="suspension reaches b")
    assert b.ctl_json("search", "給食", "--status", "停止")[0]["certifications"][0]["key"] == "文京-2026-301"
    assert b.ctl_json("search", "給食", "--status", "認定中") == []
    assert a.ctl_json("search", "給食")[0]["adoptions"] == []   # a's index built too
    rc, _, err = b.run("adoption", "add", "R8-301", f"認定={a.code}/文京-2026-301", "年度=2026",
                       "原課=学務課", "契約方法=4号随契", check=False)
    assert rc == 0, err
    wait_until(lambda: digests_equal([a, b]), 15, what="adoption reaches a")
    assert [x["key"] for x in a.ctl_json("search", "給食")[0]["adoptions"]] == ["R8-301"]
