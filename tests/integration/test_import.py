"""Import of sheets as offices keep them, 和暦 dates and 認定番号 as typed
(issue 10: tolerant import)."""
import os
import subprocess
import sys

from harness import digests_equal, wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "data"))
import gen_fixtures  # noqa: E402

HEADER = "認定番号,事業者名,法人番号,製品・サービス名,分野,認定日,有効期限"


def fixtures(env):
    d = os.path.join(env.tmp, "fixtures")
    os.makedirs(d, exist_ok=True)
    subprocess.run([sys.executable, os.path.join(ROOT, "tests", "data", "gen_fixtures.py"), d], check=True)
    return d


def write(env, name, text, enc="utf-8"):
    path = os.path.join(env.tmp, name)
    with open(path, "wb") as f:
        f.write(text.encode(enc))
    return path


def corp(body):
    return gen_fixtures.corp_number(body)


def fault_lines(err, path, line=None):
    pre = f"{path}:" if line is None else f"{path}:{line}:"
    return [l for l in err.splitlines() if l.startswith(pre)]


def test_excel_sheet_cp932_title_row_unknown_column_wareki(env):
    """A CP932 sheet with a title row, a blank row, a 備考 column, Excel's
    trailing empty columns, a half-width ･ and a full-width ＵＲＬ in the
    header, 和暦 dates and a full-width 認定番号."""
    fx = fixtures(env)
    a = env.found()
    path = os.path.join(fx, "excel_sheet_cp932.csv")
    before = a.status()
    # the unknown column is refused, named, with the option that ignores it
    rc, out, err = a.run("import", path, check=False)
    assert rc == 1, (rc, out, err)
    hdr = fault_lines(err, path, 3)
    assert len(hdr) == 1 and "備考（8列目）" in hdr[0] and "--ignore-unknown-columns" in hdr[0], err
    assert "何も書き込んでいません" in err, err
    assert "見出しが空" not in err, err          # Excel's empty trailing columns are not unknown
    assert "neither" not in err and "unknown column" not in err, err
    assert a.status()["records"] == before["records"]
    # ignored with the option, and said once
    res = a.run("import", path, "--ignore-unknown-columns", "--json")
    out = __import__("json").loads(res[1])
    assert out["created"] == 5 and out["bad"] == 0 and out["encoding"] == "CP932", out
    assert out["header_line"] == 3 and out["ignored_columns"] == ["備考（8列目）"], out
    err = res[2]
    assert err.count("備考") == 1 and "無視します" in err, err
    title = fault_lines(err, path, 1)
    assert len(title) == 1 and "表題行" in title[0] and "令和8年度 トライアル発注認定一覧" in title[0], err
    # read back: keys normalised, dates stored as ISO, ･ and ＵＲＬ matched
    for key, on, until in gen_fixtures.EXCEL_SHEET_EXPECTED:
        recs = a.ctl_json("certification", "show", key)
        assert len(recs) == 1 and recs[0]["key"] == key, (key, recs)
        body = recs[0]["body"]
        assert body["certified_on"] == on and body["valid_until"] == until, (key, body)
        assert "備考" not in body and "note" not in body, body
    assert a.ctl_json("certification", "show", "文京-2026-201")[0]["body"]["product"] == "避難所ＡＩ案内"
    assert a.ctl_json("certification", "show", "文京-2026-201")[0]["body"]["url"] == "https://example.jp/hanamizuki"
    # the same sheet again changes nothing
    out = a.ctl_json("import", path, "--ignore-unknown-columns")
    assert out["created"] == 0 and out["updated"] == 0 and out["unchanged"] == 5, out
    # text output for people is Japanese
    rc, text, _ = a.run("import", path, "--ignore-unknown-columns")
    assert rc == 0 and "変更なし 5 件" in text, text


def test_header_row_expected(env):
    """No header (data from the first row): refused, saying which row was read as the header."""
    a = env.found()
    rows = [f"文京-2026-501,株式会社ゆり,{corp('999900000501')},製品,防災,2026-04-01,2027-03-31"]
    path = write(env, "noheader.csv", "\r\n".join(rows) + "\r\n")
    rc, _, err = a.run("import", path, check=False)
    assert rc == 1 and "見出し行がありません" in err and "1行目" in err and "文京-2026-501" in err, err
    # a title row with more than a few cells is not taken for a title
    path = write(env, "wide_title.csv", "一覧,作成日,令和8年4月1日,文京区,産業振興課\r\n" + HEADER + "\r\n")
    rc, _, err = a.run("import", path, check=False)
    assert rc == 1 and "見出し行がありません" in err and "1行目（「一覧,作成日,令和8年4月1日,…」）" in err, err
    # an empty header cell over a column that holds values is an unknown column
    path = write(env, "unnamed.csv", HEADER + ",\r\n"
                 f"文京-2026-502,株式会社ゆり,{corp('999900000502')},製品,防災,2026-04-01,2027-03-31,メモ\r\n")
    rc, _, err = a.run("import", path, check=False)
    assert rc == 1 and "見出しが空の列（8列目）" in err and "--ignore-unknown-columns" in err, err
    out = a.ctl_json("import", path, "--ignore-unknown-columns")
    assert out["created"] == 1, out
    # a value beyond the header's last column is a fault of its row
    path = write(env, "wide_row.csv", HEADER + "\r\n"
                 f"文京-2026-503,株式会社ゆり,{corp('999900000503')},製品二,防災,2026-04-01,2027-03-31,,余分\r\n")
    rc, _, err = a.run("import", path, check=False)
    lines = fault_lines(err, path, 2)
    assert rc == 1 and len(lines) == 1 and "見出しのない9列目" in lines[0], err


def test_every_fault_of_a_row_is_reported(env):
    a = env.found()
    before = a.status()
    rows = [
        HEADER,
        f"文京-2026-301,株式会社あさがお,{corp('999900000301')},朝顔予約,防災,令和8年4月1日,fy-end",
        # three faults: a wrong check digit, an unknown area, a 平成 date after 平成 ended
        # (有効期限 fy-end+2 cannot be resolved without 認定日: not a fault of its own)
        f"文京-2026-302,株式会社ひまわり,3{corp('999900000302')[1:]},向日葵点検,宇宙,平成31年5月1日,fy-end+2",
        f"文京－２０２６－３０３,株式会社なでしこ,{corp('999900000303')},撫子相談,教育,R8.4.1,R8.3.31",
        f"文京-2026-301,株式会社あさがお,{corp('999900000301')},朝顔予約,防災,R8.4.1,fy-end",
    ]
    assert not corp("999900000302").startswith("3")
    path = write(env, "faults.csv", "\r\n".join(rows) + "\r\n")
    rc, out, err = a.run("import", path, check=False)
    assert rc == 1, (rc, out, err)
    three = fault_lines(err, path, 3)
    assert len(three) == 3, err
    assert "認定番号 文京-2026-302 の「法人番号」" in three[0] and "チェックデジット" in three[0], three
    assert "「分野」" in three[1] and "宇宙" in three[1], three
    assert "「認定日」" in three[2] and "平成は2019年4月30日まで" in three[2], three
    assert not any("有効期限" in l for l in three), three
    four = fault_lines(err, path, 4)
    assert len(four) == 1 and "認定番号 文京-2026-303 の「有効期限」" in four[0], err   # the key as stored
    five = fault_lines(err, path, 5)
    assert len(five) == 1 and "文京-2026-301" in five[0] and "2行目にも" in five[0], err
    assert "3 行に 5 件の誤りがあります" in err and "何も書き込んでいません" in err, err
    assert a.status()["records"] == before["records"]
    # all or nothing unless --skip-bad
    out = a.ctl_json("import", path, "--skip-bad")
    assert out["created"] == 1 and out["bad"] == 3 and out["faults"] == 5, out


def test_workbook_gets_the_hint(env):
    """An .xlsx (a zip) is named as such, with how to save it as CSV."""
    a = env.found()
    assert a.run("certification", "add", "文京-2026-401", "事業者名=株式会社ふじ", "製品・サービス名=藤棚",
                 "分野=防災", "認定日=2026-04-01", "有効期限=2027-03-31")[0] == 0
    x = os.path.join(env.tmp, "catalog.xlsx")
    a.ctl("export", "--format", "xlsx", "--output", x)
    disguised = os.path.join(env.tmp, "catalog.csv")
    with open(x, "rb") as f, open(disguised, "wb") as g:
        g.write(f.read())
    for path in (x, disguised):
        rc, _, err = a.run("import", path, check=False)
        assert rc == 1, (path, rc, err)
        assert "Excel のブック（.xlsx）" in err and "CSV UTF-8" in err and "Shift_JIS" in err, err
        said = err.replace(path, "")          # the temporary path itself may hold "0x"
        assert "0x" not in said and "neither" not in said, err
    old = write(env, "old.xls", "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "latin-1")
    rc, _, err = a.run("import", old, check=False)
    assert rc == 1 and "古い形式の Excel" in err, err


def test_key_as_typed_is_the_key_stored(env):
    """文京－２０２６－１０６ is stored as 文京-2026-106 and found by either spelling,
    on this node and another; a citation in full width finds it too."""
    a = env.found()
    b = env.join(a)
    rc, out, err = a.run("certification", "add", "文京－２０２６－１０６", "事業者名=株式会社もくれん",
                         f"法人番号={corp('999900000106')}", "製品・サービス名=木蓮台帳", "分野=行政DX",
                         "認定日=2026-04-01", "有効期限=2028-03-31", check=False)
    assert rc == 0 and "文京-2026-106" in out, (out, err)
    for spelling in ("文京-2026-106", "文京－２０２６－１０６", " 文京-2026-106　"):
        recs = a.ctl_json("certification", "show", spelling)
        assert [r["key"] for r in recs] == ["文京-2026-106"], (spelling, recs)
    # the other spelling is the same record, not a second one
    rc, _, err = a.run("certification", "add", "文京-2026-106", "事業者名=株式会社もくれん",
                       "製品・サービス名=木蓮台帳", "分野=行政DX", "認定日=2026-04-01", "有効期限=2028-03-31",
                       check=False)
    assert rc == 3 and "既に登録されています" in err, err
    a.ctl("certification", "update", "文京－２０２６－１０６", "概要=台帳の電子化")
    hist = a.ctl_json("certification", "history", "文京－２０２６－１０６")
    assert [h["key"] for h in hist] == ["文京-2026-106"] * 2, hist
    assert len(a.ctl_json("get", "certification", "文京－２０２６－１０６")) == 1
    wait_until(lambda: digests_equal([a, b]), 15, what="certification replicated")
    assert [r["key"] for r in b.ctl_json("certification", "show", "文京－２０２６－１０６")] == ["文京-2026-106"]
    # an adoption citing it as typed
    rc, _, err = b.run("adoption", "add", "R8-106", f"認定={a.code}/文京－２０２６－１０６", "年度=2026",
                       "原課=情報政策課", "契約方法=4号随契", check=False)
    assert rc == 0, err
    ref = b.ctl_json("adoption", "show", "R8-106")[0]["body"]["certification"]
    assert (ref["member_id"], ref["code"], ref["key"]) == (a.member_id(), a.code, "文京-2026-106"), ref
    wait_until(lambda: digests_equal([a, b]), 15, what="adoption replicated")
    res = a.ctl_json("search", "木蓮")
    assert [x["key"] for x in res[0]["adoptions"]] == ["R8-106"], res


def test_search_valid_on_wareki(env):
    a = env.found()
    rc, _, err = a.run("certification", "add", "文京-2026-601", "事業者名=株式会社さざんか",
                       "製品・サービス名=山茶花アプリ", "分野=子育て", "認定日=2026-04-01", "有効期限=2027-03-31",
                       check=False)
    assert rc == 0, err
    for on in ("令和8年4月1日", "R8.4.1", "令和９年３月３１日"):
        res = a.ctl_json("search", "--valid-on", on)
        assert [c["key"] for p in res for c in p["certifications"]] == ["文京-2026-601"], (on, res)
    for off in ("令和8年3月31日", "R9.4.1"):
        assert a.ctl_json("search", "--valid-on", off) == [], off
    rc, _, err = a.run("search", "--valid-on", "平成31年5月1日", check=False)
    assert rc == 3 and "平成は2019年4月30日まで" in err, (rc, err)
    rc, _, err = a.run("search", "--valid-on", "そのうち", check=False)
    assert rc == 3 and "日付として読めません" in err, (rc, err)


def test_faults_of_a_large_sheet_in_row_order(env):
    """A sheet large enough to be checked on several threads (cli/import.c
    check_all): every fault of every range is reported, once, in the order
    of the rows, with the same totals, and nothing is written."""
    a = env.found()
    before = a.status()
    n = 1000
    bad_rows = [3, 17, 260, 499, 500, 501, 777, 998, 1000]   # data rows, 1-based
    rows = [HEADER]
    for i in range(1, n + 1):
        area = "宇宙" if i in bad_rows else "防災"
        rows.append(f"文京-2026-{i:04d},株式会社{i},{corp(f'9998{i:08d}')},製品{i},{area},R8.4.1,fy-end")
    path = write(env, "large_faults.csv", "\r\n".join(rows) + "\r\n")
    rc, out, err = a.run("import", path, check=False)
    assert rc == 1, (rc, out, err)
    faults = fault_lines(err, path)
    assert [int(l.split(":")[1]) for l in faults] == [r + 1 for r in bad_rows], err   # file line = row + 1
    assert all("「分野」" in l and "宇宙" in l for l in faults), faults
    assert f"{len(bad_rows)} 行に {len(bad_rows)} 件の誤りがあります" in err and "何も書き込んでいません" in err, err
    assert a.status()["records"] == before["records"]
    out = a.ctl_json("import", path, "--skip-bad")
    assert out["created"] == n - len(bad_rows) and out["bad"] == len(bad_rows), out


def test_first_chunk_is_small(env):
    """The first rows go to the daemon in a chunk of their own, smaller
    than the others (cli/import.c FIRST_CHUNK): the members get records to
    verify after 32 rows are signed and committed, not 250.  The daemon
    writes each chunk as one commit and logs its size."""
    import re
    a = env.found()
    n = 300
    rows = [HEADER]
    for i in range(1, n + 1):
        rows.append(f"文京-2026-{i:04d},株式会社{i},{corp(f'9997{i:08d}')},製品{i},防災,R8.4.1,fy-end")
    path = write(env, "chunks.csv", "\r\n".join(rows) + "\r\n")
    start = len(a.logtext())
    out = a.ctl_json("import", path)
    assert out["created"] == n, out
    sizes = [int(m) for m in re.findall(r"catalog: wrote (\d+) records?", a.logtext()[start:])]
    assert sizes == [32, 250, 18], sizes


def verify_counts(node):
    """(batches verified, thread pool jobs they were cut into), from `catalogctl metrics`."""
    import re
    text = node.ctl("metrics")
    get = lambda name: int(re.search(rf"^{name} (\d+)$", text, re.M).group(1))  # noqa: E731
    return get("catalogd_verify_batches_total"), get("catalogd_verify_pool_jobs_total")


def test_members_count_their_verify_batches_and_jobs(env):
    """A member counts the batches of records it verified and the thread
    pool jobs they were cut into (catalogd_verify_batches_total,
    catalogd_verify_pool_jobs_total): a batch under 256 records
    (proto/limits.h NODE_VERIFY_SPLIT_MIN) is one job, so an import's chunks
    of 32 and 8 rows are one job each; 256 records or more are cut into 4
    (an initial sync of 300 records from the founder)."""
    a = env.found()
    rows = [HEADER] + [f"文京-41-{i:04d},株式会社{i},{corp(f'9941{i:08d}')},製品{i},防災,R8.4.1,fy-end"
                       for i in range(1, 301)]
    assert a.ctl_json("import", write(env, "sync300.csv", "\r\n".join(rows) + "\r\n"))["created"] == 300
    b = env.join(a)
    wait_until(lambda: digests_equal([a, b]), 30, what="b to sync")
    batches, jobs = verify_counts(b)
    # the 300 certifications come in one want's batch (NODE_BATCH_RECORDS):
    # 4 jobs; the membership records before them in batches of their own
    assert batches >= 1 and batches < jobs <= 4 * batches, (batches, jobs)
    before = verify_counts(b)
    rows = [HEADER] + [f"文京-42-{i:04d},株式会社{i},{corp(f'9942{i:08d}')},製品{i},防災,R8.4.1,fy-end"
                       for i in range(1, 41)]
    assert a.ctl_json("import", write(env, "verify40.csv", "\r\n".join(rows) + "\r\n"))["created"] == 40
    wait_until(lambda: digests_equal([a, b]), 30, what="b to hold the 40 rows")
    after = verify_counts(b)
    batches, jobs = after[0] - before[0], after[1] - before[1]
    assert batches >= 1 and jobs == batches, (batches, jobs)
