#!/usr/bin/env python3
"""Write the CSV fixtures for the import tests into the directory argv[1].

    python3 tests/data/gen_fixtures.py DIR

Files (all with CRLF row ends, as Excel writes them; a line break inside a
quoted cell is a bare LF, as Excel writes Alt+Enter):

  certs_utf8.csv       header + 12 certifications, UTF-8 without BOM
  certs_utf8_bom.csv   the same text, UTF-8 with BOM ("CSV UTF-8" in Excel)
  certs_cp932.csv      the same text, CP932 (Excel's plain "CSV" on Japanese
                       Windows), encoded with Python's "cp932" codec
  bad_rows.csv         UTF-8, header + 3 good rows + 3 bad rows
  excel_sheet_cp932.csv  CP932, a sheet as an office keeps it in Excel (below)

The 12 certifications (data lines; line 1 is the header):
  - every company is FICTIONAL; addresses, phone numbers (03-0000-00xx) and
    URLs (https://example.jp/...) are made up too;
  - every 法人番号 has a valid check digit (computed below; the 12-digit
    bodies start with 9999 to stay clear of real registrations);
  - 認定日 in 2025..2026; 有効期限 an ISO date after it, except two rows
    (文京-2026-004, 文京-2026-009) that give the rule "fy-end+2";
  - 文京-2026-001's 概要 holds an ASCII comma and a line break, so it is
    quoted and spans two physical lines: rows after it start one line later
    than their index suggests (that row is lines 2-3; the 12th row is line 14);
  - 文京-2026-002's product is "ＡＩ議事録アシスタント" (full-width ＡＩ) and
    文京-2026-003's is "見守りｶﾒﾗ クラウド" (half-width katakana ｶﾒﾗ), for the
    search tests' width folding;
  - some 参考価格 hold commas ("月額50,000円"), so they are quoted too;
  - 分野 from the catalog's list, two of them joined by "、" in some rows.

bad_rows.csv, counting the header as line 1 (each row is one physical line):
  line 1  header (same as above)
  line 2  good   文京-2026-101
  line 3  BAD    文京-2026-102: 法人番号 7999900000102 has a wrong check
                 digit (the right one is 6: 6999900000102; 7 is given)
  line 4  good   文京-2026-103
  line 5  BAD    文京-2026-104: 有効期限 2025-03-31 is before 認定日 2025-09-01
  line 6  good   文京-2026-105
  line 7  BAD    文京-2026-106: 分野 "宇宙開発" is not one of the catalog's areas

excel_sheet_cp932.csv, as Excel saves a sheet with a title above the table
(every row as wide as the widest, so empty cells trail):
  line 1  a title in the first cell: "令和8年度 トライアル発注認定一覧"
  line 2  blank (only commas)
  line 3  header: 認定番号 事業者名 法人番号 製品･サービス名 (half-width ･) 分野
          認定日 有効期限 備考 (not a catalog column) ＵＲＬ (full width), then
          three empty header cells
  lines 4-8  five certifications (EXCEL_SHEET below): 和暦 dates (令和8年4月1日,
          R8.4.1, 令和元年5月1日, 平成31年4月30日, full-width digits, R10/3/31),
          one key written full width (文京－２０２６－２０１), 備考 in some rows.
EXCEL_SHEET_EXPECTED gives each row's key, 認定日 and 有効期限 as stored.

Deterministic: no randomness, no current date.  Prints nothing on success.
Python 3 standard library only.
"""
import csv
import io
import os
import sys

HEADER = [
    "認定番号", "事業者名", "法人番号", "所在地", "設立日", "製品・サービス名", "概要",
    "分野", "参考価格", "認定制度名", "根拠法令", "認定日", "有効期限", "状態", "URL",
    "問合せ先", "公開区分",
]

AREAS = [
    "子育て", "教育", "医療・福祉", "防災", "インフラ・施設", "農林水産", "環境",
    "観光・文化", "暮らし・手続き", "産業・ビジネス", "行政DX", "その他",
]

PROGRAMME = "文京区トライアル発注認定制度"
LEGAL = "地方自治法施行令第167条の2第1項第4号"
STATUS = "認定中"


def check_digit(body12):
    """法人番号 check digit: 9 - (sum of digit*w) mod 9, w = 1,2,1,2,...
    from the rightmost digit of the 12-digit body (rightmost weight 1)."""
    assert len(body12) == 12 and body12.isdigit(), body12
    total = 0
    for i, ch in enumerate(reversed(body12)):
        total += int(ch) * (1 if i % 2 == 0 else 2)
    return 9 - total % 9


def corp_number(body12):
    return str(check_digit(body12)) + body12


def corp_valid(num):
    return len(num) == 13 and num.isdigit() and int(num[0]) == check_digit(num[1:])


# (key, company, body, address, established, product, summary, areas, price,
#  certified_on, valid_until, url, contact, visibility)
CERTS = [
    ("文京-2026-001", "株式会社みらい防災テック", "999900000011",
     "東京都文京区本郷九丁目1番1号", "2018-04-02", "避難所混雑マップ",
     "避難所の混雑状況を地図で公開し、住民が空いている避難所を選べるようにする。\n"
     "多言語表示, 音声読み上げに対応。",
     "防災、暮らし・手続き", "月額50,000円（税別）", "2025-06-10", "2028-03-31",
     "https://example.jp/mirai-bosai", "産業振興課 03-0000-0001", "公開"),
    ("文京-2026-002", "株式会社ことのはラボ", "999900000022",
     "東京都文京区小石川八丁目2番3号", "2020-10-01", "ＡＩ議事録アシスタント",
     "会議の音声から議事録の下書きを作成する。庁内ネットワーク内で動作。",
     "行政DX", "年額360,000円", "2025-07-01", "2027-06-30",
     "https://example.jp/kotonoha", "産業振興課 03-0000-0002", "公開"),
    ("文京-2026-003", "合同会社あおぞら見守りシステム", "999900000033",
     "東京都文京区千駄木七丁目4番5号", "2021-05-20", "見守りｶﾒﾗ クラウド",
     "通学路の見守りカメラ映像をクラウドで管理し、保護者へ通知する。",
     "子育て、教育", "1台あたり月額3,000円", "2025-08-15", "2028-08-14",
     "https://example.jp/aozora-mimamori", "産業振興課 03-0000-0003", "連合内"),
    ("文京-2026-004", "株式会社ひだまり介護ソリューションズ", "999900000044",
     "東京都文京区湯島六丁目8番9号", "2015-01-15", "介護記録タブレット",
     "訪問介護の記録をタブレットで入力し、事業所間で共有する。",
     "医療・福祉", "初期費用200,000円", "2025-09-01", "fy-end+2",
     "https://example.jp/hidamari", "高齢福祉課 03-0000-0004", "公開"),
    ("文京-2026-005", "株式会社つなぐ橋梁点検", "999900000055",
     "東京都文京区後楽三丁目1番2号", "2012-07-07", "ドローン橋梁点検サービス",
     "小規模橋梁をドローンで撮影し、損傷箇所を報告書にまとめる。",
     "インフラ・施設", "1橋あたり150,000円", "2025-10-20", "2027-03-31",
     "https://example.jp/tsunagu", "土木管理課 03-0000-0005", "公開"),
    ("文京-2026-006", "有限会社みどり農園ネット", "999900000066",
     "東京都文京区大塚九丁目3番3号", "2009-03-03", "鳥獣被害通報アプリ",
     "農地の鳥獣被害を住民がスマートフォンで通報し、地図に集約する。",
     "農林水産、環境", "年額120,000円", "2025-11-11", "2028-11-10",
     "https://example.jp/midori-farm", "産業振興課 03-0000-0006", "連合内"),
    ("文京-2026-007", "株式会社そらいろ観光デザイン", "999900000077",
     "東京都文京区春日五丁目6番7号", "2019-09-09", "まち歩きデジタルスタンプ",
     "観光スポットを巡るデジタルスタンプラリーを運営する。",
     "観光・文化", "1企画あたり800,000円", "2025-12-01", "2027-11-30",
     "https://example.jp/sorairo", "観光課 03-0000-0007", "公開"),
    ("文京-2026-008", "株式会社あしたの学び舎", "999900000088",
     "東京都文京区白山八丁目2番1号", "2016-04-01", "オンライン補習教材",
     "児童の理解度に合わせて問題を出し分ける補習教材。",
     "教育", "児童1人あたり年額1,200円", "2026-01-15", "2029-01-14",
     "https://example.jp/ashita-manabi", "教育指導課 03-0000-0008", "公開"),
    ("文京-2026-009", "株式会社くらしの窓口テクノロジー", "999900000099",
     "東京都文京区目白台四丁目5番5号", "2022-02-22", "手続きナビ",
     "転入・転出などの手続きを質問に答えるだけで案内する。",
     "暮らし・手続き、行政DX", "月額80,000円", "2026-02-01", "fy-end+2",
     "https://example.jp/kurashi-madoguchi", "区民課 03-0000-0009", "連合内"),
    ("文京-2026-010", "株式会社エコめぐり", "999900000100",
     "東京都文京区向丘九丁目9番9号", "2017-06-06", "ごみ収集ルート最適化",
     "収集車の走行データからごみ収集ルートを最適化する。",
     "環境", "年額600,000円", "2026-03-10", "2028-03-31",
     "https://example.jp/eco-meguri", "清掃事務所 03-0000-0010", "公開"),
    ("文京-2026-011", "株式会社まちかど商店会ＤＸ", "999900000110",
     "東京都文京区根津三丁目3番3号", "2020-12-12", "商店街ポイントアプリ",
     "商店街共通のポイントをスマートフォンで発行・利用できる。",
     "産業・ビジネス", "店舗あたり月額2,000円", "2026-04-01", "2029-03-31",
     "https://example.jp/machikado", "産業振興課 03-0000-0011", "公開"),
    ("文京-2026-012", "株式会社さくら水道メンテナンス", "999900000121",
     "東京都文京区弥生九丁目1番2号", "2011-11-01", "漏水検知センサー",
     "公共施設の配管に取り付けたセンサーで漏水を早期に検知する。",
     "インフラ・施設、その他", "1施設あたり250,000円", "2026-05-20", "2028-05-19",
     "https://example.jp/sakura-suido", "施設管理課 03-0000-0012", "公開"),
]


def cert_row(c, corp=None):
    (key, company, body, address, established, product, summary, areas, price,
     certified_on, valid_until, url, contact, visibility) = c
    return [key, company, corp if corp is not None else corp_number(body), address,
            established, product, summary, areas, price, PROGRAMME, LEGAL,
            certified_on, valid_until, STATUS, url, contact, visibility]


GOOD_FOR_BAD = [
    ("文京-2026-101", "株式会社ひかり通信サービス", "999900000101",
     "東京都文京区本駒込九丁目1番1号", "2014-04-01", "防災無線文字配信",
     "防災無線の放送内容を文字でスマートフォンに配信する。",
     "防災", "年額240,000円", "2025-05-01", "2027-03-31",
     "https://example.jp/hikari", "防災課 03-0000-0101", "公開"),
    ("文京-2026-103", "株式会社こもれび保育テック", "999900000103",
     "東京都文京区関口九丁目2番2号", "2019-04-01", "保育園登降園管理",
     "保育園の登降園をICカードで記録し、保護者へ通知する。",
     "子育て", "園あたり月額15,000円", "2025-09-01", "2027-08-31",
     "https://example.jp/komorebi", "保育課 03-0000-0103", "連合内"),
    ("文京-2026-105", "株式会社しずく健康ラボ", "999900000105",
     "東京都文京区音羽九丁目3番3号", "2021-01-10", "健診結果ポータル",
     "健診結果をオンラインで確認できるポータル。",
     "医療・福祉", "年額480,000円", "2026-01-05", "2028-01-04",
     "https://example.jp/shizuku", "健康推進課 03-0000-0105", "公開"),
]


def bad_rows():
    """Header, then good/bad alternating (see the docstring for the lines)."""
    rows = [HEADER, cert_row(GOOD_FOR_BAD[0])]
    # line 3: check digit off by one
    body = "999900000102"
    right = corp_number(body)
    wrong = str(check_digit(body) % 9 + 1) + body
    assert right == "6999900000102" and wrong == "7999900000102", (right, wrong)
    assert not corp_valid(wrong)
    rows.append(cert_row(
        ("文京-2026-102", "株式会社かぜまち運輸", body,
         "東京都文京区水道九丁目4番4号", "2013-08-08", "コミュニティバス運行管理",
         "コミュニティバスの位置情報を配信する。",
         "暮らし・手続き", "月額70,000円", "2025-06-01", "2027-05-31",
         "https://example.jp/kazemachi", "交通政策課 03-0000-0102", "公開"),
        corp=wrong))
    rows.append(cert_row(GOOD_FOR_BAD[1]))
    # line 5: 有効期限 before 認定日
    rows.append(cert_row(
        ("文京-2026-104", "株式会社ともしび照明", "999900000104",
         "東京都文京区西片九丁目5番5号", "2010-10-10", "街路灯遠隔監視",
         "街路灯の故障を遠隔で検知する。",
         "インフラ・施設", "灯あたり月額300円", "2025-09-01", "2025-03-31",
         "https://example.jp/tomoshibi", "道路課 03-0000-0104", "公開")))
    rows.append(cert_row(GOOD_FOR_BAD[2]))
    # line 7: unknown 分野
    rows.append(cert_row(
        ("文京-2026-106", "株式会社ほしぞら宇宙企画", "999900000106",
         "東京都文京区小日向九丁目6番6号", "2023-03-03", "衛星写真解析",
         "衛星写真から空き家の候補を抽出する。",
         "宇宙開発", "1件あたり90,000円", "2026-02-01", "2028-01-31",
         "https://example.jp/hoshizora", "住宅課 03-0000-0106", "公開")))
    return rows


EXCEL_TITLE = "令和8年度 トライアル発注認定一覧"
EXCEL_HEADER = ["認定番号", "事業者名", "法人番号", "製品\uff65サービス名", "分野", "認定日", "有効期限",
                "備考", "\uff35\uff32\uff2c", "", "", ""]
# (key as typed, company, 法人番号 body, product, areas, 認定日, 有効期限, 備考, URL)
EXCEL_SHEET = [
    ("文京\uff0d\uff12\uff10\uff12\uff16\uff0d\uff12\uff10\uff11", "株式会社はなみずき防災",
     "999900000201", "避難所ＡＩ案内", "防災", "令和8年4月1日", "令和11年3月31日", "要確認",
     "https://example.jp/hanamizuki"),
    ("文京-2026-202", "株式会社つばき福祉テック", "999900000202", "見守りｾﾝｻｰ", "医療・福祉",
     "R8.4.1", "fy-end+2", "", ""),
    ("文京-2026-203", "合同会社やまぶき教育", "999900000203", "学習ログ分析", "教育",
     "令和元年5月1日", "R10/3/31", "継続案件", "https://example.jp/yamabuki"),
    ("文京-2026-204", "株式会社ききょう水道", "999900000204", "漏水音センサー", "インフラ・施設",
     "平成31年4月30日", "令和９年３月３１日", "", ""),
    ("文京-2026-205", "株式会社すみれ観光", "999900000205", "観光案内チャット", "観光・文化",
     "２０２６/５/１", "2028年3月31日", "", "https://example.jp/sumire"),
]
# (key as stored, 認定日, 有効期限)
EXCEL_SHEET_EXPECTED = [
    ("文京-2026-201", "2026-04-01", "2029-03-31"),   # 令和8 = 2026, 令和11 = 2029
    ("文京-2026-202", "2026-04-01", "2029-03-31"),   # fy-end+2 of FY2026
    ("文京-2026-203", "2019-05-01", "2028-03-31"),   # 令和元年 = 2019, R10 = 2028
    ("文京-2026-204", "2019-04-30", "2027-03-31"),   # 平成31 = 2019, 令和9 = 2027
    ("文京-2026-205", "2026-05-01", "2028-03-31"),
]


def excel_sheet():
    width = len(EXCEL_HEADER)
    rows = [[EXCEL_TITLE] + [""] * (width - 1), [""] * width, EXCEL_HEADER]
    for (key, company, body, product, areas, on, until, note, url) in EXCEL_SHEET:
        rows.append([key, company, corp_number(body), product, areas, on, until, note, url, "", "", ""])
    out = io.StringIO(newline="")
    w = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    for r in rows:
        assert len(r) == width, r
        w.writerow(r)
    return out.getvalue()


def to_csv(rows):
    out = io.StringIO(newline="")
    w = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    for r in rows:
        assert len(r) == len(HEADER), r
        w.writerow(r)
    return out.getvalue()


def self_check():
    keys = set()
    for c in CERTS + GOOD_FOR_BAD:
        row = cert_row(c)
        assert corp_valid(row[2]), row
        assert row[0] not in keys, row[0]
        keys.add(row[0])
        for a in row[7].split("、"):
            assert a in AREAS, (row[0], a)
        assert "2025-01-01" <= row[11] <= "2026-12-31", row
        assert row[12] == "fy-end+2" or row[12] > row[11], row
    assert len(CERTS) == 12
    assert sum(1 for c in CERTS if c[10] == "fy-end+2") == 2
    for c in EXCEL_SHEET:
        assert corp_valid(corp_number(c[2])), c
        assert c[2] not in {x[2] for x in CERTS + GOOD_FOR_BAD}, c
        for a in c[4].split("、"):
            assert a in AREAS, c
    assert len(EXCEL_SHEET) == len(EXCEL_SHEET_EXPECTED)


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: gen_fixtures.py DIR\n")
        return 2
    self_check()
    d = argv[1]
    os.makedirs(d, exist_ok=True)
    text = to_csv([HEADER] + [cert_row(c) for c in CERTS])
    outputs = {
        "certs_utf8.csv": text.encode("utf-8"),
        "certs_utf8_bom.csv": text.encode("utf-8-sig"),
        "certs_cp932.csv": text.encode("cp932"),
        "bad_rows.csv": to_csv(bad_rows()).encode("utf-8"),
        "excel_sheet_cp932.csv": excel_sheet().encode("cp932"),
    }
    for name, data in outputs.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
