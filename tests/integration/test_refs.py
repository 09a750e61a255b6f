"""Issue 10: what a catalog record cites is checked, a mistaken record can
be withdrawn, status changes carry a reason and a date, history numbers a
record's own versions and shows what changed, adoptions have a 問合せ先,
and the staff verbs speak Japanese.

Companies are fictional; every 法人番号 has a valid check digit (body
9999…, see tests/data/gen_fixtures.py); municipality codes are real.
"""
import csv
import io
import json
import os
import re
import sys

from harness import digests_equal, wait_until

# 法人番号 with valid check digits (gen_fixtures.corp_number)
CORP_1 = "5999900000111"   # 株式会社さくら防災ラボ
CORP_2 = "1999900000222"   # another company


def corp_ok(num):
    body = num[1:]
    total = sum(int(ch) * (1 if i % 2 == 0 else 2) for i, ch in enumerate(reversed(body)))
    return int(num[0]) == 9 - total % 9


assert corp_ok(CORP_1) and corp_ok(CORP_2)


def cert(node, key, *flags, **kw):
    fields = {"事業者名": "株式会社さくら防災ラボ", "法人番号": CORP_1, "製品・サービス名": "避難誘導サイネージ",
              "分野": "防災", "認定日": "2026-04-01", "有効期限": "2029-03-31"}
    fields.update(kw)
    return node.run("certification", "add", key, *[f"{k}={v}" for k, v in fields.items() if v is not None],
                    *flags, check=False)


def adopt(node, key, ref, *flags, **kw):
    fields = {"認定": ref, "年度": "2026", "原課": "危機管理課", "契約方法": "4号随契"}
    fields.update(kw)
    return node.run("adoption", "add", key, *[f"{k}={v}" for k, v in fields.items()], *flags, check=False)


def warnings(err):
    return [l for l in err.splitlines() if "警告" in l]


def test_adoption_must_cite_a_held_certification(env):
    a = env.found()
    b = env.join(a)
    assert cert(a, "文京-2026-001")[0] == 0
    wait_until(lambda: digests_equal([a, b]), 15, what="certification reaches b")
    # not held here: refused, and told about --allow-unknown
    rc, out, err = adopt(b, "R8-001", f"{a.code}/文京-2026-999")
    assert rc == 3, (rc, out, err)
    assert "文京-2026-999" in err and "まだありません" in err and "--allow-unknown" in err, err
    assert b.run("adoption", "show", "R8-001", check=False)[0] == 1
    # a member's record not yet arrived: accepted with --allow-unknown, with a warning
    rc, out, err = adopt(b, "R8-001", f"{a.code}/文京-2026-999", "--allow-unknown")
    assert rc == 0, err
    assert len(warnings(err)) == 1 and "まだありません" in err, err
    assert "を登録しました" in out, out
    # a held one: no warning at all
    rc, out, err = adopt(b, "R8-002", f"{a.code}/文京-2026-001")
    assert rc == 0 and err == "", (rc, err)
    # an update of other fields keeps a reference that is still missing: a warning, not a refusal
    rc, _, err = b.run("adoption", "update", "R8-001", "成果=試行中", check=False)
    assert rc == 0 and "まだありません" in err, (rc, err)
    # …but changing it to another missing one is refused again
    rc, _, err = b.run("adoption", "update", "R8-001", f"認定={a.code}/文京-2026-998", check=False)
    assert rc == 3 and "文京-2026-998" in err, (rc, err)


def test_adoption_warns_on_revoked_suspended_and_out_of_period(env):
    a = env.found()
    b = env.join(a)
    assert cert(a, "文京-R", product="取消される製品")[0] == 0
    assert cert(a, "文京-S", product="停止される製品")[0] == 0
    assert cert(a, "文京-L", product="期限の切れた製品", 認定日="2025-04-01", 有効期限="2026-03-31")[0] == 0
    assert cert(a, "文京-P", product="六月に認定された製品", 認定日="2026-06-01")[0] == 0
    assert a.run("certification", "revoke", "文京-R", "--reason", "虚偽の申請が判明", "--date", "2026-07-01")[0] == 0
    assert a.run("certification", "suspend", "文京-S", "--reason", "調査中")[0] == 0
    wait_until(lambda: digests_equal([a, b]), 15, what="certifications reach b")
    cases = [
        ("R8-R", f"{a.code}/文京-R", {}, ["取消", "虚偽の申請が判明", "2026-07-01"]),
        ("R8-S", f"{a.code}/文京-S", {}, ["停止", "調査中"]),
        ("R8-L", f"{a.code}/文京-L", {"年度": "令和8年度"}, ["有効期限 2026-03-31", "期間満了"]),
        ("R8-P", f"{a.code}/文京-P", {"期間開始": "2026-05-01", "期間終了": "2027-03-31"},
         ["期間開始 2026-05-01", "認定日 2026-06-01"]),
    ]
    for key, ref, extra, words in cases:
        # --strict: refused, saying why
        rc, out, err = adopt(b, key, ref, "--strict", **extra)
        assert rc == 3 and "--strict" in err and all(w in err for w in words), (key, rc, err)
        assert b.run("adoption", "show", key, check=False)[0] == 1
        # otherwise: written, exit 0, the warning on stderr in Japanese
        rc, out, err = adopt(b, key, ref, **extra)
        assert rc == 0, (key, err)
        w = warnings(err)
        assert len(w) == 1 and all(x in w[0] for x in words) and a.muni in w[0], (key, err)
    # in force in its 年度 and period: no warning
    rc, _, err = adopt(b, "R8-OK", f"{a.code}/文京-L", 年度="2025")
    assert rc == 0 and err == "", err
    rc, _, err = adopt(b, "R8-OK2", f"{a.code}/文京-P", 期間開始="2026-07-01")
    assert rc == 0 and err == "", err
    # a 年度 that ends before the certification began
    rc, _, err = adopt(b, "R8-EARLY", f"{a.code}/文京-P", "--strict", 年度="2025")
    assert rc == 3 and "認定日 2026-06-01" in err, err
    # scripts get the warnings in JSON
    r = json.loads(b.run("--json", "adoption", "add", "R8-J", f"認定={a.code}/文京-R", "年度=2026",
                         "原課=総務課", "契約方法=4号随契")[1])
    assert r["result"] == "created" and len(r["warnings"]) == 1 and "取消" in r["warnings"][0], r


def test_derived_certification_copies_the_subject(env):
    a = env.found()
    b = env.join(a)
    assert cert(a, "文京-2026-010", 所在地="東京都文京区本郷九丁目9番9号", 設立日="2019-04-01",
                概要="避難所までの経路を表示する", タグ="サイネージ、多言語", URL="https://example.jp/sakura",
                分野="防災、暮らし・手続き")[0] == 0
    assert cert(a, "文京-2026-011", product="取消済みの製品")[0] == 0
    assert a.run("certification", "revoke", "文京-2026-011", "--reason", "事業終了")[0] == 0
    assert cert(a, "文京-2026-012", product="期限切れの製品", 認定日="2024-04-01", 有効期限="2025-03-31")[0] == 0
    wait_until(lambda: digests_equal([a, b]), 15, what="certifications reach b")
    # b certifies by relying on a's: only its own decision is typed
    rc, out, err = b.run("certification", "add", "千代田-2026-1", f"依拠した認定={a.code}/文京-2026-010",
                         "認定日=2026-05-01", "有効期限=2027-03-31", "問合せ先=商工観光課 03-0000-0101",
                         check=False)
    assert rc == 0 and err == "", (rc, err)
    mine = b.ctl_json("certification", "show", "千代田-2026-1")[0]["body"]
    theirs = a.ctl_json("certification", "show", "文京-2026-010")[0]["body"]
    for f in ("company", "corporate_number", "address", "established", "product", "summary", "areas", "tags",
              "url"):
        assert mine[f] == theirs[f], (f, mine, theirs)
    assert mine["certified_on"] == "2026-05-01" and mine["contact"] == "商工観光課 03-0000-0101", mine
    assert mine["derived_from"] == {"member_id": a.member_id(), "code": a.code, "name": a.muni, "status": "member",
                                    "key": "文京-2026-010"}, mine
    # a given field overrides its copy
    rc, _, err = b.run("certification", "add", "千代田-2026-2", f"依拠した認定={a.code}/文京-2026-010",
                       "認定日=2026-05-01", "有効期限=2027-03-31", "概要=千代田区での利用に合わせた説明", check=False)
    assert rc == 0, err
    two = b.ctl_json("certification", "show", "千代田-2026-2")[0]["body"]
    assert two["summary"] == "千代田区での利用に合わせた説明" and two["product"] == theirs["product"], two
    # another company's 法人番号 is refused
    rc, _, err = b.run("certification", "add", "千代田-2026-3", f"依拠した認定={a.code}/文京-2026-010",
                       "認定日=2026-05-01", "有効期限=2027-03-31", f"法人番号={CORP_2}", check=False)
    assert rc == 3 and "法人番号" in err and CORP_2 in err and CORP_1 in err, err
    # citing one not held here
    rc, _, err = b.run("certification", "add", "千代田-2026-4", f"依拠した認定={a.code}/文京-2026-404",
                       "認定日=2026-05-01", "有効期限=2027-03-31", "事業者名=株式会社さくら防災ラボ",
                       "製品・サービス名=避難誘導サイネージ", "分野=防災", check=False)
    assert rc == 3 and "まだありません" in err, err
    # citing a revoked one or one lapsed on this 認定日: warned, refused with --strict
    for key, ref, word in (("千代田-2026-5", "文京-2026-011", "取消"), ("千代田-2026-6", "文京-2026-012", "期間満了")):
        args = ["certification", "add", key, f"依拠した認定={a.code}/{ref}", "認定日=2026-05-01",
                "有効期限=2027-03-31"]
        rc, _, err = b.run(*args, "--strict", check=False)
        assert rc == 3 and word in err and "--strict" in err, (key, err)
        rc, _, err = b.run(*args, check=False)
        assert rc == 0 and len(warnings(err)) == 1 and word in err, (key, err)
    # a certification cannot rely on itself
    rc, _, err = a.run("certification", "update", "文京-2026-010", f"依拠した認定={a.code}/文京-2026-010",
                       check=False)
    assert rc == 3 and "自分自身" in err, err


def test_withdraw_reaches_the_other_node(env):
    a = env.found()
    b = env.join(a)
    assert cert(a, "文京-2026-900", product="誤登録の製品")[0] == 0
    assert cert(a, "文京-2026-901", product="残る製品")[0] == 0
    wait_until(lambda: digests_equal([a, b]), 15, what="certifications reach b")
    assert adopt(b, "R8-900", f"{a.code}/文京-2026-901")[0] == 0
    assert adopt(b, "R8-901", f"{a.code}/文京-2026-901", 原課="教育委員会")[0] == 0
    wait_until(lambda: digests_equal([a, b]), 15, what="adoptions reach a")
    assert len(b.ctl_json("search", "誤登録")) == 1       # b's index is built before the withdrawal
    # a reason is required; only the author may withdraw
    rc, _, err = a.run("certification", "withdraw", "文京-2026-900", check=False)
    assert rc == 2 and "--reason" in err, err
    rc, _, err = b.run("certification", "withdraw", "文京-2026-900", "--reason", "x", check=False)
    assert rc == 3 and a.code in err and a.muni in err, err
    rc, out, err = a.run("certification", "withdraw", "文京-2026-900", "--reason", "試験用の登録を誤って公開した",
                         check=False)
    assert rc == 0 and "取り下げました" in out, (rc, out, err)
    rc, _, err = a.run("certification", "withdraw", "文京-2026-900", "--reason", "もう一度", check=False)
    assert rc == 3 and "取り下げられています" in err, err
    rc, out, err = b.run("adoption", "withdraw", "R8-901", "--reason", "重複して登録した", check=False)
    assert rc == 0, err
    wait_until(lambda: digests_equal([a, b]), 15, what="withdrawals replicated")
    # on the other node: gone from search, list and every export…
    assert b.ctl_json("search", "誤登録") == []
    assert [x["key"] for x in b.ctl_json("certification", "list")] == ["文京-2026-901"]
    res = b.ctl_json("search", "残る製品")
    assert [x["key"] for x in res[0]["adoptions"]] == ["R8-900"], res
    rows = list(csv.reader(io.StringIO(b.ctl("export", "--format", "csv").lstrip("\ufeff"))))
    assert [r[0] for r in rows[1:]] == ["文京-2026-901"], rows
    rows = list(csv.reader(io.StringIO(a.ctl("export", "--format", "csv", "--kind", "adoption").lstrip("\ufeff"))))
    assert [r[0] for r in rows[1:]] == ["R8-900"], rows
    j = json.loads(b.ctl("export", "--format", "json"))
    assert [c["key"] for c in j["certifications"]] == ["文京-2026-901"], j
    assert [x["key"] for x in j["adoptions"]] == ["R8-900"], j
    # …but show says it was withdrawn and why, and history keeps every version
    text = b.ctl("certification", "show", "文京-2026-900")
    assert "取り下げ" in text and "試験用の登録を誤って公開した" in text and "第2版" in text, text
    hist = b.ctl_json("certification", "history", "文京-2026-900")
    assert [h["tombstone"] for h in hist] == [False, True], hist
    assert hist[0]["body"]["product"] == "誤登録の製品"
    assert hist[1]["body"]["reason"] == "試験用の登録を誤って公開した", hist
    text = b.ctl("certification", "history", "文京-2026-900")
    assert re.search(r"第2版 .*取り下げ（理由: 試験用の登録を誤って公開した）", text), text
    text = a.ctl("adoption", "history", "R8-901")
    assert "重複して登録した" in text and "教育委員会" in text, text
    # an adoption citing the withdrawn one is refused; the key can be added again
    rc, _, err = adopt(b, "R8-902", f"{a.code}/文京-2026-900")
    assert rc == 3 and "取り下げられています" in err, err
    rc, _, err = a.run("certification", "update", "文京-2026-900", "概要=x", check=False)
    assert rc == 3 and "取り下げられています" in err, err
    rc, out, err = cert(a, "文京-2026-900", product="正しい製品")
    assert rc == 0 and "を登録しました" in out, (rc, err)
    wait_until(lambda: digests_equal([a, b]), 15, what="re-added")
    assert [x["certifications"][0]["body"]["product"] for x in b.ctl_json("search", "正しい製品")] == ["正しい製品"]
    text = b.ctl("certification", "history", "文京-2026-900")
    assert re.search(r"第3版 .*再登録", text) and "正しい製品" in text, text


def test_status_changes_carry_reason_and_date(env):
    a = env.found()
    assert cert(a, "文京-2026-500")[0] == 0
    rc, out, err = a.run("certification", "suspend", "文京-2026-500", "--reason", "事業者からの申出", "--date",
                         "2026-06-01", check=False)
    assert rc == 0 and err == "", err
    body = a.ctl_json("certification", "show", "文京-2026-500")[0]["body"]
    assert body["status"] == "停止" and body["status_reason"] == "事業者からの申出", body
    assert body["status_date"] == "2026-06-01", body
    text = a.ctl("certification", "show", "文京-2026-500")
    assert re.search(r"状態変更日:\s+2026-06-01", text) and re.search(r"状態変更理由:\s+事業者からの申出", text), text
    assert "令和8年6月1日" in a.ctl("certification", "show", "文京-2026-500", "--era")
    a.ctl("certification", "revoke", "文京-2026-500", "--reason", "不正の発覚", "--date", "2026年7月1日")
    body = a.ctl_json("certification", "show", "文京-2026-500")[0]["body"]
    assert (body["status"], body["status_date"], body["status_reason"]) == ("取消", "2026-07-01", "不正の発覚")
    # a date before 認定日, or not a date, is refused
    rc, _, err = a.run("certification", "suspend", "文京-2026-500", "--date", "2026-03-01", check=False)
    assert rc == 3 and "状態変更日" in err, err
    rc, _, err = a.run("certification", "suspend", "文京-2026-500", "--date", "いつか", check=False)
    assert rc == 3 and "状態変更日" in err, err
    # reinstate without a reason: the old reason does not linger; the date defaults to today
    a.ctl("certification", "reinstate", "文京-2026-500")
    body = a.ctl_json("certification", "show", "文京-2026-500")[0]["body"]
    assert body["status"] == "認定中" and "status_reason" not in body, body
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", body["status_date"]), body
    # history: each version under its own status, with its date and reason
    text = a.ctl("certification", "history", "文京-2026-500")
    assert re.search(r"第1版 .*状態: 認定中\n", text), text
    assert re.search(r"第2版 .*状態: 停止（2026-06-01 から。理由: 事業者からの申出）", text), text
    assert re.search(r"第3版 .*状態: 取消（2026-07-01 から。理由: 不正の発覚）", text), text
    assert re.search(r"第4版 .*状態: 認定中（\d{4}-\d{2}-\d{2} から）", text), text
    # an export carries them too
    rows = list(csv.reader(io.StringIO(a.ctl("export", "--format", "csv").lstrip("\ufeff"))))
    assert "状態変更日" in rows[0] and "状態変更理由" in rows[0], rows[0]


def test_history_numbers_versions_and_shows_changes(env):
    a = env.found()
    for i in range(5):                 # this member's seq runs ahead of the record's versions
        assert cert(a, f"文京-2026-6{i:02d}", product=f"別の製品{i}")[0] == 0
    assert cert(a, "文京-2026-700", 概要="初めの概要")[0] == 0
    a.ctl("certification", "update", "文京-2026-700", "概要=直した概要", "分野=防災、行政DX")
    a.ctl("certification", "suspend", "文京-2026-700", "--reason", "確認中", "--date", "2026-08-01")
    text = a.ctl("certification", "history", "文京-2026-700")
    assert "全3版" in text, text
    versions = re.findall(r"^第(\d+)版", text, re.M)
    assert versions == ["1", "2", "3"], text
    v1, v2, v3 = re.split(r"^第\d+版", text, flags=re.M)[1:]
    assert "状態: 認定中" in v1 and "初めの概要" in v1 and "事業者名" in v1, v1
    assert "状態: 認定中" in v2 and "概要: 初めの概要 → 直した概要" in v2, v2
    assert "分野: 防災 → 防災、行政DX" in v2 and "事業者名" not in v2, v2
    assert "状態: 停止" in v3 and "状態: 認定中 → 停止" in v3, v3
    assert "状態変更日: （なし） → 2026-08-01" in v3 and "状態変更理由: （なし） → 確認中" in v3, v3
    assert "概要" not in v3, v3
    # show: the current version's number, not the member's seq
    assert "第3版" in a.ctl("certification", "show", "文京-2026-700")
    assert "第1版" in a.ctl("certification", "show", "文京-2026-600")
    # adoptions too
    assert adopt(a, "R8-700", f"{a.code}/文京-2026-600")[0] == 0
    a.ctl("adoption", "update", "R8-700", "評価=4")
    text = a.ctl("adoption", "history", "R8-700")
    assert re.findall(r"^第(\d+)版", text, re.M) == ["1", "2"] and "評価: （なし） → 4" in text, text


def test_adoption_contact(env):
    a = env.found()
    assert cert(a, "文京-2026-800")[0] == 0
    rc, _, err = adopt(a, "R8-800", f"{a.code}/文京-2026-800", 問合せ先="危機管理課 防災係 03-0000-0801")
    assert rc == 0, err
    body = a.ctl_json("adoption", "show", "R8-800")[0]["body"]
    assert body["contact"] == "危機管理課 防災係 03-0000-0801", body
    assert re.search(r"問合せ先:\s+危機管理課 防災係 03-0000-0801", a.ctl("adoption", "show", "R8-800"))
    rc, _, err = adopt(a, "R8-801", f"{a.code}/文京-2026-800", contact="課" * 100)
    assert rc == 3 and "問合せ先" in err, err
    rows = list(csv.reader(io.StringIO(a.ctl("export", "--format", "csv", "--kind", "adoption").lstrip("\ufeff"))))
    col = rows[0].index("問合せ先")
    assert rows[1][col] == "危機管理課 防災係 03-0000-0801", rows
    fields = a.ctl_json("fields", "adoption")
    assert "contact" in json.dumps(fields, ensure_ascii=False), fields


def test_staff_verbs_speak_japanese(env):
    for verb, words in (("certification", ["認定を登録します", "withdraw", "--reason", "--strict", "--allow-unknown"]),
                        ("adoption", ["導入実績を登録します", "withdraw", "問合せ先"])):
        for args in ([verb, "--help"], ["help", verb], [verb, "add", "--help"]):
            rc, out, err = env.node(init=False).run(*args, data=False)
            assert rc == 0 and out.startswith(f"使い方: catalogctl {verb} add "), (args, out, err)
            assert all(w in out for w in words), (args, out)
        rc, _, err = env.node(init=False).run(verb, "frobnicate", data=False, check=False)
        assert rc == 2 and "サブコマンド" in err and "使い方:" in err, err
    # administrator verbs keep English
    rc, out, _ = env.node(init=False).run("member", "--help", data=False)
    assert out.startswith("usage: catalogctl member"), out
    a = env.found()
    rc, _, err = a.run("certification", "show", "文京-なし", check=False)
    assert rc == 1 and "見つかりません" in err, err
    rc, _, err = a.run("certification", "update", "文京-なし", "概要=x", check=False)
    assert rc == 3 and "この団体には認定 文京-なし がありません" in err, err
    assert cert(a, "文京-2026-950")[0] == 0
    rc, _, err = cert(a, "文京-2026-950")
    assert rc == 3 and "既に登録されています" in err, err
    rc, _, err = a.run("adoption", "add", "R8-950", "年度", check=False)
    assert rc == 2 and "使い方: catalogctl adoption add" in err, err
    rc, out, _ = a.run("certification", "update", "文京-2026-950", "概要=同じ")
    assert out.strip() == "認定 文京-2026-950 を更新しました", out
    rc, out, _ = a.run("certification", "update", "文京-2026-950", "概要=同じ")
    assert out.strip() == "認定 文京-2026-950 は変更ありません", out


def test_refs_status_and_import_work_together(env):
    """What the three parts of issue 10 built, used together: a cited
    certification named by its member in history's diffs, version numbers
    in typed JSON, a suspension's date and reason next to the computed
    status, 和暦 --valid-on read by catalogd, withdrawn adoptions gone from
    the filtered list."""
    id_re = re.compile(r"[A-Z2-7]{4}(-[A-Z2-7]{4}){12}")
    a = env.found()
    assert cert(a, "文京-2026-801", product="ひなんじょあんない")[0] == 0
    assert cert(a, "文京－２０２６－８０２", product="避難所案内二")[0] == 0   # stored as 文京-2026-802
    assert adopt(a, "R8-801", f"{a.code}/文京-2026-801", 問合せ先="危機管理課 03-0000-0801")[0] == 0
    a.ctl("adoption", "update", "R8-801", f"認定={a.code}/文京－２０２６－８０２")

    # history: the changed reference by name, never by id
    text = a.ctl("adoption", "history", "R8-801")
    assert f"認定: {a.code} {a.muni} 文京-2026-801 → {a.code} {a.muni} 文京-2026-802" in text, text
    assert not id_re.search(text), text
    # JSON: typed, with the record's own version numbers
    hist = a.ctl_json("adoption", "history", "R8-801")
    assert [h["version"] for h in hist] == [1, 2], hist
    assert hist[1]["body"]["certification"] == {"member_id": a.member_id(), "code": a.code, "name": a.muni, "status": "member",
                                                "key": "文京-2026-802"}, hist
    assert hist[0]["body"]["fiscal_year"] == 2026 and hist[0]["author_code"] == a.code, hist
    shown = a.ctl_json("adoption", "show", "R8-801")
    assert len(shown) == 1 and shown[0]["version"] == 2, shown

    # a suspension with its date and reason: computed status everywhere, the
    # stored fields next to it; --valid-on in 和暦 is read by catalogd itself
    a.ctl("certification", "suspend", "文京-2026-801", "--reason", "調査中", "--date", "令和8年6月1日")
    c = a.ctl_json("certification", "show", "文京-2026-801")[0]
    assert c["effective_status"] == "停止" and c["body"]["status_date"] == "2026-06-01", c
    assert c["body"]["status_reason"] == "調査中" and c["version"] == 2, c
    # the suspension applies from its date on: in force the day before, not on it
    res = a.ctl_json("search", "--valid-on", "R8.5.31")
    assert sorted(x["key"] for p in res for x in p["certifications"]) == ["文京-2026-801", "文京-2026-802"], res
    res = a.ctl_json("search", "--valid-on", "R8.6.1")
    assert sorted(x["key"] for p in res for x in p["certifications"]) == ["文京-2026-802"], res
    # hiragana finds the katakana spelling and the other way round
    res = a.ctl_json("search", "ヒナンジョ")
    assert [x["key"] for p in res for x in p["certifications"]] == ["文京-2026-801"], res

    # adoption list filters, and a withdrawn adoption leaves them
    assert adopt(a, "R8-802", f"{a.code}/文京-2026-802", 年度="令和8年度", 原課="総務課")[0] == 0
    listed = a.ctl("adoption", "list", "--fy", "R8", "--department", "総務")
    assert "R8-802" in listed and "R8-801" not in listed and f"{a.code} {a.muni}" in listed, listed
    a.ctl("adoption", "withdraw", "R8-802", "--reason", "重複して登録")
    assert "R8-802" not in a.ctl("adoption", "list", "--fy", "R8")
    hist = a.ctl_json("adoption", "history", "R8-802")
    assert hist[-1]["tombstone"] and hist[-1]["version"] == 2 and hist[-1]["body"]["reason"] == "重複して登録", hist
    # show still answers for it: the withdrawal, with its reason
    shown = a.ctl_json("adoption", "show", "R8-802")
    assert shown[0]["tombstone"] and shown[0]["version"] == 2 and "effective_status" not in shown[0], shown
    assert "取り下げの理由:   重複して登録" in a.ctl("adoption", "show", "R8-802")
    rc, out, err = a.run("--json", "adoption", "show", "R8-899", check=False)
    assert rc == 1 and out == "" and "見つかりません" in err, (rc, out, err)


def test_cput_reads_its_request_whatever_the_order(env):
    """cput finds allow_unknown and strict before or after the items, and an
    item's fields wherever they are in it (catalogctl packs them last, and
    the daemon reads them once there): the same results either way."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                    "bench"))
    from ctlclient import Ctl
    a = env.found()
    c = Ctl(os.path.join(a.dir, "control.sock"))

    def put(req):
        c.send(dict({"cmd": "cput"}, **req))
        return c.recv()

    ref = f"{a.code}/文京-2026-999"   # held nowhere
    fields = [["認定", ref], ["年度", "2026"], ["原課", "危機管理課"], ["契約方法", "4号随契"]]

    def item(key, fields_first=False):
        if fields_first:
            return {"fields": fields, "kind": "adoption", "key": key, "mode": "add"}
        return {"kind": "adoption", "key": key, "mode": "add", "fields": fields}

    # refused without allow_unknown, wherever the fields are
    for first in (False, True):
        r = put({"items": [item("R8-100", first)]})
        assert not r["ok"] and "まだありません" in r["error"], r
    # allow_unknown after the items counts as before them; two items with
    # their fields last are read one after the other
    r = put({"items": [item("R8-101"), item("R8-102", True)], "allow_unknown": 1})
    assert r["ok"], r
    assert [x[:2] for x in r["results"]] == [["R8-101", "created"], ["R8-102", "created"]], r
    r = put({"allow_unknown": 1, "items": [item("R8-103")]})
    assert r["ok"] and r["results"][0][:2] == ["R8-103", "created"], r
    # allow_unknown 0 after the items is no allow_unknown
    r = put({"items": [item("R8-104")], "allow_unknown": 0, "strict": 0})
    assert not r["ok"] and "まだありません" in r["error"], r
    # malformed fields last: the same refusal as when they came first
    for first in (False, True):
        bad = {"kind": "adoption", "key": "R8-105", "mode": "add"}
        if first:
            bad = dict({"fields": [["認定"]]}, **bad)
        else:
            bad["fields"] = [["認定"]]
        r = put({"items": [bad], "allow_unknown": 1})
        assert not r["ok"] and r["error"] == "malformed fields", r
    # fields that are not a list, last: no fields given, as before
    r = put({"items": [{"kind": "adoption", "key": "R8-106", "mode": "add", "fields": 7}], "allow_unknown": 1})
    assert not r["ok"] and "必須です" in r["error"], r
    c.close()
