#!/usr/bin/env python3
"""Generate a large certification spreadsheet of fictional companies.

    gen_catalog.py N OUT.csv [--prefix P]

Rows are ~600 bytes when signed: company, valid 法人番号, address, product,
summary, areas, dates.  Deterministic for a given N and prefix.
"""
import csv
import random
import sys

AREAS = ["子育て", "教育", "医療・福祉", "防災", "インフラ・施設", "農林水産", "環境",
         "観光・文化", "暮らし・手続き", "産業・ビジネス", "行政DX", "その他"]
WORDS = ["みらい", "あおぞら", "ひかり", "つばさ", "さくら", "ことのは", "まちづくり", "スマート",
         "クラウド", "データ", "ロボ", "センサー", "ＡＩ", "ｶﾒﾗ", "モビリティ", "ヘルス"]
THINGS = ["議事録作成", "避難所混雑表示", "見守りセンサー", "窓口予約", "道路点検", "給食管理",
          "保育施設検索", "ごみ分別案内", "観光案内", "農地管理", "電子申請", "防災通知"]


def corp_number(body12):
    s = sum(int(d) * (1 if i % 2 == 0 else 2) for i, d in enumerate(reversed(body12)))
    return str(9 - s % 9) + body12


def main():
    n = int(sys.argv[1])
    out = sys.argv[2]
    prefix = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--prefix" else "B"
    rnd = random.Random(n)
    with open(out, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(["認定番号", "事業者名", "法人番号", "所在地", "設立日", "製品・サービス名", "概要", "分野",
                    "参考価格", "認定日", "有効期限", "状態", "URL", "問合せ先", "公開区分"])
        for i in range(n):
            a, b = rnd.choice(WORDS), rnd.choice(WORDS)
            thing = rnd.choice(THINGS)
            areas = rnd.sample(AREAS, rnd.choice([1, 1, 2]))
            y = rnd.choice([2025, 2026])
            m = rnd.randint(1, 12)
            d = rnd.randint(1, 28)
            w.writerow([f"{prefix}-{i:06d}", f"株式会社{a}{b}{i % 997}", corp_number(f"{100000000000 + i * 7919:012d}"[-12:]),
                        f"東京都文京区本郷{i % 9 + 1}丁目{i % 30 + 1}番", f"{2010 + i % 14}-04-01",
                        f"{a}{thing}{i % 113}", f"{thing}を{a}の技術で効率化する。職員の作業時間を削減し、住民サービスの質を高める。試行{i}。",
                        "、".join(areas), f"月額{(i % 50 + 1) * 10000:,}円〜", f"{y}-{m:02d}-{d:02d}", "fy-end+2", "認定中",
                        f"https://example.jp/products/{i}", "産業振興課 03-0000-0000", "公開" if i % 3 else "連合内"])


if __name__ == "__main__":
    main()
